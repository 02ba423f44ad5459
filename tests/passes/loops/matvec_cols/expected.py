import numpy as np


def matvec_cols(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(n)
    for i in range(0, max(0, n - n % 4), 4):
        for j in range(m):
            y[i] += A[i, j] * x[j]
            y[i + 1] += A[i + 1, j] * x[j]
            y[i + 2] += A[i + 2, j] * x[j]
            y[i + 3] += A[i + 3, j] * x[j]
    for i in range(max(0, n - n % 4), n):
        for j in range(m):
            y[i] += A[i, j] * x[j]
    return y
