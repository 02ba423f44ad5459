"""Cholesky factorization A = L L^T of a symmetric positive definite matrix (the column-by-column form)."""

import math

import numpy as np

SIZES = (32, 256, 768, 1536)  # n for an n×n matrix


def cholesky(A: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    L = np.zeros((n, n))
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    return L


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((121, size))
    B = rng.standard_normal((size, size))
    return (B @ B.T / size + np.eye(size),)


def reference(A: np.ndarray) -> np.ndarray:
    return np.linalg.cholesky(A)
