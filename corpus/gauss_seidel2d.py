"""Gauss-Seidel sweeps for the 2-D Poisson equation, updating u in place in lexicographic order."""

import numpy as np

SIZES = (32, 200, 800, 3000)  # n for an n×n grid
SWEEPS = 3
MUTATES = ("u",)  # the documented contract: u is relaxed in place


def gauss_seidel2d(u: np.ndarray, f: np.ndarray, h: float, sweeps: int) -> None:
    n, m = u.shape
    h2 = h * h
    for _ in range(sweeps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                u[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - h2 * f[i, j])


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((139, size))
    return rng.random((size, size)), rng.standard_normal((size, size)), 1.0 / size, SWEEPS


def reference(u: np.ndarray, f: np.ndarray, h: float, sweeps: int) -> None:
    # Points on one anti-diagonal i + j = d depend only on the previous (new values) and the
    # next (old values) anti-diagonal: a wavefront sweep reproduces the lexicographic order exactly.
    n, m = u.shape
    h2 = h * h
    for _ in range(sweeps):
        for d in range(2, n + m - 3):
            i = np.arange(max(1, d - (m - 2)), min(n - 2, d - 1) + 1)
            j = d - i
            u[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - h2 * f[i, j])
