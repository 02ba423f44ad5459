"""Running integral of samples y(x) on a non-uniform grid by the trapezoidal rule (starts at 0)."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)


def cumulative_trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = len(y)
    out = np.zeros(n)
    for i in range(1, n):
        out[i] = out[i - 1] + 0.5 * (x[i] - x[i - 1]) * (y[i] + y[i - 1])
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((202, size))
    x = np.cumsum(rng.uniform(0.5, 1.5, size)) / size
    return np.cos(8.0 * x) + 0.05 * rng.standard_normal(size), x


def reference(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.zeros(len(y))
    np.cumsum(0.5 * np.diff(x) * (y[1:] + y[:-1]), out=out[1:])
    return out
