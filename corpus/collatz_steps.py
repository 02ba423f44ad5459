"""Collatz stopping times for the starts 1..n: a data-dependent while loop per element (//, %)."""

import numpy as np
import numpy.typing as npt

SIZES = (300, 10_000, 300_000, 4_000_000)  # the largest start


def collatz_steps(n: int) -> npt.NDArray[np.int64]:
    steps = np.zeros(n, dtype=np.int64)
    for start in range(1, n + 1):
        x = start
        count = 0
        while x != 1:
            if x % 2 == 0:
                x = x // 2
            else:
                x = 3 * x + 1
            count += 1
        steps[start - 1] = count
    return steps


def inputs(size: int) -> tuple:
    return (size,)


def reference(n: int) -> npt.NDArray[np.int64]:
    x = np.arange(1, n + 1, dtype=np.int64)
    steps = np.zeros(n, dtype=np.int64)
    active = x != 1
    while active.any():
        xa = x[active]
        x[active] = np.where(xa % 2 == 0, xa // 2, 3 * xa + 1)
        steps[active] += 1
        active = x != 1
    return steps
