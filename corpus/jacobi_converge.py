"""Jacobi iteration for -u'' = f on [0, 1] until the largest update drops below tol (a while loop)."""

import numpy as np

SIZES = (16, 48, 160, 400)  # interior points; iterations grow like n²
TOL = 1e-6
MAX_ITERS = 200_000


def jacobi_converge(f: np.ndarray, tol: float, max_iters: int) -> tuple:
    n = f.shape[0]
    h2 = 1.0 / ((n + 1) * (n + 1))
    u = np.zeros(n + 2)
    v = np.zeros(n + 2)
    change = tol + 1.0
    iters = 0
    while change > tol and iters < max_iters:
        change = 0.0
        for i in range(1, n + 1):
            v[i] = 0.5 * (u[i - 1] + u[i + 1] + h2 * f[i - 1])
            d = abs(v[i] - u[i])
            if d > change:
                change = d
        for i in range(1, n + 1):
            u[i] = v[i]
        iters += 1
    return u, iters


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((142, size))
    return rng.random(size), TOL, MAX_ITERS


def reference(f: np.ndarray, tol: float, max_iters: int) -> tuple:
    n = f.shape[0]
    h2 = 1.0 / ((n + 1) * (n + 1))
    u = np.zeros(n + 2)
    change = tol + 1.0
    iters = 0
    while change > tol and iters < max_iters:
        new = 0.5 * (u[:-2] + u[2:] + h2 * f)
        change = float(np.max(np.abs(new - u[1:-1])))
        u[1:-1] = new
        iters += 1
    return u, iters
