"""One generation of Conway's Game of Life on an integer grid whose border cells stay dead."""

import numpy as np

SIZES = (32, 256, 1024, 4096)  # n for an n×n grid


def life_step(grid: np.ndarray) -> np.ndarray:
    n, m = grid.shape
    out = np.zeros((n, m), dtype=np.int64)
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            alive = (
                grid[i - 1, j - 1]
                + grid[i - 1, j]
                + grid[i - 1, j + 1]
                + grid[i, j - 1]
                + grid[i, j + 1]
                + grid[i + 1, j - 1]
                + grid[i + 1, j]
                + grid[i + 1, j + 1]
            )
            if alive == 3 or (alive == 2 and grid[i, j] == 1):
                out[i, j] = 1
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((110, size))
    return ((rng.random((size, size)) < 0.3).astype(np.int64),)


def reference(grid: np.ndarray) -> np.ndarray:
    g = grid
    alive = (
        g[:-2, :-2]
        + g[:-2, 1:-1]
        + g[:-2, 2:]
        + g[1:-1, :-2]
        + g[1:-1, 2:]
        + g[2:, :-2]
        + g[2:, 1:-1]
        + g[2:, 2:]
    )
    out = np.zeros(grid.shape, dtype=np.int64)
    out[1:-1, 1:-1] = (alive == 3) | ((alive == 2) & (g[1:-1, 1:-1] == 1))
    return out
