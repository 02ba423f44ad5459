"""Sample covariance matrix of the columns of a data table (n observations × m variables)."""

import numpy as np

SIZES = (32, 160, 500, 1200)  # n; the data is n×n


def covariance(data: np.ndarray) -> np.ndarray:
    n, m = data.shape
    mean = np.zeros(m)
    for j in range(m):
        for i in range(n):
            mean[j] += data[i, j]
        mean[j] /= n
    centered = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            centered[i, j] = data[i, j] - mean[j]
    cov = np.empty((m, m))
    for a in range(m):
        for b in range(a, m):
            s = 0.0
            for i in range(n):
                s += centered[i, a] * centered[i, b]
            cov[a, b] = s / (n - 1)
            cov[b, a] = cov[a, b]
    return cov


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((220, size))
    return (rng.standard_normal((size, size)) + np.arange(size) * 0.01,)


def reference(data: np.ndarray) -> np.ndarray:
    centered = data - data.mean(axis=0)
    return centered.T @ centered / (data.shape[0] - 1)
