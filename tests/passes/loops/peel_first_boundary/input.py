import numpy as np


def backward_diff(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    out = np.empty(n)
    for i in range(n):
        if i == 0:
            out[i] = u[i]
        else:
            out[i] = u[i] - u[i - 1]
    return out
