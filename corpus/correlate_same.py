"""1-D cross-correlation in 'same' mode: the filter centred on each sample, zeros beyond the ends."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)
TAPS = 9


def correlate_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n = len(x)
    k = len(w)
    half = k // 2
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(k):
            idx = i + j - half
            if 0 <= idx < n:
                s += w[j] * x[idx]
        out[i] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((169, size))
    return rng.standard_normal(size), rng.standard_normal(TAPS)


def reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.correlate(x, w, mode="same")
