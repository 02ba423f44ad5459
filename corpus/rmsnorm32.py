"""Root-mean-square normalization of each row of a float32 matrix.

Under NumPy 2 (NEP 50) `s = 0.0; s += X[i, j] * X[i, j]` accumulates in float32: a Python float
does not widen a float32 scalar. An optimized version must keep that, not accumulate in float64.
"""

import math

import numpy as np

SIZES = (32, 256, 1024, 4096)  # n for an n×n matrix
EPS = 1e-6


def rmsnorm32(X: np.ndarray, eps: float) -> np.ndarray:
    n, m = X.shape
    out = np.empty_like(X)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += X[i, j] * X[i, j]
        inv = 1.0 / math.sqrt(s / m + eps)
        for j in range(m):
            out[i, j] = X[i, j] * inv
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((109, size))
    return rng.standard_normal((size, size), dtype=np.float32), EPS


def reference(X: np.ndarray, eps: float) -> np.ndarray:
    mean_square = np.sum(X * X, axis=1, dtype=np.float32) / np.float32(X.shape[1])
    inv = np.float32(1.0) / np.sqrt(mean_square + np.float32(eps))
    return X * inv[:, None]
