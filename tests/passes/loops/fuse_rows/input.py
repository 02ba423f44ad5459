import numpy as np


def scale_shift(a: np.ndarray) -> np.ndarray:
    n, m = a.shape
    b = np.empty((n, m))
    c = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            b[i, j] = a[i, j] * 2.0
        for j in range(m):
            c[i, j] = b[i, j] + a[i, j]
    return c
