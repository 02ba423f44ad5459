"""Length of the longest common subsequence of two integer sequences, keeping only two DP rows."""

import numpy as np
import numpy.typing as npt

SIZES = (40, 300, 2000, 8000)  # sequence lengths (both)
ALPHABET = 6


def lcs_length(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> int:
    n = len(a)
    m = len(b)
    prev = np.zeros(m + 1, dtype=np.int64)
    cur = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                cur[j] = prev[j - 1] + 1
            else:
                cur[j] = max(prev[j], cur[j - 1])
        for j in range(m + 1):
            prev[j] = cur[j]
    return prev[m]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((173, size))
    return rng.integers(0, ALPHABET, size, dtype=np.int64), rng.integers(0, ALPHABET, size, dtype=np.int64)


def reference(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> int:
    # A match beats both neighbours, so each row is a running maximum of the candidates.
    row = np.zeros(len(b) + 1, dtype=np.int64)
    for i in range(len(a)):
        cand = np.zeros(len(b) + 1, dtype=np.int64)
        cand[1:] = np.where(a[i] == b, row[:-1] + 1, row[1:])
        row = np.maximum.accumulate(cand)
    return int(row[-1])
