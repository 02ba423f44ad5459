"""One Jacobi sweep of the 2-D Laplace equation, written column-first; the boundary stays fixed."""

import numpy as np

SIZES = (32, 256, 1024, 4096)  # n for an n×n grid


def jacobi2d(u: np.ndarray) -> np.ndarray:
    n, m = u.shape
    out = u.copy()
    for j in range(1, m - 1):
        for i in range(1, n - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((102, size))
    return (rng.random((size, size)),)


def reference(u: np.ndarray) -> np.ndarray:
    out = u.copy()
    out[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return out
