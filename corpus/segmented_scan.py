"""Segmented inclusive prefix sum: the running sum restarts wherever flags[i] is 1."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)


def segmented_scan(x: np.ndarray, flags: npt.NDArray[np.int64]) -> np.ndarray:
    n = len(x)
    out = np.empty(n)
    s = 0.0
    for i in range(n):
        if flags[i] == 1:
            s = x[i]
        else:
            s += x[i]
        out[i] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((180, size))
    flags = (rng.random(size) < 0.05).astype(np.int64)
    flags[0] = 1
    return rng.standard_normal(size), flags


def reference(x: np.ndarray, flags: npt.NDArray[np.int64]) -> np.ndarray:
    total = np.cumsum(x)
    start = np.maximum.accumulate(np.where(flags == 1, np.arange(len(x)), 0))
    return total - (total[start] - x[start])
