"""2-D finite-difference time-domain (Yee scheme): E and H fields leapfrogged in place, a source row."""

import numpy as np

SIZES = (24, 128, 600, 1500)  # n; the fields are n×n
STEPS = 10
MUTATES = ("ex", "ey", "hz")  # the documented contract: the fields are advanced in place


def fdtd2d(ex: np.ndarray, ey: np.ndarray, hz: np.ndarray, fict: np.ndarray) -> None:
    nx, ny = ex.shape
    steps = fict.shape[0]
    for t in range(steps):
        for j in range(ny):
            ey[0, j] = fict[t]
        for i in range(1, nx):
            for j in range(ny):
                ey[i, j] = ey[i, j] - 0.5 * (hz[i, j] - hz[i - 1, j])
        for i in range(nx):
            for j in range(1, ny):
                ex[i, j] = ex[i, j] - 0.5 * (hz[i, j] - hz[i, j - 1])
        for i in range(nx - 1):
            for j in range(ny - 1):
                hz[i, j] = hz[i, j] - 0.7 * (ex[i, j + 1] - ex[i, j] + ey[i + 1, j] - ey[i, j])


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((219, size))
    ex, ey, hz = (rng.standard_normal((size, size)) for _ in range(3))
    return ex, ey, hz, np.sin(np.arange(STEPS) * 0.3)


def reference(ex: np.ndarray, ey: np.ndarray, hz: np.ndarray, fict: np.ndarray) -> None:
    for t in range(fict.shape[0]):
        ey[0, :] = fict[t]
        ey[1:, :] -= 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] -= 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] -= 0.7 * (ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1])
