import numpy as np


def ratio_total(x: np.ndarray) -> float:
    # x / x is nan where x is 0 for NumPy, but compiled scalar division would raise
    return np.sum(x / x)
