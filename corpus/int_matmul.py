"""Integer matrix product (counts, adjacency paths): int64 arithmetic, exact, i-k-j loop order."""

import numpy as np
import numpy.typing as npt

SIZES = (24, 128, 384, 1024)  # n for n×n matrices


def int_matmul(A: npt.NDArray[np.int64], B: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n, k = A.shape
    m = B.shape[1]
    C = np.zeros((n, m), dtype=np.int64)
    for i in range(n):
        for p in range(k):
            a = A[i, p]
            if a != 0:
                for j in range(m):
                    C[i, j] += a * B[p, j]
    return C


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((133, size))
    A = rng.integers(-3, 4, (size, size), dtype=np.int64)
    return A, rng.integers(-100, 101, (size, size), dtype=np.int64)


def reference(A: npt.NDArray[np.int64], B: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return A @ B
