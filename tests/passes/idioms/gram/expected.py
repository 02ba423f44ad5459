import numpy as np


def gram(X: np.ndarray) -> np.ndarray:
    """G = X @ X.T: the inner products of every pair of rows."""
    n, d = X.shape
    G = np.zeros((n, n))
    G += X @ X.T
    return G
