import numpy as np


def roots(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    y = np.empty(n)
    for i in range(n):
        y[i] = x[i] ** 0.5
    return y
