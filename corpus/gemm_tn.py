"""C = A.T @ B: both operands walked down their columns, the inner product over the shared first axis."""

import numpy as np

SIZES = (24, 128, 384, 1024)  # n for n×n matrices


def gemm_tn(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    k, n = A.shape
    m = B.shape[1]
    C = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += A[p, i] * B[p, j]
            C[i, j] = s
    return C


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((115, size))
    return rng.standard_normal((size, size)), rng.standard_normal((size, size))


def reference(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return A.T @ B
