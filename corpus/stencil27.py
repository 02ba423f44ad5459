"""27-point box average over each interior cell of a 3-D grid, the neighbourhood walked by offset loops."""

import numpy as np

SIZES = (10, 40, 112, 256)  # n for an n×n×n grid


def stencil27(u: np.ndarray) -> np.ndarray:
    nx, ny, nz = u.shape
    out = np.zeros((nx, ny, nz))
    for i in range(1, nx - 1):
        for j in range(1, ny - 1):
            for k in range(1, nz - 1):
                s = 0.0
                for di in range(-1, 2):
                    for dj in range(-1, 2):
                        for dk in range(-1, 2):
                            s += u[i + di, j + dj, k + dk]
                out[i, j, k] = s / 27.0
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((136, size))
    return (rng.random((size, size, size)),)


def reference(u: np.ndarray) -> np.ndarray:
    nx, ny, nz = u.shape
    s = np.zeros((nx - 2, ny - 2, nz - 2))
    for di in range(3):
        for dj in range(3):
            for dk in range(3):
                s += u[di : nx - 2 + di, dj : ny - 2 + dj, dk : nz - 2 + dk]
    out = np.zeros(u.shape)
    out[1:-1, 1:-1, 1:-1] = s / 27.0
    return out
