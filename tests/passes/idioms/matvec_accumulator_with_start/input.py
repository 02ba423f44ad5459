import numpy as np


def affine(A: np.ndarray, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.empty(n)
    for i in range(n):
        s = b[i]
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return y
