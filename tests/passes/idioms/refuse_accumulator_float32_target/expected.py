import numpy as np


def matvec32(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.empty(n, dtype=np.float32)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return y
