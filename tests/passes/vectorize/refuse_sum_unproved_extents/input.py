import numpy as np


def inner(x: np.ndarray, y: np.ndarray) -> float:
    # x and y may have different lengths (or one of length 1, which broadcasts)
    return np.sum(x * y)
