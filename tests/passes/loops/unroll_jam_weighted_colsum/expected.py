import numpy as np


def weighted_colsum(X: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    n, m = X.shape
    for i in range(0, max(0, n - n % 4), 4):
        for j in range(m):
            out[j] += w[i] * X[i, j]
            out[j] += w[i + 1] * X[i + 1, j]
            out[j] += w[i + 2] * X[i + 2, j]
            out[j] += w[i + 3] * X[i + 3, j]
    for i in range(max(0, n - n % 4), n):
        for j in range(m):
            out[j] += w[i] * X[i, j]
