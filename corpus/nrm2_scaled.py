"""Euclidean norm with LAPACK's running scale (classic dnrm2): no overflow for entries near 1e200."""

import math

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def nrm2_scaled(x: np.ndarray) -> float:
    n = len(x)
    scale = 0.0
    ssq = 1.0
    for i in range(n):
        if x[i] != 0.0:
            absxi = abs(x[i])
            if scale < absxi:
                ssq = 1.0 + ssq * (scale / absxi) ** 2
                scale = absxi
            else:
                ssq += (absxi / scale) ** 2
    return scale * math.sqrt(ssq)


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((127, size))
    x = rng.standard_normal(size) * 1e200  # squares overflow: a plain sum of squares gives inf
    x[rng.random(size) < 0.1] = 0.0
    return (x,)


def reference(x: np.ndarray) -> float:
    scale = float(np.max(np.abs(x)))
    if scale == 0.0:
        return 0.0
    return scale * float(np.sqrt(np.sum((x / scale) ** 2)))
