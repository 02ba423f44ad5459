"""Triangular matrix product B = alpha (I + L^T) B, L the strict lower triangle of A, in place."""

import numpy as np

SIZES = (32, 128, 400, 1000)  # n; A and B are n×n
MUTATES = ("B",)  # the documented contract: B is overwritten with the product


def trmm(A: np.ndarray, B: np.ndarray, alpha: float) -> None:
    m, n = B.shape
    for i in range(m):
        for j in range(n):
            for k in range(i + 1, m):
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((217, size))
    # The upper triangle and the diagonal of A hold garbage the kernel must not read.
    return rng.standard_normal((size, size)) / size, rng.standard_normal((size, size)), 1.5


def reference(A: np.ndarray, B: np.ndarray, alpha: float) -> None:
    # Rows below i are updated after row i, so row i reads their old values: one product of the old B.
    B[...] = alpha * (B + np.tril(A, -1).T @ B)
