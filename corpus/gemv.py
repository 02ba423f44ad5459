"""Dense matrix-vector product y = A @ x, one dot product per row (walks A along its rows)."""

import numpy as np

SIZES = (64, 512, 2048, 4096)  # n for an n×n matrix


def gemv(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((113, size))
    return rng.standard_normal((size, size)), rng.standard_normal(size)


def reference(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    return A @ x
