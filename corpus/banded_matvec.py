"""Matrix-vector product with a band matrix in LAPACK band storage: ab[ku + i - j, j] = A[i, j]."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 4_000_000)  # n; kl = 2 sub- and ku = 3 super-diagonals
KL = 2
KU = 3


def banded_matvec(ab: np.ndarray, kl: int, ku: int, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        lo = max(0, i - kl)
        hi = min(n, i + ku + 1)
        s = 0.0
        for j in range(lo, hi):
            s += ab[ku + i - j, j] * x[j]
        y[i] = s
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((130, size))
    # The corners of ab lie outside the matrix; they hold garbage the kernel must not read.
    return rng.standard_normal((KL + KU + 1, size)), KL, KU, rng.standard_normal(size)


def reference(ab: np.ndarray, kl: int, ku: int, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    y = np.zeros(n)
    for offset in range(-kl, ku + 1):  # diagonal j - i = offset lives in row ku - offset of ab
        if offset >= 0:
            y[: n - offset] += ab[ku - offset, offset:] * x[offset:]
        else:
            y[-offset:] += ab[ku - offset, : n + offset] * x[: n + offset]
    return y
