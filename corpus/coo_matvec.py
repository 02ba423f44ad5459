"""Sparse product y = A @ x with A as unsorted (row, col, value) triplets: a scatter-add, duplicates summed."""

import numpy as np
import numpy.typing as npt

SIZES = (100, 3_000, 100_000, 1_000_000)  # rows and columns; 8 triplets a row on average


def coo_matvec(
    rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], vals: np.ndarray, x: np.ndarray, n: int
) -> np.ndarray:
    y = np.zeros(n)
    for k in range(len(vals)):
        y[rows[k]] += vals[k] * x[cols[k]]
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((184, size))
    nnz = 8 * size
    rows = rng.integers(0, size, nnz, dtype=np.int64)
    cols = rng.integers(0, size, nnz, dtype=np.int64)
    return rows, cols, rng.standard_normal(nnz), rng.standard_normal(size), size


def reference(
    rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], vals: np.ndarray, x: np.ndarray, n: int
) -> np.ndarray:
    return np.bincount(rows, weights=vals * x[cols], minlength=n)
