"""Sturm sequence counts: how many eigenvalues of a symmetric tridiagonal matrix lie below each shift."""

import numpy as np

SIZES = (200, 3_000, 100_000, 1_000_000)  # matrix order; 32 shifts
SHIFTS = 32
TINY = 1e-300


def sturm_count(d: np.ndarray, e: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    n = len(d)
    m = len(shifts)
    counts = np.zeros(m, dtype=np.int64)
    for k in range(m):
        x = shifts[k]
        q = d[0] - x
        c = 0
        if q < 0.0:
            c += 1
        for i in range(1, n):
            if q == 0.0:
                q = TINY
            q = d[i] - x - e[i - 1] * e[i - 1] / q
            if q < 0.0:
                c += 1
        counts[k] = c
    return counts


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((131, size))
    return rng.standard_normal(size), rng.standard_normal(size - 1), np.linspace(-3.0, 3.0, SHIFTS)


def reference(d: np.ndarray, e: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    # The recurrence runs along the matrix; the expert vectorizes across the shifts instead.
    q = d[0] - shifts
    counts = (q < 0.0).astype(np.int64)
    e2 = e * e
    for i in range(1, len(d)):
        q = np.where(q == 0.0, TINY, q)
        q = d[i] - shifts - e2[i - 1] / q
        counts += q < 0.0
    return counts
