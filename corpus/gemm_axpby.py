"""BLAS-style C_out = alpha * A @ B + beta * C in i-k-j order (rows of B streamed, the output row reused)."""

import numpy as np

SIZES = (24, 128, 384, 1024)  # n for n×n matrices


def gemm_axpby(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> np.ndarray:
    n, k = A.shape
    m = B.shape[1]
    out = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            out[i, j] = beta * C[i, j]
        for p in range(k):
            a = alpha * A[i, p]
            for j in range(m):
                out[i, j] += a * B[p, j]
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((117, size))
    A = rng.standard_normal((size, size))
    B = rng.standard_normal((size, size))
    C = rng.standard_normal((size, size))
    return 1.5, A, B, -0.5, C


def reference(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> np.ndarray:
    return alpha * (A @ B) + beta * C
