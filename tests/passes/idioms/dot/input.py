import numpy as np


def dot(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    s = 0.0
    for i in range(n):
        s = s + y[i] * x[i]
    return s
