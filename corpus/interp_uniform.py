"""Table lookup on a uniform grid: cell from floor((x - x0) / dx), clamped to the table, then linear."""

import math

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)  # queries; a table of 1024 entries
TABLE = 1024


def interp_uniform(table: np.ndarray, x0: float, dx: float, xq: np.ndarray) -> np.ndarray:
    m = len(table)
    n = len(xq)
    out = np.empty(n)
    for i in range(n):
        t = (xq[i] - x0) / dx
        k = math.floor(t)
        if k < 0:
            k = 0
        if k > m - 2:
            k = m - 2
        f = t - k
        out[i] = (1.0 - f) * table[k] + f * table[k + 1]
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((191, size))
    grid = np.linspace(0.0, 10.0, TABLE)
    return np.exp(-grid) * np.cos(3.0 * grid), 0.0, 10.0 / (TABLE - 1), rng.uniform(-0.5, 10.5, size)


def reference(table: np.ndarray, x0: float, dx: float, xq: np.ndarray) -> np.ndarray:
    t = (xq - x0) / dx
    k = np.clip(np.floor(t).astype(np.int64), 0, len(table) - 2)
    f = t - k
    return (1.0 - f) * table[k] + f * table[k + 1]
