"""2-D histogram of point pairs on a regular grid; points outside the ranges are skipped."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # points; 32×24 bins
NX = 32
NY = 24


def histogram2d(
    x: np.ndarray, y: np.ndarray, nx: int, ny: int, xmin: float, xmax: float, ymin: float, ymax: float
) -> npt.NDArray[np.int64]:
    counts = np.zeros((nx, ny), dtype=np.int64)
    sx = nx / (xmax - xmin)
    sy = ny / (ymax - ymin)
    for k in range(len(x)):
        if x[k] < xmin or x[k] >= xmax or y[k] < ymin or y[k] >= ymax:
            continue
        i = int((x[k] - xmin) * sx)
        j = int((y[k] - ymin) * sy)
        if i >= nx:  # rounding can land exactly on the upper edge
            i = nx - 1
        if j >= ny:
            j = ny - 1
        counts[i, j] += 1
    return counts


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((177, size))
    return rng.standard_normal(size), rng.standard_normal(size), NX, NY, -2.0, 2.0, -1.5, 2.5


def reference(
    x: np.ndarray, y: np.ndarray, nx: int, ny: int, xmin: float, xmax: float, ymin: float, ymax: float
) -> npt.NDArray[np.int64]:
    keep = (x >= xmin) & (x < xmax) & (y >= ymin) & (y < ymax)
    i = np.minimum(((x[keep] - xmin) * (nx / (xmax - xmin))).astype(np.int64), nx - 1)
    j = np.minimum(((y[keep] - ymin) * (ny / (ymax - ymin))).astype(np.int64), ny - 1)
    return np.bincount(i * ny + j, minlength=nx * ny).reshape(nx, ny).astype(np.int64)
