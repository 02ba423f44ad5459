"""LU factorization without pivoting (Doolittle, right-looking), L and U packed into one matrix."""

import numpy as np

SIZES = (32, 192, 640, 1536)  # n for an n×n matrix


def lu_nopivot(A: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    LU = A.copy()
    for k in range(n):
        for i in range(k + 1, n):
            LU[i, k] = LU[i, k] / LU[k, k]
            for j in range(k + 1, n):
                LU[i, j] -= LU[i, k] * LU[k, j]
    return LU


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((122, size))
    # Diagonally dominant, so elimination without pivoting is stable.
    return (rng.uniform(-1.0, 1.0, (size, size)) + size * np.eye(size),)


def reference(A: np.ndarray) -> np.ndarray:
    LU = A.copy()
    for k in range(A.shape[0] - 1):
        LU[k + 1 :, k] /= LU[k, k]
        LU[k + 1 :, k + 1 :] -= np.outer(LU[k + 1 :, k], LU[k, k + 1 :])
    return LU
