"""Euclidean norm of every row of a CSR matrix (empty rows have norm 0), as in row normalization."""

import math

import numpy as np
import numpy.typing as npt

SIZES = (100, 3_000, 100_000, 2_000_000)  # rows; about 8 stored entries a row
MAX_PER_ROW = 16


def csr_row_norms(data: np.ndarray, indptr: npt.NDArray[np.int64]) -> np.ndarray:
    n = len(indptr) - 1
    norms = np.zeros(n)
    for i in range(n):
        start = indptr[i]
        end = indptr[i + 1]
        s = 0.0
        p = start
        while p < end:
            s += data[p] * data[p]
            p += 1
        norms[i] = math.sqrt(s)
    return norms


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((185, size))
    per_row = rng.integers(0, MAX_PER_ROW + 1, size)
    indptr = np.concatenate(([0], np.cumsum(per_row))).astype(np.int64)
    return rng.standard_normal(int(indptr[-1])), indptr


def reference(data: np.ndarray, indptr: npt.NDArray[np.int64]) -> np.ndarray:
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return np.sqrt(np.bincount(rows, weights=data * data, minlength=n))
