import numpy as np


def colsum(X: np.ndarray) -> np.ndarray:
    n, m = X.shape
    out = np.zeros(m)
    for j in range(m):
        for i in range(n):
            out[j] += X[i, j]
    return out
