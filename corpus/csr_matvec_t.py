"""Transposed sparse product y = A.T @ x with A in CSR form: each row scatters into y (no transpose built)."""

import numpy as np
import numpy.typing as npt

SIZES = (100, 3_000, 100_000, 2_000_000)  # rows and columns; about 8 stored entries a row
MAX_PER_ROW = 16


def csr_matvec_t(
    data: np.ndarray,
    indices: npt.NDArray[np.int64],
    indptr: npt.NDArray[np.int64],
    x: np.ndarray,
    ncols: int,
) -> np.ndarray:
    n = len(indptr) - 1
    y = np.zeros(ncols)
    for i in range(n):
        xi = x[i]
        for p in range(indptr[i], indptr[i + 1]):
            y[indices[p]] += data[p] * xi
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((183, size))
    per_row = rng.integers(0, MAX_PER_ROW + 1, size)
    indptr = np.concatenate(([0], np.cumsum(per_row))).astype(np.int64)
    indices = rng.integers(0, size, int(indptr[-1]), dtype=np.int64)  # unsorted, repeats allowed
    return rng.standard_normal(int(indptr[-1])), indices, indptr, rng.standard_normal(size), size


def reference(
    data: np.ndarray,
    indices: npt.NDArray[np.int64],
    indptr: npt.NDArray[np.int64],
    x: np.ndarray,
    ncols: int,
) -> np.ndarray:
    return np.bincount(indices, weights=data * np.repeat(x, np.diff(indptr)), minlength=ncols)
