import numpy as np


def gather_dot(x: np.ndarray, idx: np.ndarray, w: np.ndarray) -> float:
    n = len(w)
    s = 0.0
    for i in range(n):
        s += w[i] * x[idx[i]]
    return s
