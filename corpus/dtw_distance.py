"""Dynamic time warping distance between two series: |a_i - b_j| plus the cheapest of three predecessors."""

import math

import numpy as np

SIZES = (40, 256, 1500, 5000)  # series lengths (both)


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    n = len(a)
    m = len(b)
    D = np.full((n + 1, m + 1), math.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = abs(a[i - 1] - b[j - 1])
            D[i, j] = cost + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return D[n, m]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((176, size))
    t = np.linspace(0.0, 6.0, size)
    return np.sin(t) + 0.1 * rng.standard_normal(size), np.sin(t**1.1) + 0.1 * rng.standard_normal(size)


def reference(a: np.ndarray, b: np.ndarray) -> float:
    # Cells on one anti-diagonal i + j = d are independent: sweep the diagonals, vectorized along each.
    n, m = len(a), len(b)
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        D[i, j] = np.abs(a[i - 1] - b[j - 1]) + np.minimum(
            np.minimum(D[i - 1, j], D[i, j - 1]), D[i - 1, j - 1]
        )
    return float(D[n, m])
