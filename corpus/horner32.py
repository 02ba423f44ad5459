"""Single-precision polynomial evaluation at many points (Horner), e.g. a fitted calibration curve."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)  # points; degree 6
DEGREE = 6


def horner32(coeffs: npt.NDArray[np.float32], x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n = x.shape[0]
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        xi = x[i]
        p = 0.0
        for k in range(len(coeffs)):
            p = p * xi + coeffs[k]
        out[i] = p
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((188, size))
    coeffs = rng.standard_normal(DEGREE + 1).astype(np.float32)
    return coeffs, rng.uniform(-1.0, 1.0, size).astype(np.float32)


def reference(coeffs: npt.NDArray[np.float32], x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.polyval(coeffs, x)
