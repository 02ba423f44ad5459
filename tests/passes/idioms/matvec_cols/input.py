import numpy as np


def matvec_cols(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(n)
    for j in range(m):
        for i in range(n):
            y[i] += A[i, j] * x[j]
    return y
