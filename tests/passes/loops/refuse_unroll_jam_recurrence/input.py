import numpy as np


def decayed_total(X: np.ndarray) -> float:
    n, m = X.shape
    s = 0.0
    for i in range(n):
        for j in range(m):
            s = s * 0.5 + X[i, j]
    return s
