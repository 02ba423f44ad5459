import numpy as np


def scaled_tmatvec(beta: float, B: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, m = B.shape
    x = np.zeros(m)
    if m > 0:
        x += beta * (y[:n] @ B)
    return x
