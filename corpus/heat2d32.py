"""Time-stepped 2-D heat equation in float32, 5-point stencil, copy-back after each step."""

import numpy as np
import numpy.typing as npt

SIZES = (32, 256, 1024, 4096)  # n for an n×n grid
STEPS = 5
ALPHA = 0.2


def heat2d32(u: npt.NDArray[np.float32], steps: int, alpha: float) -> npt.NDArray[np.float32]:
    n, m = u.shape
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = a[i, j] + alpha * (
                    a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j]
                )
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                a[i, j] = b[i, j]
    return a


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((138, size))
    return rng.random((size, size), dtype=np.float32), STEPS, ALPHA


def reference(u: npt.NDArray[np.float32], steps: int, alpha: float) -> npt.NDArray[np.float32]:
    a = u.copy()
    for _ in range(steps):
        c = a[1:-1, 1:-1]
        a[1:-1, 1:-1] = c + alpha * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4.0 * c)
    return a
