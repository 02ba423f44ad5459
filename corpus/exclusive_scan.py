"""Exclusive prefix sum of integer counts (the offsets of CSR-style buckets): out[i] = sum of x[:i]."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def exclusive_scan(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n = len(counts)
    offsets = np.empty(n, dtype=np.int64)
    running = 0
    for i in range(n):
        offsets[i] = running
        running = running + counts[i]
    return offsets


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((179, size))
    return (rng.integers(0, 1000, size, dtype=np.int64),)


def reference(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    offsets = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    return offsets
