"""Compensated (Kahan) summation: reassociating its arithmetic would silently drop the compensation."""

import math

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def kahan_sum(x: np.ndarray) -> float:
    s = 0.0
    c = 0.0
    for i in range(x.shape[0]):
        y = x[i] - c
        t = s + y
        c = (t - s) - y
        s = t
    return s


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((152, size))
    big = 10.0 ** rng.integers(-8, 9, size)  # entries spanning 17 orders of magnitude
    return (rng.standard_normal(size) * big,)


def reference(x: np.ndarray) -> float:
    return math.fsum(x)  # the exactly rounded sum; Kahan's differs from it by a few ulps at most
