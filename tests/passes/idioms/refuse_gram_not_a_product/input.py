import numpy as np


def shifted_gram(X: np.ndarray) -> np.ndarray:
    """Each term adds 1.0: the sum is not an entry of a matrix product."""
    n, k = X.shape
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for p in range(k):
                s += X[i, p] * X[j, p] + 1.0
            G[i, j] = s
    return G
