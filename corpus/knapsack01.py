"""0/1 knapsack: best total value within a weight capacity, one DP row updated from the top down."""

import numpy as np
import numpy.typing as npt

SIZES = (30, 200, 1_000, 4_000)  # items; capacity 20 × items


def knapsack01(weights: npt.NDArray[np.int64], values: npt.NDArray[np.int64], capacity: int) -> int:
    n = len(weights)
    best = np.zeros(capacity + 1, dtype=np.int64)
    for i in range(n):
        wt = weights[i]
        v = values[i]
        for c in range(capacity, wt - 1, -1):
            candidate = best[c - wt] + v
            if candidate > best[c]:
                best[c] = candidate
    return best[capacity]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((174, size))
    weights = rng.integers(1, 60, size, dtype=np.int64)
    return weights, weights + rng.integers(0, 30, size, dtype=np.int64), 20 * size


def reference(weights: npt.NDArray[np.int64], values: npt.NDArray[np.int64], capacity: int) -> int:
    best = np.zeros(capacity + 1, dtype=np.int64)
    for wt, v in zip(weights, values, strict=True):
        # The right-hand side reads the row before this item: each item is taken at most once.
        best[wt:] = np.maximum(best[wt:], best[: capacity + 1 - wt] + v)
    return int(best[capacity])
