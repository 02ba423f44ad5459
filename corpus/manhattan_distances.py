"""L1 (city-block) distances between two point sets, X (n×d) against Y (m×d)."""

import numpy as np

SIZES = (24, 200, 800, 3000)  # n; Y has n/2 points, d = 8
DIMENSIONS = 8


def manhattan_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    n, d = X.shape
    m = Y.shape[0]
    D = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(d):
                s += abs(X[i, k] - Y[j, k])
            D[i, j] = s
    return D


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((157, size))
    return rng.random((size, DIMENSIONS)), rng.random((max(size // 2, 1), DIMENSIONS))


def reference(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    D = np.zeros((X.shape[0], Y.shape[0]))
    for k in range(X.shape[1]):  # one coordinate at a time: n×m temporaries, the naive order of the sum
        D += np.abs(X[:, None, k] - Y[None, :, k])
    return D
