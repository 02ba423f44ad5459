import numpy as np


def scaled_tmatvec(beta: float, B: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, m = B.shape
    x = np.zeros(m)
    for i in range(m):
        for j in range(n):
            x[i] = x[i] + beta * B[j, i] * y[j]
    return x
