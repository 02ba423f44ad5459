import numpy as np


def matvec_into(A: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """y's length is never declared: `y += A @ x` could broadcast where the loop raises."""
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            y[i] += A[i, j] * x[j]
