import numpy as np


def smooth3(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    out = np.empty(n)
    for i in range(n):
        s = u[i]
        if i > 0:
            s += u[i - 1]
        if i < n - 1:
            s += u[i + 1]
        out[i] = s / 3.0
    return out
