import math

import numpy as np


def to_decibels(power):
    """Plain Python (Numba cannot call it from compiled code)."""
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def row_levels(A: np.ndarray):
    if A.ndim != 2:
        raise ValueError(f"expected a matrix, got {A.ndim} dimensions")
    n, m = A.shape
    levels = np.zeros(n)
    for i in range(n):
        power = 0.0
        for j in range(m):
            power += A[i, j] * A[i, j]
        levels[i] = to_decibels(power / max(m, 1))
    return levels
