import numpy as np


def dot(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    s = 0.0
    s += y[:n] @ x
    return s
