"""Sum of the decimal digits of each non-negative integer: repeated % 10 and // 10 until nothing is left."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)


def digit_sum(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n = len(x)
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        v = x[i]
        s = 0
        while v > 0:
            s += v % 10
            v = v // 10
        out[i] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((199, size))
    return (rng.integers(0, 10**15, size, dtype=np.int64),)


def reference(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    v = x.copy()
    out = np.zeros(len(x), dtype=np.int64)
    while v.any():
        out += v % 10
        v //= 10
    return out
