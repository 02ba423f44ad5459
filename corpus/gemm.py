"""Dense matrix product C = A @ B, the textbook i-j-k triple loop (B walked down its columns)."""

import numpy as np

SIZES = (32, 128, 384, 1024)  # n for n×n matrices: L1-resident up to larger than L3


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((101, size))
    return rng.standard_normal((size, size)), rng.standard_normal((size, size))


def reference(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return A @ B
