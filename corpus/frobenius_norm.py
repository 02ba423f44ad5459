"""Frobenius norm of a matrix: square root of the sum of its squared entries."""

import math

import numpy as np

SIZES = (64, 512, 2048, 6000)  # n for an n×n matrix


def frobenius_norm(A: np.ndarray) -> float:
    n, m = A.shape
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += A[i, j] ** 2
    return math.sqrt(s)


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((126, size))
    return (rng.standard_normal((size, size)),)


def reference(A: np.ndarray) -> float:
    return float(np.linalg.norm(A))
