import numpy as np


def last_row_sum(A: np.ndarray, x: np.ndarray) -> float:
    n, m = A.shape
    y = np.empty(n)
    s = 0.0
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return s
