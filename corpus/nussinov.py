"""Nussinov RNA folding: the most base pairs a sequence can form without crossings (an interval DP)."""

import numpy as np
import numpy.typing as npt

SIZES = (24, 120, 400, 900)  # sequence length


def nussinov(seq: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n = seq.shape[0]
    table = np.zeros((n, n), dtype=np.int64)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            best = table[i, j - 1]
            if table[i + 1, j] > best:
                best = table[i + 1, j]
            if i < j - 1:
                pair = table[i + 1, j - 1]
                if seq[i] + seq[j] == 3:
                    pair += 1
            else:
                pair = 0
            if pair > best:
                best = pair
            for k in range(i + 1, j):
                if table[i, k] + table[k + 1, j] > best:
                    best = table[i, k] + table[k + 1, j]
            table[i, j] = best
    return table


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((223, size))
    return (rng.integers(0, 4, size, dtype=np.int64),)  # bases 0..3; b pairs with 3 - b


def reference(seq: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # Cell (i, i + d) depends only on shorter intervals: fill the table one diagonal at a time.
    n = seq.shape[0]
    table = np.zeros((n, n), dtype=np.int64)
    for d in range(1, n):
        i = np.arange(n - d)
        j = i + d
        best = np.maximum(table[i, j - 1], table[i + 1, j])
        if d > 1:
            pair = table[i + 1, j - 1] + (seq[i] + seq[j] == 3)
            best = np.maximum(best, pair)
            k = i[:, None] + np.arange(1, d)  # i < k < j
            split = table[i[:, None], k] + table[k + 1, j[:, None]]
            best = np.maximum(best, split.max(axis=1))
        table[i, j] = best
    return table
