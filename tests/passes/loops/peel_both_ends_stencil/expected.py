import numpy as np


def smooth3(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    out = np.empty(n)
    if 0 < n:
        s = u[0]
        if 0 < n - 1:
            s += u[1]
        out[0] = s / 3.0
    for i in range(1, n - 1):
        s = u[i]
        s += u[i - 1]
        s += u[i + 1]
        out[i] = s / 3.0
    if 1 < n:
        s = u[n - 1]
        s += u[n - 2]
        out[n - 1] = s / 3.0
    return out
