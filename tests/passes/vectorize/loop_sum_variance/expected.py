import numpy as np


def variance(x: np.ndarray) -> float:
    n = x.shape[0]
    mean = np.sum(x) / n
    x_sum = np.float64(0.0)
    for i in range(x.shape[0]):
        x_sum += (x[i] - mean) ** 2
    return x_sum / n
