"""Explicit time stepping of the 1-D heat equation: `steps` Jacobi sweeps, fixed end values."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # grid points
STEPS = 20
ALPHA = 0.25  # diffusion number; below 0.5 the scheme is stable


def heat1d(u: np.ndarray, steps: int, alpha: float) -> np.ndarray:
    n = u.shape[0]
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            b[i] = a[i] + alpha * (a[i - 1] - 2.0 * a[i] + a[i + 1])
        for i in range(1, n - 1):
            a[i] = b[i]
    return a


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((103, size))
    return rng.random(size), STEPS, ALPHA


def reference(u: np.ndarray, steps: int, alpha: float) -> np.ndarray:
    a = u.copy()
    for _ in range(steps):
        # The right-hand side is evaluated in full before the assignment: a Jacobi sweep.
        a[1:-1] = a[1:-1] + alpha * (a[:-2] - 2.0 * a[1:-1] + a[2:])
    return a
