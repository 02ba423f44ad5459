import numpy as np


def vecmat(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y = x @ A, one row of A at a time."""
    n, m = A.shape
    y = np.zeros(m)
    for i in range(n):
        for j in range(m):
            y[j] += A[i, j] * x[i]
    return y
