"""NumPy-style kernels that plain `numba.njit` cannot compile as a whole (bench/partial.py).

Each has a hot loop region and something Numba rejects around it: argument checks that raise
with an f-string, logging into a list of dicts, dict results, string formatting, try/except.
"""

import math
import warnings

import numpy as np


def normalize_rows(A: np.ndarray):
    if not np.isfinite(A).all():
        warnings.warn(f"normalize_rows: {np.count_nonzero(~np.isfinite(A))} non-finite values", stacklevel=2)
    n, m = A.shape
    norms = np.zeros(n)
    for j in range(m):
        for i in range(n):
            norms[i] += A[i, j] * A[i, j]
    for i in range(n):
        norms[i] = math.sqrt(norms[i])
    return norms


def smooth_logged(x: np.ndarray, steps: int, log: list):
    n = x.shape[0]
    a = x.copy()
    b = np.zeros(n)
    for _ in range(steps):
        for i in range(1, n - 1):
            b[i] = 0.25 * a[i - 1] + 0.5 * a[i] + 0.25 * a[i + 1]
        for i in range(1, n - 1):
            a[i] = b[i]
    log.append({"steps": steps, "n": n})
    return a


def summary(x: np.ndarray) -> dict:
    n = x.shape[0]
    total = 0.0
    sq = 0.0
    positives = 0
    for i in range(n):
        total += x[i]
        sq += x[i] * x[i]
        if x[i] > 0:
            positives += 1
    mean = total / n if n else 0.0
    return {"kernel": "summary", "mean": mean, "rms": math.sqrt(sq / n) if n else 0.0, "positives": positives}


def pairwise_report(X: np.ndarray) -> str:
    n, d = X.shape
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = X[i, k] - X[j, k]
                s += t * t
            D[i, j] = math.sqrt(s)
    return f"{n} points, mean distance {D.mean():.6f}"


def column_means(A: np.ndarray, label: str):
    try:
        n, m = A.shape
    except ValueError:
        raise TypeError(f"{label}: expected a 2-D array") from None
    means = np.zeros(m)
    for i in range(n):
        for j in range(m):
            means[j] += A[i, j]
    for j in range(m):
        means[j] /= n
    return {label: means}
