import numpy as np


def backward_diff(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    out = np.empty(n)
    if 0 < n:
        out[0] = u[0]
    for i in range(1, n):
        out[i] = u[i] - u[i - 1]
    return out
