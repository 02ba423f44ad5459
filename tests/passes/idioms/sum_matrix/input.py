import numpy as np


def total(A: np.ndarray) -> float:
    n, m = A.shape
    s = 0.0
    for j in range(m):
        for i in range(n):
            s += A[i, j]
    return s
