import numpy as np


def norm(x: np.ndarray) -> float:
    return np.sqrt(np.sum(x * x))
