"""Evaluate a polynomial (coefficients highest degree first, as np.polyval) at many points by Horner's rule."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # points; degree 12
DEGREE = 12


def horner(coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = len(x)
    d = len(coeffs)
    out = np.empty(n)
    for i in range(n):
        p = coeffs[0]
        for k in range(1, d):
            p = p * x[i] + coeffs[k]
        out[i] = p
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((187, size))
    return rng.standard_normal(DEGREE + 1), rng.uniform(-1.2, 1.2, size)


def reference(coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.polyval(coeffs, x)
