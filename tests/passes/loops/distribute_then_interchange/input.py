import numpy as np


def scale_columns(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> None:
    n, m = A.shape
    for j in range(m):
        for i in range(n):
            B[i, j] = A[i, j] * w[j]
        w[j] = w[j] * 0.5
