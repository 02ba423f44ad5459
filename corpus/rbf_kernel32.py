"""Gaussian (RBF) kernel matrix exp(-gamma |x - y|²) in float32, as kernel methods build it."""

import math

import numpy as np
import numpy.typing as npt

SIZES = (24, 200, 800, 3000)  # n; Y has n points too, d = 16
DIMENSIONS = 16


def rbf_kernel32(
    X: npt.NDArray[np.float32], Y: npt.NDArray[np.float32], gamma: float
) -> npt.NDArray[np.float32]:
    n, d = X.shape
    m = Y.shape[0]
    K = np.empty((n, m), dtype=np.float32)
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(d):
                diff = X[i, k] - Y[j, k]
                s += diff * diff
            K[i, j] = math.exp(-gamma * s)
    return K


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((159, size))
    X = rng.random((size, DIMENSIONS), dtype=np.float32)
    return X, rng.random((size, DIMENSIONS), dtype=np.float32), 1.0 / DIMENSIONS


def reference(
    X: npt.NDArray[np.float32], Y: npt.NDArray[np.float32], gamma: float
) -> npt.NDArray[np.float32]:
    sq = np.zeros((X.shape[0], Y.shape[0]), dtype=np.float32)
    for k in range(X.shape[1]):
        diff = X[:, None, k] - Y[None, :, k]
        sq += diff * diff
    return np.exp(-gamma * sq)
