import numpy as np


def scale_columns(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> None:
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            B[i, j] = A[i, j] * w[j]
    for j in range(m):
        w[j] = w[j] * 0.5
