import numpy as np


def lower_sum(A: np.ndarray) -> np.ndarray:
    n, m = A.shape
    out = np.zeros((n, m))
    for j in range(m):
        for i in range(j):
            out[i, j] = A[i, j] + A[j, i]
    return out
