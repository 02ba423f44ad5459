"""Sum of the entries clipped to [lo, hi]: a reduction whose body branches."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def clipped_sum(x: np.ndarray, lo: float, hi: float) -> float:
    s = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v < lo:
            s += lo
        elif v > hi:
            s += hi
        else:
            s += v
    return s


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((104, size))
    return rng.standard_normal(size), -1.0, 1.5


def reference(x: np.ndarray, lo: float, hi: float) -> float:
    return float(np.clip(x, lo, hi).sum())
