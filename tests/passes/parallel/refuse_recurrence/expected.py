import numpy as np


def prefix(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.empty(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = out[i - 1] + x[i]
    return out
