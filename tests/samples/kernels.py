"""Sample kernels in the numeric subset, written in the styles people use.

tests/test_ir.py lifts each one, lowers it back to Python and checks that the lowered function
computes exactly what this one computes. Keep every function here liftable; inputs live in the test.
"""

import math

import numba
import numpy as np
from numba import prange


def gemm(A, B, C, alpha: float = 1.0, beta: float = 0.0):
    """C = alpha * A @ B + beta * C, in place."""
    n, k = A.shape
    m = B.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += A[i, p] * B[p, j]
            C[i, j] = alpha * acc + beta * C[i, j]


def matvec(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    (n, m) = A.shape
    y = np.zeros(n, dtype=A.dtype)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s = s + A[i, j] * x[j]
        y[i] = s
    return y


def jacobi_step(u, f, h):
    """One Jacobi sweep of -u'' = f with slices; the boundary stays fixed."""
    n = u.shape[0]
    out = u.copy()
    out[1 : n - 1] = 0.5 * (u[0 : n - 2] + u[2:n] + h**2 * f[1:-1])
    return out


def blur(img):
    rows, cols = img.shape
    out = np.empty_like(img)
    out[:, :] = img
    out[1:-1, 1:-1] = (img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:] + img[1:-1, 1:-1]) / 5
    out[::2, cols - 1] *= -1.0
    if rows > 3:
        out[rows - 1, :] -= 1
    return out


def first_above(x, threshold):
    i = 0
    n = len(x)
    found = -1
    while i < n:
        if x[i] > threshold:
            found = i
            break
        i += 1
    return found


def classify(x):
    counts = np.zeros(4, np.int64)
    for i in range(x.shape[0]):
        v = x[i]
        if v < -1.0:
            counts[0] += 1
        elif -1.0 <= v < 0.0:
            counts[1] += 1
        elif v == 0.0 or v != v:
            counts[2] += 1
        else:
            counts[3] += 1
    return counts


def find_negative(a):
    for i in range(len(a)):
        if a[i] < 0:
            return i, a[i]
    return -1, 0.0


def normalize_rows(M):
    """Scale each row to unit length in place; zero rows stay zero."""
    for i in range(M.shape[0]):
        norm = 0.0
        for j in range(M.shape[1]):
            norm += M[i, j] ** 2
        norm = math.sqrt(norm)
        if norm == 0.0:
            continue
        for j in range(M.shape[1]):
            M[i, j] /= norm


def digits(values, base: int = 10):
    out = np.zeros_like(values)
    for i in range(values.shape[0]):
        v = values[i]
        total = 0
        while v != 0:
            total = total + v % base
            v //= base
        out[i] = total
    total_mod = (values.sum() * 7 - 3) % 11
    return out, total_mod, -7 // 2, -7 % 3, 2**-1


def saxpy32(a, x, y):
    n = x.shape[0]
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        out[i] = np.float32(a) * x[i] + y[i]
    for i in range(n - 1, -1, -1):
        y[i] = out[i] - y[i] / np.float32(3)
    return out


def softplus(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v + np.log1p(np.exp(-v)) if v > 0 else np.log1p(np.exp(v))
    return out, np.exp(x[0]) - math.exp(-(x[0] ** 2)), -(x[0] ** 2), (-x[0]) ** 2


def clip_count(x, lo, hi):
    """Counts values strictly inside (lo, hi) and clips the array in place."""
    inside = 0
    for i in range(len(x)):
        v = x[i]
        if lo < v < hi:
            inside += 1
        x[i] = hi if x[i] > hi else (lo if x[i] < lo else x[i])
    return inside, lo <= hi and not inside == 0


def row_sums_parallel(A):
    n, m = A.shape
    out = np.zeros(n)
    for i in prange(n):
        for j in range(m):
            out[i] += A[i, j]
    for i in numba.prange(0, n, 2):
        out[i] = out[i] * 2
    return out


def swap_scan(a):
    n = a.shape[0]
    x, y = 0.0, 1.0
    for i in range(n):
        x, y = y, x + a[i]
        a[i] = x; a[n - 1 - i] -= y  # noqa: E702  # fmt: skip
    return x, y


def poly(x, c0=1.0, c1=-2.0, c2=0.5):
    r = c0 + x * (c1 + x * c2)
    q = (x - 1) * (x + 1) / (x**2 + 1) - x / 2 / 3 - (x - (1 - x))
    return r, q, -0.0 * x, x**-2 if x != 0 else float("inf"), 1e300 * 1e10 - 1e310


def matmul_op(A, B, v):
    C = A @ B
    C @= B
    w = C @ v
    return C, w, (A @ v) @ (B @ v), np.sum(C, axis=0)
