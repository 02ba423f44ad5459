import numpy as np


def rescale(a: np.ndarray) -> None:
    n = a.shape[0]
    for i in range(n):
        a[i] = a[i] * 1.0
