import numpy as np


def ratio_total(x: np.ndarray) -> float:
    return np.sum(x / x)
