import numpy as np


def lower_rank_k(X: np.ndarray, alpha: float) -> np.ndarray:
    """L[i, j] = alpha * X[i, :] . X[j, :] for j <= i: a rank-k update of the lower triangle."""
    rows, depth = X.shape
    L = np.zeros((rows, rows))
    for i in range(rows):
        for j in range(i + 1):
            acc = 0.0
            for q in range(depth):
                acc += X[j, q] * X[i, q]
            L[i, j] = alpha * acc
    return L
