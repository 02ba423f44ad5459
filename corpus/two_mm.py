"""Two chained matrix products: alpha (A B) C + beta D, the temporary kept whole."""

import numpy as np

SIZES = (24, 96, 320, 800)  # n; every matrix is n×n


def two_mm(
    A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    n, k = A.shape
    m = B.shape[1]
    p = C.shape[1]
    tmp = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            for q in range(k):
                tmp[i, j] += alpha * A[i, q] * B[q, j]
    out = np.empty((n, p))
    for i in range(n):
        for j in range(p):
            s = beta * D[i, j]
            for q in range(m):
                s += tmp[i, q] * C[q, j]
            out[i, j] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((215, size))
    A, B, C, D = (rng.standard_normal((size, size)) for _ in range(4))
    return A, B, C, D, 1.5, 1.2


def reference(
    A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    return (alpha * A) @ B @ C + beta * D
