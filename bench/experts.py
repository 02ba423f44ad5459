"""What a NumPy expert would write for each kernel of examples/kernels.py (same names, same results).

These are the "NumPy" column of bench/run.py: whole-array operations and BLAS, no Python loops.
Each returns what its namesake returns, up to float rounding (sums may be reordered).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return A @ B


def matvec_cols(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    return A @ x


def jacobi2d(u: np.ndarray) -> np.ndarray:
    out = u.copy()
    out[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return out


def blur(img: np.ndarray, weight: float) -> np.ndarray:
    out = img.copy()
    neighbours = (
        img[:-2, :-2]
        + img[:-2, 1:-1]
        + img[:-2, 2:]
        + img[1:-1, :-2]
        + img[1:-1, 2:]
        + img[2:, :-2]
        + img[2:, 1:-1]
        + img[2:, 2:]
    )
    out[1:-1, 1:-1] = (1.0 - weight) * img[1:-1, 1:-1] + weight * neighbours / 8.0
    return out


def moving_average(x: np.ndarray, w: int) -> np.ndarray:
    # Window sums over a strided view; no cumulative sum, whose cancellation error grows with n.
    return sliding_window_view(x, w).sum(axis=1) / w


def sum_squares(x: np.ndarray) -> float:
    return float(np.dot(x, x))
