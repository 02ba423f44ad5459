import numpy as np


def transpose(A: np.ndarray) -> np.ndarray:
    n, m = A.shape
    B = np.empty((m, n))
    for i in range(n):
        for j in range(m):
            B[j, i] = A[i, j]
    return B
