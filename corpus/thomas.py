"""Thomas algorithm: solve a tridiagonal system (sub-diagonal a, diagonal b, super-diagonal c) in O(n)."""

import numpy as np
import scipy.linalg

SIZES = (1_000, 30_000, 1_000_000, 8_000_000)


def thomas(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    n = len(d)
    cp = np.zeros(n)
    dp = np.zeros(n)
    cp[0] = c[0] / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        denom = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / denom
        dp[i] = (d[i] - a[i] * dp[i - 1]) / denom
    x = np.zeros(n)
    x[n - 1] = dp[n - 1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return x


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((129, size))
    a = rng.uniform(-1.0, 1.0, size)  # a[0] is not used
    c = rng.uniform(-1.0, 1.0, size)  # c[n-1] is not used
    b = 2.5 + rng.random(size)  # diagonally dominant
    return a, b, c, rng.standard_normal(size)


def reference(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    bands = np.zeros((3, len(d)))
    bands[0, 1:] = c[:-1]
    bands[1] = b
    bands[2, :-1] = a[1:]
    return scipy.linalg.solve_banded((1, 1), bands, d)
