"""Transposed matrix-vector product y = A.T @ x, written as one axpy per row of A (a scatter into y)."""

import numpy as np

SIZES = (64, 512, 2048, 4096)  # n for an n×n matrix


def gemv_t(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(m)
    for i in range(n):
        xi = x[i]
        for j in range(m):
            y[j] += A[i, j] * xi
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((114, size))
    return rng.standard_normal((size, size)), rng.standard_normal(size)


def reference(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    return A.T @ x
