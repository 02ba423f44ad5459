"""The two products of a BiCG step in one sweep of A: s = A^T r and q = A p."""

import numpy as np

SIZES = (48, 400, 1600, 4000)  # n; A is n×n


def bicg(A: np.ndarray, r: np.ndarray, p: np.ndarray) -> tuple:
    n, m = A.shape
    s = np.zeros(m)
    q = np.zeros(n)
    for i in range(n):
        for j in range(m):
            s[j] += r[i] * A[i, j]
            q[i] += A[i, j] * p[j]
    return s, q


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((211, size))
    return rng.standard_normal((size, size)), rng.standard_normal(size), rng.standard_normal(size)


def reference(A: np.ndarray, r: np.ndarray, p: np.ndarray) -> tuple:
    return r @ A, A @ p
