import numpy as np


def count_above(x: np.ndarray, t: float) -> int:
    above = np.sum(x > t)
    return above
