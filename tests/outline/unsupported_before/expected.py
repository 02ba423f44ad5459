import numpy as np


def _normalize_rows_region1(A: np.ndarray):
    """Lines 8-12 of `normalize_rows`, compiled on their own by optc."""
    n, m = A.shape
    norms = np.zeros(n)
    for j in range(m):
        for i in range(n):
            norms[i] += A[i, j] * A[i, j]
    return norms


def normalize_rows(A: np.ndarray):
    """A raise before the loop keeps njit from compiling any of it."""
    if A.ndim != 2:
        raise ValueError(f"expected a matrix, got {A.ndim} dimensions")
    norms = _normalize_rows_region1(A)
    return norms
