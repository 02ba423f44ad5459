import numpy as np


def skewed(u: np.ndarray) -> np.ndarray:
    n, m = u.shape
    for i in range(1, n):
        for j in range(m - 1):
            u[i, j] = 0.5 * (u[i, j] + u[i - 1, j + 1])
    return u
