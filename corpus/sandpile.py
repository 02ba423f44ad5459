"""Abelian sandpile: topple every site holding 4 or more grains until the grid is stable (grains fall off edges)."""

import numpy as np
import numpy.typing as npt

SIZES = (16, 48, 128, 256)  # n for an n×n grid


def sandpile(heights: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n, m = heights.shape
    h = heights.copy()
    unstable = True
    while unstable:
        unstable = False
        for i in range(n):
            for j in range(m):
                if h[i, j] >= 4:
                    unstable = True
                    q = h[i, j] // 4
                    h[i, j] -= 4 * q
                    if i > 0:
                        h[i - 1, j] += q
                    if i < n - 1:
                        h[i + 1, j] += q
                    if j > 0:
                        h[i, j - 1] += q
                    if j < m - 1:
                        h[i, j + 1] += q
    return h


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((197, size))
    h = rng.integers(0, 4, (size, size), dtype=np.int64)
    h[size // 2, size // 2] = 4 * size  # a pile in the middle
    return (h,)


def reference(heights: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # The final state does not depend on the toppling order: topple all unstable sites at once.
    h = heights.copy()
    while True:
        q = h // 4
        if not q.any():
            return h
        h -= 4 * q
        h[1:, :] += q[:-1, :]
        h[:-1, :] += q[1:, :]
        h[:, 1:] += q[:, :-1]
        h[:, :-1] += q[:, 1:]
