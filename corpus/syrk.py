"""Symmetric rank-k update, lower triangle only: C[i, j] = A[i, :] · A[j, :] for j <= i (a triangular nest)."""

import numpy as np

SIZES = (32, 160, 512, 1280)  # n; A is n×n


def syrk(A: np.ndarray) -> np.ndarray:
    n, k = A.shape
    C = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for p in range(k):
                s += A[i, p] * A[j, p]
            C[i, j] = s
    return C


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((118, size))
    return (rng.standard_normal((size, size)),)


def reference(A: np.ndarray) -> np.ndarray:
    return np.tril(A @ A.T)
