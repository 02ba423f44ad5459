"""Back substitution: solve U x = b for upper-triangular U, from the last row up (a reversed range)."""

import numpy as np
import scipy.linalg

SIZES = (48, 256, 1024, 4096)  # n for an n×n matrix


def backsolve(U: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = U.shape[0]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s = s - U[i, j] * x[j]
        x[i] = s / U[i, i]
    return x


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((120, size))
    U = np.triu(rng.uniform(-1.0, 1.0, (size, size)), 1) / size + np.diag(rng.uniform(1.0, 2.0, size))
    return U, rng.standard_normal(size)


def reference(U: np.ndarray, b: np.ndarray) -> np.ndarray:
    return scipy.linalg.solve_triangular(U, b, lower=False)
