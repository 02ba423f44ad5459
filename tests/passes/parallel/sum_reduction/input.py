# sizes: n=10000000
import numpy as np


def sum_sq(x: np.ndarray) -> float:
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s
