"""Column means of a data table with missing values (NaN) skipped, walking the table row by row."""

import math

import numpy as np

SIZES = (64, 512, 2048, 8192)  # rows; n/4 columns


def nanmean(X: np.ndarray) -> np.ndarray:
    n, m = X.shape
    sums = np.zeros(m)
    counts = np.zeros(m)
    for i in range(n):
        for j in range(m):
            v = X[i, j]
            if not math.isnan(v):
                sums[j] += v
                counts[j] += 1.0
    out = np.empty(m)
    for j in range(m):
        if counts[j] > 0.0:
            out[j] = sums[j] / counts[j]
        else:
            out[j] = math.nan
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((153, size))
    X = rng.standard_normal((size, max(size // 4, 2)))
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 1] = np.nan  # one column has no data at all
    return (X,)


def reference(X: np.ndarray) -> np.ndarray:
    counts = np.sum(~np.isnan(X), axis=0)
    sums = np.nansum(X, axis=0)
    out = np.full(X.shape[1], np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out
