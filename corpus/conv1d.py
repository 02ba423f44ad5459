"""1-D convolution of a signal with a short filter, keeping only the fully overlapping part."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)  # signal length
TAPS = 7


def conv1d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    k = w.shape[0]
    out = np.zeros(n - k + 1)
    for i in range(n - k + 1):
        s = 0.0
        for j in range(k):
            s += w[j] * x[i + k - 1 - j]
        out[i] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((111, size))
    return rng.standard_normal(size), rng.standard_normal(TAPS)


def reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.convolve(x, w, mode="valid")
