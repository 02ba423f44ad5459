"""All-pairs shortest path lengths (Floyd-Warshall) over integer edge weights; absent edges weigh a lot."""

import numpy as np
import numpy.typing as npt

SIZES = (24, 128, 400, 900)  # n vertices
NO_EDGE = 1_000_000  # large but far from overflowing when two are added


def floyd_warshall(w: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n = w.shape[0]
    d = w.copy()
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if d[i, k] + d[k, j] < d[i, j]:
                    d[i, j] = d[i, k] + d[k, j]
    return d


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((222, size))
    w = rng.integers(1, 100, (size, size), dtype=np.int64)
    w[rng.random((size, size)) < 0.7] = NO_EDGE
    np.fill_diagonal(w, 0)
    return (w,)


def reference(w: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    d = w.copy()
    for k in range(d.shape[0]):
        np.minimum(d, d[:, k, None] + d[None, k, :], out=d)
    return d
