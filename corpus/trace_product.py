"""trace(A @ B) without forming the product: the sum of A[i, k] * B[k, i] (B read transposed)."""

import numpy as np

SIZES = (64, 512, 2048, 4096)  # n for n×n matrices


def trace_product(A: np.ndarray, B: np.ndarray) -> float:
    n, m = A.shape
    t = 0.0
    for i in range(n):
        for k in range(m):
            t += A[i, k] * B[k, i]
    return t


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((125, size))
    return rng.standard_normal((size, size)), rng.standard_normal((size, size))


def reference(A: np.ndarray, B: np.ndarray) -> float:
    return float(np.einsum("ik,ki->", A, B))
