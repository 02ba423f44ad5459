"""Single-precision matrix-vector product: the float32 dot products accumulate in float32 (NEP 50)."""

import numpy as np
import numpy.typing as npt

SIZES = (64, 512, 2048, 8192)  # n for an n×n matrix


def gemv32(A: npt.NDArray[np.float32], x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n, m = A.shape
    y = np.zeros(n, dtype=np.float32)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((132, size))
    return rng.standard_normal((size, size), dtype=np.float32), rng.standard_normal(size, dtype=np.float32)


def reference(A: npt.NDArray[np.float32], x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return A @ x
