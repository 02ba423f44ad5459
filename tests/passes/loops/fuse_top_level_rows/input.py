import numpy as np


def scale_then_add_rows(a: np.ndarray) -> np.ndarray:
    n, m = a.shape
    b = np.zeros((n, m))
    c = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            b[i, j] = a[i, j] * 2.0
    for i in range(n):
        for j in range(m):
            c[i, j] = b[i, j] + a[i, j]
    return c
