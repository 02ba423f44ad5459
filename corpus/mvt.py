"""x1 += A y1 and x2 += A^T y2, accumulated into the caller's vectors (two passes over A)."""

import numpy as np

SIZES = (48, 400, 1600, 4000)  # n; A is n×n
MUTATES = ("x1", "x2")  # the documented contract: both vectors are accumulated into


def mvt(A: np.ndarray, x1: np.ndarray, x2: np.ndarray, y1: np.ndarray, y2: np.ndarray) -> None:
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            x1[i] = x1[i] + A[i, j] * y1[j]
    for i in range(n):
        for j in range(n):
            x2[i] = x2[i] + A[j, i] * y2[j]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((212, size))
    A = rng.standard_normal((size, size))
    return A, rng.standard_normal(size), rng.standard_normal(size), rng.random(size), rng.random(size)


def reference(A: np.ndarray, x1: np.ndarray, x2: np.ndarray, y1: np.ndarray, y2: np.ndarray) -> None:
    x1 += A @ y1
    x2 += y2 @ A
