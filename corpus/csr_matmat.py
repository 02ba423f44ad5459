"""Sparse times dense, Y = A @ X with A in CSR form and X a tall matrix of 8 columns (block SpMV)."""

import numpy as np
import numpy.typing as npt
import scipy.sparse

SIZES = (100, 3_000, 100_000, 1_000_000)  # rows and columns; about 8 stored entries a row
MAX_PER_ROW = 16
COLUMNS = 8


def csr_matmat(
    data: np.ndarray, indices: npt.NDArray[np.int64], indptr: npt.NDArray[np.int64], X: np.ndarray
) -> np.ndarray:
    n = len(indptr) - 1
    k = X.shape[1]
    Y = np.zeros((n, k))
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            a = data[p]
            col = indices[p]
            for c in range(k):
                Y[i, c] += a * X[col, c]
    return Y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((186, size))
    per_row = rng.integers(0, MAX_PER_ROW + 1, size)
    indptr = np.concatenate(([0], np.cumsum(per_row))).astype(np.int64)
    nnz = int(indptr[-1])
    rows = np.repeat(np.arange(size, dtype=np.int64), per_row)
    keys = np.sort(rows * size + rng.integers(0, size, nnz))  # columns sorted within each row
    indices = keys - rows * size  # a repeated column is a duplicate entry: both are summed
    return rng.standard_normal(nnz), indices, indptr, rng.standard_normal((size, COLUMNS))


def reference(
    data: np.ndarray, indices: npt.NDArray[np.int64], indptr: npt.NDArray[np.int64], X: np.ndarray
) -> np.ndarray:
    n = len(indptr) - 1
    return scipy.sparse.csr_array((data, indices, indptr), shape=(n, X.shape[0])) @ X
