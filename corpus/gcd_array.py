"""Elementwise greatest common divisor by Euclid's algorithm (a while loop with %), e.g. to reduce fractions."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)


def gcd_array(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n = len(a)
    g = np.empty(n, dtype=np.int64)
    for i in range(n):
        x = abs(a[i])
        y = abs(b[i])
        while y != 0:
            r = x % y
            x = y
            y = r
        g[i] = x
    return g


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((198, size))
    common = rng.integers(1, 50, size, dtype=np.int64)
    a = common * rng.integers(-100_000, 100_000, size, dtype=np.int64)
    return a, common * rng.integers(0, 100_000, size, dtype=np.int64)


def reference(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.gcd(a, b)
