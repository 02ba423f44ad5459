"""Multiresolution analysis kernel: every row A[r, q, :] of a 3-D array multiplied by C4, in place."""

import numpy as np

SIZES = (8, 32, 96, 160)  # n; A is n×n×n and C4 is n×n
MUTATES = ("A",)  # the documented contract: A is transformed in place


def doitgen(A: np.ndarray, C4: np.ndarray) -> None:
    nr, nq, np_ = A.shape
    acc = np.zeros(np_)
    for r in range(nr):
        for q in range(nq):
            for p in range(np_):
                acc[p] = 0.0
                for s in range(np_):
                    acc[p] += A[r, q, s] * C4[s, p]
            for p in range(np_):
                A[r, q, p] = acc[p]


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((216, size))
    return rng.standard_normal((size, size, size)), rng.standard_normal((size, size)) / size


def reference(A: np.ndarray, C4: np.ndarray) -> None:
    nr, nq, np_ = A.shape
    A[...] = (A.reshape(nr * nq, np_) @ C4).reshape(nr, nq, np_)
