"""Inclusive prefix sum: each entry is the sum of all entries up to it (a loop-carried dependence)."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def prefix_sum(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.empty(n)
    s = 0.0
    for i in range(n):
        s += x[i]
        out[i] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((106, size))
    return (rng.standard_normal(size),)


def reference(x: np.ndarray) -> np.ndarray:
    return np.cumsum(x)
