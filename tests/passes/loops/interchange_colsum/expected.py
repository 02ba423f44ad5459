import numpy as np


def colsum(X: np.ndarray) -> np.ndarray:
    n, m = X.shape
    out = np.zeros(m)
    for i in range(0, max(0, n - n % 4), 4):
        for j in range(m):
            out[j] += X[i, j]
            out[j] += X[i + 1, j]
            out[j] += X[i + 2, j]
            out[j] += X[i + 3, j]
    for i in range(max(0, n - n % 4), n):
        for j in range(m):
            out[j] += X[i, j]
    return out
