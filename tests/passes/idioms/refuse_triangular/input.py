import numpy as np


def lower_matvec(L: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = L.shape[0]
    y = np.zeros(n)
    for i in range(n):
        for j in range(i):
            y[i] += L[i, j] * x[j]
    return y
