"""Levenshtein distance between two integer sequences (tokens, bases): the full DP table."""

import numpy as np
import numpy.typing as npt

SIZES = (40, 300, 2000, 8000)  # sequence lengths (both)
ALPHABET = 4


def edit_distance(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> int:
    n = len(a)
    m = len(b)
    D = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(n + 1):
        D[i, 0] = i
    for j in range(m + 1):
        D[0, j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = D[i - 1, j - 1] + cost
            if D[i - 1, j] + 1 < best:
                best = D[i - 1, j] + 1
            if D[i, j - 1] + 1 < best:
                best = D[i, j - 1] + 1
            D[i, j] = best
    return D[n, m]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((172, size))
    a = rng.integers(0, ALPHABET, size, dtype=np.int64)
    b = a.copy()
    changed = rng.random(size) < 0.3
    b[changed] = rng.integers(0, ALPHABET, np.count_nonzero(changed))  # substitutions
    b = np.delete(b, rng.choice(size, size // 10, replace=False))  # deletions: b is shorter
    return a, b


def reference(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> int:
    # Row by row: the left-neighbour term is a running minimum of (tmp[k] - k) + j.
    m = len(b)
    j = np.arange(m + 1)
    row = j.copy()
    for i in range(1, len(a) + 1):
        tmp = np.empty(m + 1, dtype=np.int64)
        tmp[0] = i
        tmp[1:] = np.minimum(row[:-1] + (a[i - 1] != b), row[1:] + 1)
        row = np.minimum.accumulate(tmp - j) + j
    return int(row[m])
