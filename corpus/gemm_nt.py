"""C = A @ B.T for rectangular A (n×k) and B (m×k): every entry a dot product of two rows."""

import numpy as np

SIZES = (24, 128, 384, 1024)  # n; A is n×(n/2) and B is (2n)×(n/2)


def gemm_nt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n = len(A)
    m = len(B)
    k = A.shape[1]
    C = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc = acc + A[i, p] * B[j, p]
            C[i, j] = acc
    return C


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((116, size))
    k = max(size // 2, 1)
    return rng.standard_normal((size, k)), rng.standard_normal((2 * size, k))


def reference(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return A @ B.T
