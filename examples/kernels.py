"""Numeric kernels written the way they usually are: plain loops over NumPy arrays.

This is the file to try optc on first:

    optc examples/kernels.py -o kernels_fast.py -v

Each function is correct as plain Python. optc keeps every name and signature and makes the
loops fast; `python bench/run.py` measures by how much, against Numba and NumPy.
"""

import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Matrix product C = A @ B, the textbook triple loop (i, j, k order)."""
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def matvec_cols(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Matrix-vector product y = A @ x, accumulated one column of A at a time."""
    n, m = A.shape
    y = np.zeros(n)
    for j in range(m):
        for i in range(n):
            y[i] += A[i, j] * x[j]
    return y


def jacobi2d(u: np.ndarray) -> np.ndarray:
    """One Jacobi sweep of the 2-D Laplace equation; the boundary values stay fixed."""
    n, m = u.shape
    out = u.copy()
    for j in range(1, m - 1):
        for i in range(1, n - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def blur(img: np.ndarray, weight: float) -> np.ndarray:
    """3x3 smoothing: each interior pixel moves `weight` of the way to its neighbours' mean."""
    n, m = img.shape
    out = img.copy()
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            neighbours = (
                img[i - 1, j - 1] + img[i - 1, j] + img[i - 1, j + 1]
                + img[i, j - 1] + img[i, j + 1]
                + img[i + 1, j - 1] + img[i + 1, j] + img[i + 1, j + 1]
            )
            out[i, j] = (1.0 - weight) * img[i, j] + weight * neighbours / 8.0
    return out


def moving_average(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of each window of `w` consecutive values (only windows that fit)."""
    n = x.shape[0]
    out = np.zeros(n - w + 1)
    for i in range(n - w + 1):
        s = 0.0
        for k in range(w):
            s += x[i + k]
        out[i] = s / w
    return out


def sum_squares(x: np.ndarray) -> float:
    """Sum of the squares of the entries of a 1-D array."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s
