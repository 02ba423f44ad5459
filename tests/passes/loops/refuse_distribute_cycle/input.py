import numpy as np


def coupled(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    n = a.shape[0]
    for i in range(1, n):
        a[i] = c[i - 1] + b[i]
        c[i] = a[i] * 2.0
