"""Power iteration: `iters` normalized products v <- A v / |A v|; returns (Rayleigh quotient, v)."""

import math

import numpy as np

SIZES = (32, 256, 1024, 4096)  # n for an n×n matrix
ITERS = 10


def power_iteration(A: np.ndarray, v0: np.ndarray, iters: int) -> tuple:
    n = A.shape[0]
    v = v0.copy()
    w = np.zeros(n)
    lam = 0.0
    for _ in range(iters):
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += A[i, j] * v[j]
            w[i] = s
        norm = 0.0
        lam = 0.0
        for i in range(n):
            norm += w[i] * w[i]
            lam += v[i] * w[i]
        norm = math.sqrt(norm)
        for i in range(n):
            v[i] = w[i] / norm
    return lam, v


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((124, size))
    B = rng.standard_normal((size, size))
    v0 = rng.standard_normal(size)
    return (B + B.T) / 2.0, v0 / np.linalg.norm(v0), ITERS


def reference(A: np.ndarray, v0: np.ndarray, iters: int) -> tuple:
    v = v0.copy()
    lam = 0.0
    for _ in range(iters):
        w = A @ v
        lam = float(v @ w)
        v = w / np.sqrt(w @ w)
    return lam, v
