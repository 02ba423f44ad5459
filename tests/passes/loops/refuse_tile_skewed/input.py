import numpy as np


def skewed_transpose(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    for i in range(1, n):
        for j in range(n - 1):
            u[i, j] = u[i - 1, j + 1] + u[j, i]
    return u
