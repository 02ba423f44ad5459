"""Sparse matrix-vector product y = A @ x with A in CSR form (data, indices, indptr)."""

import numpy as np

SIZES = (100, 3_000, 100_000, 2_000_000)  # rows (and columns); about 8 stored entries a row
MAX_PER_ROW = 16


def csr_matvec(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = indptr.shape[0] - 1
    y = np.zeros(n)
    for i in range(n):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        y[i] = s
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((108, size))
    per_row = rng.integers(0, MAX_PER_ROW + 1, size)  # some rows are empty
    indptr = np.concatenate(([0], np.cumsum(per_row))).astype(np.int64)
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=np.int64)
    for i in range(size):  # sorted column indices within each row, as CSR usually has them
        indices[indptr[i] : indptr[i + 1]] = np.sort(rng.integers(0, size, per_row[i]))
    data = rng.standard_normal(nnz)
    return data, indices, indptr, rng.standard_normal(size)


def reference(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return np.bincount(rows, weights=data * x[indices], minlength=n)
