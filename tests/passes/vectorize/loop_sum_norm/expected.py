import numpy as np


def norm(x: np.ndarray) -> float:
    x_sum = np.float64(0.0)
    for i in range(x.shape[0]):
        x_sum += x[i] * x[i]
    return np.sqrt(x_sum)
