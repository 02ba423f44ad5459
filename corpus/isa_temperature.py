"""Temperature of the International Standard Atmosphere by geopotential altitude (km): a piecewise law."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)  # altitudes


def isa_temperature(h: np.ndarray) -> np.ndarray:
    n = len(h)
    T = np.empty(n)
    for i in range(n):
        z = h[i]
        if z < 11.0:
            T[i] = 288.15 - 6.5 * z
        elif z < 20.0:
            T[i] = 216.65
        elif z < 32.0:
            T[i] = 216.65 + 1.0 * (z - 20.0)
        elif z < 47.0:
            T[i] = 228.65 + 2.8 * (z - 32.0)
        elif z < 51.0:
            T[i] = 270.65
        elif z < 71.0:
            T[i] = 270.65 - 2.8 * (z - 51.0)
        else:
            T[i] = 214.65 - 2.0 * (z - 71.0)
    return T


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((192, size))
    return (rng.uniform(-0.5, 84.0, size),)


def reference(h: np.ndarray) -> np.ndarray:
    conditions = [h < 11.0, h < 20.0, h < 32.0, h < 47.0, h < 51.0, h < 71.0]
    choices = [
        288.15 - 6.5 * h,
        np.full_like(h, 216.65),
        216.65 + 1.0 * (h - 20.0),
        228.65 + 2.8 * (h - 32.0),
        np.full_like(h, 270.65),
        270.65 - 2.8 * (h - 51.0),
    ]
    return np.select(conditions, choices, default=214.65 - 2.0 * (h - 71.0))
