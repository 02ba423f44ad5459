"""Counts of values in [0, 1) per equal-width bin: a scatter of increments (integer results)."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)
BINS = 64


def histogram(x: np.ndarray, nbins: int) -> np.ndarray:
    counts = np.zeros(nbins, dtype=np.int64)
    for i in range(x.shape[0]):
        b = int(x[i] * nbins)
        if b >= nbins:  # x[i] * nbins can round up to nbins for x[i] just below 1
            b = nbins - 1
        counts[b] += 1
    return counts


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((107, size))
    return rng.random(size), BINS


def reference(x: np.ndarray, nbins: int) -> np.ndarray:
    bins = np.minimum((x * nbins).astype(np.int64), nbins - 1)
    return np.bincount(bins, minlength=nbins).astype(np.int64)
