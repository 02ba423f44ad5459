"""Red-black successive over-relaxation for the 2-D Laplace equation: colour chosen by (i + j) % 2."""

import numpy as np

SIZES = (32, 256, 1024, 3000)  # n for an n×n grid
ITERS = 4
OMEGA = 1.5


def sor_redblack(u0: np.ndarray, omega: float, iters: int) -> np.ndarray:
    n, m = u0.shape
    u = u0.copy()
    for _ in range(iters):
        for color in range(2):
            for i in range(1, n - 1):
                for j in range(1, m - 1):
                    if (i + j) % 2 == color:
                        gs = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
                        u[i, j] = (1.0 - omega) * u[i, j] + omega * gs
    return u


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((140, size))
    return rng.random((size, size)), OMEGA, ITERS


def reference(u0: np.ndarray, omega: float, iters: int) -> np.ndarray:
    n, m = u0.shape
    u = u0.copy()
    i, j = np.meshgrid(np.arange(1, n - 1), np.arange(1, m - 1), indexing="ij")
    for _ in range(iters):
        for color in range(2):
            # Points of one colour have neighbours of the other colour only: they update together.
            mask = (i + j) % 2 == color
            gs = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
            inner = u[1:-1, 1:-1]
            inner[mask] = ((1.0 - omega) * inner + omega * gs)[mask]
    return u
