"""Euclidean distances between all pairs of n points in 3-D."""

import math

import numpy as np

SIZES = (32, 256, 1024, 4096)  # points; the result is n×n
DIMENSIONS = 3


def pairwise_distances(X: np.ndarray) -> np.ndarray:
    n, d = X.shape
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                diff = X[i, k] - X[j, k]
                s += diff * diff
            D[i, j] = math.sqrt(s)
    return D


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((105, size))
    return (rng.random((size, DIMENSIONS)),)


def reference(X: np.ndarray) -> np.ndarray:
    # One coordinate at a time keeps the temporaries n×n (not n×n×d) and the naive order of the sum,
    # and is exact on the diagonal, unlike |x|² + |y|² - 2x·y.
    squares = np.zeros((X.shape[0], X.shape[0]))
    for k in range(X.shape[1]):
        diff = X[:, None, k] - X[None, :, k]
        squares += diff * diff
    return np.sqrt(squares)
