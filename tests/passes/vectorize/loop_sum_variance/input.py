import numpy as np


def variance(x: np.ndarray) -> float:
    n = x.shape[0]
    mean = np.sum(x) / n
    return np.sum((x - mean) ** 2) / n
