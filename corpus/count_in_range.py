"""How many samples fall in [lo, hi): a counting reduction over a chained comparison."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def count_in_range(x: np.ndarray, lo: float, hi: float) -> int:
    count = 0
    for i in range(x.shape[0]):
        v = x[i]
        if lo <= v < hi:
            count += 1
    return count


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((145, size))
    return rng.standard_normal(size), -0.5, 1.25


def reference(x: np.ndarray, lo: float, hi: float) -> int:
    return int(np.count_nonzero((x >= lo) & (x < hi)))
