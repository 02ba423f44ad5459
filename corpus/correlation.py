"""Pearson correlation matrix of the columns of a data table; near-constant columns count as std 1."""

import math

import numpy as np

SIZES = (32, 160, 500, 1200)  # n; the data is n×n
EPS = 0.1


def correlation(data: np.ndarray) -> np.ndarray:
    n, m = data.shape
    mean = np.zeros(m)
    std = np.zeros(m)
    for j in range(m):
        for i in range(n):
            mean[j] += data[i, j]
        mean[j] /= n
    for j in range(m):
        for i in range(n):
            std[j] += (data[i, j] - mean[j]) * (data[i, j] - mean[j])
        std[j] = math.sqrt(std[j] / n)
        if std[j] <= EPS:
            std[j] = 1.0
    z = np.empty((n, m))
    sq = math.sqrt(n)
    for i in range(n):
        for j in range(m):
            z[i, j] = (data[i, j] - mean[j]) / (sq * std[j])
    corr = np.empty((m, m))
    for a in range(m):
        corr[a, a] = 1.0
        for b in range(a + 1, m):
            s = 0.0
            for i in range(n):
                s += z[i, a] * z[i, b]
            corr[a, b] = s
            corr[b, a] = s
    return corr


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((221, size))
    data = rng.standard_normal((size, size)) * rng.uniform(0.5, 2.0, size)
    data[:, ::7] *= 0.01  # some columns nearly constant: the EPS branch
    return (data,)


def reference(data: np.ndarray) -> np.ndarray:
    n = data.shape[0]
    mean = data.mean(axis=0)
    centered = data - mean
    std = np.sqrt((centered * centered).sum(axis=0) / n)
    std[std <= EPS] = 1.0
    z = centered / (math.sqrt(n) * std)
    corr = z.T @ z
    np.fill_diagonal(corr, 1.0)
    return corr
