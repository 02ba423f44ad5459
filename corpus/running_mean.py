"""Cumulative mean by the incremental update m += (x - m) / k, as online statistics code writes it."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def running_mean(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.empty(n)
    m = 0.0
    for i in range(n):
        m += (x[i] - m) / (i + 1)
        out[i] = m
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((147, size))
    return (3.0 + rng.standard_normal(size),)


def reference(x: np.ndarray) -> np.ndarray:
    return np.cumsum(x) / np.arange(1, x.shape[0] + 1)
