"""A^T (A x): a matrix-vector product followed by one with the transpose, through a temporary."""

import numpy as np

SIZES = (48, 400, 1600, 4000)  # n; A is n×n


def atax(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    m, n = A.shape
    y = np.zeros(n)
    for i in range(m):
        t = 0.0
        for j in range(n):
            t += A[i, j] * x[j]
        for j in range(n):
            y[j] += A[i, j] * t
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((210, size))
    return rng.standard_normal((size, size)), rng.standard_normal(size)


def reference(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    return A.T @ (A @ x)
