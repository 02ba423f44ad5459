import numpy as np


def colsum(X: np.ndarray) -> np.ndarray:
    n, m = X.shape
    out = np.zeros(m)
    for i in range(n):
        for j in range(m):
            out[j] += X[i, j]
    return out
