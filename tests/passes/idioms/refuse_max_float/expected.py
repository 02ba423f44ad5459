import numpy as np


def largest(x: np.ndarray) -> float:
    """A NaN after the first element is skipped here (NaN > m is False); x.max() would return it."""
    n = len(x)
    m = x[0]
    for i in range(1, n):
        if x[i] > m:
            m = x[i]
    return m
