import numpy as np


def count_above(x: np.ndarray, t: float) -> int:
    x_count = np.int64(0)
    for i in range(x.shape[0]):
        x_count += x[i] > t
    above = x_count
    return above
