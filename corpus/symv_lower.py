"""Symmetric matrix-vector product reading only the lower triangle (BLAS dsymv, uplo='L')."""

import numpy as np

SIZES = (64, 512, 2048, 4096)  # n for an n×n matrix


def symv_lower(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    y = np.zeros(n)
    for i in range(n):
        s = A[i, i] * x[i]
        for j in range(i):
            s += A[i, j] * x[j]
            y[j] += A[i, j] * x[i]
        y[i] += s
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((128, size))
    # The strict upper triangle holds garbage the kernel must not read.
    return rng.standard_normal((size, size)), rng.standard_normal(size)


def reference(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    lower = np.tril(A)
    return lower @ x + np.tril(A, -1).T @ x
