"""Smallest and largest entry with their positions in one pass: returns (imin, vmin, imax, vmax)."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def minmax_index(x: np.ndarray) -> tuple:
    imin = 0
    imax = 0
    vmin = x[0]
    vmax = x[0]
    for i in range(1, x.shape[0]):
        v = x[i]
        if v < vmin:
            vmin = v
            imin = i
        elif v > vmax:
            vmax = v
            imax = i
    return imin, vmin, imax, vmax


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((144, size))
    return (rng.standard_normal(size),)


def reference(x: np.ndarray) -> tuple:
    imin = int(np.argmin(x))
    imax = int(np.argmax(x))
    return imin, x[imin], imax, x[imax]
