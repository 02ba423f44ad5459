"""BLAS-2 chain: B = A + u1 v1^T + u2 v2^T, x = beta B^T y + z, w = alpha B x (returns B, x, w)."""

import numpy as np

SIZES = (48, 400, 1600, 4000)  # n; A is n×n


def gemver(
    A: np.ndarray,
    u1: np.ndarray,
    v1: np.ndarray,
    u2: np.ndarray,
    v2: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    alpha: float,
    beta: float,
) -> tuple:
    n = A.shape[0]
    B = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            B[i, j] = A[i, j] + u1[i] * v1[j] + u2[i] * v2[j]
    x = np.zeros(n)
    for i in range(n):
        for j in range(n):
            x[i] = x[i] + beta * B[j, i] * y[j]
    for i in range(n):
        x[i] = x[i] + z[i]
    w = np.zeros(n)
    for i in range(n):
        for j in range(n):
            w[i] = w[i] + alpha * B[i, j] * x[j]
    return B, x, w


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((213, size))
    vectors = [rng.standard_normal(size) for _ in range(6)]
    return (rng.standard_normal((size, size)), *vectors, 1.5, 1.2)


def reference(
    A: np.ndarray,
    u1: np.ndarray,
    v1: np.ndarray,
    u2: np.ndarray,
    v2: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    alpha: float,
    beta: float,
) -> tuple:
    B = A + np.outer(u1, v1) + np.outer(u2, v2)
    x = beta * (y @ B) + z
    w = alpha * (B @ x)
    return B, x, w
