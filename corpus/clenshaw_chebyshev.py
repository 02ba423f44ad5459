"""Chebyshev series sum_k c_k T_k(x) at many points by Clenshaw's backward recurrence."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # points; 16 coefficients
TERMS = 16


def clenshaw_chebyshev(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = len(x)
    m = len(c)
    out = np.empty(n)
    for i in range(n):
        t = x[i]
        b1 = 0.0
        b2 = 0.0
        for k in range(m - 1, 0, -1):
            b0 = c[k] + 2.0 * t * b1 - b2
            b2 = b1
            b1 = b0
        out[i] = c[0] + t * b1 - b2
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((189, size))
    return rng.standard_normal(TERMS) / np.arange(1, TERMS + 1), rng.uniform(-1.0, 1.0, size)


def reference(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.polynomial.chebyshev.chebval(x, c)
