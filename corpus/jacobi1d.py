"""Time-stepped 1-D Jacobi: a 3-point average into a second buffer and back, every step."""

import numpy as np

SIZES = (64, 4096, 100_000, 2_000_000)  # n points
STEPS = 20


def jacobi1d(u: np.ndarray, steps: int) -> np.ndarray:
    n = u.shape[0]
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            b[i] = 0.33333 * (a[i - 1] + a[i] + a[i + 1])
        for i in range(1, n - 1):
            a[i] = 0.33333 * (b[i - 1] + b[i] + b[i + 1])
    return a


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((218, size))
    return rng.random(size), STEPS


def reference(u: np.ndarray, steps: int) -> np.ndarray:
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        b[1:-1] = 0.33333 * (a[:-2] + a[1:-1] + a[2:])
        a[1:-1] = 0.33333 * (b[:-2] + b[1:-1] + b[2:])
    return a
