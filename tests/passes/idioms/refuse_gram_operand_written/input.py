import numpy as np


def gram_in_place(X: np.ndarray) -> np.ndarray:
    """Writes X while later rows still read it: no product computed up front would match."""
    n, k = X.shape
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for p in range(k):
                s += X[i, p] * X[j, p]
            G[i, j] = s
        X[i, 0] = 0.5 * X[i, 0]
    return G
