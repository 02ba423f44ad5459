import numpy as np


def matvec_and_rowsum(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(n)
    r = np.zeros(n)
    for i in range(n):
        for j in range(m):
            y[i] += A[i, j] * x[j]
            r[i] += A[i, j]
    return y + r
