"""Time-stepped 3-D heat equation, 7-point stencil, two buffers swapped after each step (Dirichlet faces)."""

import numpy as np

SIZES = (12, 48, 128, 320)  # n for an n×n×n grid
STEPS = 4
ALPHA = 0.1  # below 1/6 the explicit scheme is stable


def heat3d(u: np.ndarray, steps: int, alpha: float) -> np.ndarray:
    nx, ny, nz = u.shape
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, nx - 1):
            for j in range(1, ny - 1):
                for k in range(1, nz - 1):
                    b[i, j, k] = a[i, j, k] + alpha * (
                        a[i - 1, j, k]
                        + a[i + 1, j, k]
                        + a[i, j - 1, k]
                        + a[i, j + 1, k]
                        + a[i, j, k - 1]
                        + a[i, j, k + 1]
                        - 6.0 * a[i, j, k]
                    )
        a, b = b, a
    return a


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((135, size))
    return rng.random((size, size, size)), STEPS, ALPHA


def reference(u: np.ndarray, steps: int, alpha: float) -> np.ndarray:
    a = u.copy()
    for _ in range(steps):
        c = a[1:-1, 1:-1, 1:-1]
        a[1:-1, 1:-1, 1:-1] = c + alpha * (
            a[:-2, 1:-1, 1:-1]
            + a[2:, 1:-1, 1:-1]
            + a[1:-1, :-2, 1:-1]
            + a[1:-1, 2:, 1:-1]
            + a[1:-1, 1:-1, :-2]
            + a[1:-1, 1:-1, 2:]
            - 6.0 * c
        )
    return a
