"""Slow kernels of a small simulation, written without annotations (the way they often are)."""

import math

import numpy as np


def pairwise_dist(X):
    n = X.shape[0]
    d = X.shape[1]
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = X[i, k] - X[j, k]
                s += t * t
            D[i, j] = math.sqrt(s)
    return D


def relax(grid, out):
    n, m = grid.shape
    for j in range(1, m - 1):
        for i in range(1, n - 1):
            out[i, j] = 0.25 * (grid[i - 1, j] + grid[i + 1, j] + grid[i, j - 1] + grid[i, j + 1])


def row_norms(A):
    n, m = A.shape
    out = np.zeros(n)
    for j in range(m):
        for i in range(n):
            out[i] += A[i, j] * A[i, j]
    return out
