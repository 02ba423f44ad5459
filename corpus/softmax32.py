"""Softmax over a float32 vector: max, exp-sum and scale passes, all in single precision."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def softmax32(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n = x.shape[0]
    mx = x[0]
    for i in range(1, n):
        mx = max(mx, x[i])
    out = np.empty(n, dtype=np.float32)
    total = np.float32(0.0)
    for i in range(n):
        out[i] = np.exp(x[i] - mx)
        total += out[i]
    inv = np.float32(1.0) / total
    for i in range(n):
        out[i] = out[i] * inv
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((149, size))
    return (rng.standard_normal(size, dtype=np.float32),)


def reference(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    e = np.exp(x - x.max())
    return e * (np.float32(1.0) / e.sum(dtype=np.float32))
