"""Sample mean and variance (ddof=1) by the two-pass algorithm: the mean first, then squared deviations."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def variance_two_pass(x: np.ndarray) -> tuple:
    n = len(x)
    total = 0.0
    for i in range(n):
        total += x[i]
    mean = total / n
    ss = 0.0
    for i in range(n):
        d = x[i] - mean
        ss += d * d
    return mean, ss / (n - 1)


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((146, size))
    return (1e4 + rng.standard_normal(size),)  # a large offset: the one-pass formula would cancel


def reference(x: np.ndarray) -> tuple:
    return float(np.mean(x)), float(np.var(x, ddof=1))
