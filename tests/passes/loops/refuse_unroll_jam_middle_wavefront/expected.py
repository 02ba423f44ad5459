import numpy as np


def wavefront(A: np.ndarray, D: np.ndarray) -> None:
    n, m = A.shape
    for i in range(1, n):
        for k in range(m):
            for j in range(1, m - 1):
                D[i, j] += D[i - 1, j + 1] * A[k, j] + D[i, j - 1]
