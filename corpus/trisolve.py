"""Forward substitution: solve L x = b for lower-triangular L (each x[i] needs all earlier ones)."""

import numpy as np

SIZES = (32, 256, 1024, 4096)  # n for an n×n matrix


def trisolve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = b.shape[0]
    x = np.zeros(n)
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= L[i, j] * x[j]
        x[i] = s / L[i, i]
    return x


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((112, size))
    # Off-diagonal entries in [-1, 1) scaled by 1/n and a unit diagonal: well conditioned at every size.
    L = np.tril(rng.uniform(-1.0, 1.0, (size, size)), -1) / size + np.eye(size)
    return L, rng.standard_normal(size)


def reference(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(L, b)
