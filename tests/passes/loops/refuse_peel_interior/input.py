import numpy as np


def mark_middle(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    out = np.empty(n)
    for i in range(n):
        if i == n // 2:
            out[i] = 0.0
        else:
            out[i] = u[i] * 2.0
    return out
