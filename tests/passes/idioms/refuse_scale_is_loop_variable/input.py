import numpy as np


def weighted(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    # the factor i changes with the row: not a scale of the whole product
    n, m = A.shape
    y = np.zeros(n)
    for i in range(n):
        for j in range(m):
            y[i] += i * A[i, j] * x[j]
    return y
