import numpy as np


def gram(X: np.ndarray) -> np.ndarray:
    """G = X @ X.T: the inner products of every pair of rows."""
    n, d = X.shape
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            for k in range(d):
                G[i, j] += X[i, k] * X[j, k]
    return G
