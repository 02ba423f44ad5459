import numpy as np


def weighted_colsum(X: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    n, m = X.shape
    for i in range(n):
        for j in range(m):
            out[j] += w[i] * X[i, j]
