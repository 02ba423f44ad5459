"""BLAS ger: A += alpha * x y^T, in place (the caller's matrix is the output)."""

import numpy as np

SIZES = (64, 512, 2048, 6144)  # n for an n×n matrix
MUTATES = ("A",)  # the documented contract: A is updated in place, nothing is returned


def rank1_update(A: np.ndarray, alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    n, m = A.shape
    for i in range(n):
        ax = alpha * x[i]
        for j in range(m):
            A[i, j] += ax * y[j]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((119, size))
    return rng.standard_normal((size, size)), 0.75, rng.standard_normal(size), rng.standard_normal(size)


def reference(A: np.ndarray, alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    A += np.outer(alpha * x, y)
