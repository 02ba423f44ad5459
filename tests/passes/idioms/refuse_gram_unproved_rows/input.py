import numpy as np


def masked_gram(X: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Rows up to n, an int parameter, read only where the mask is set: no row of X is known to exist."""
    k = X.shape[1]
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            if mask[i] > 0.5:
                s = 0.0
                for p in range(k):
                    s += X[i, p] * X[j, p]
                G[i, j] = s
    return G
