import numpy as np


def total(A: np.ndarray) -> float:
    n, m = A.shape
    s = 0.0
    s += A.sum()
    return s
