"""RGB to luma (ITU-R BT.601 weights) on a float32 image, clipped to 1: an elementwise pass over (h, w, 3)."""

import numpy as np
import numpy.typing as npt

SIZES = (48, 512, 2048, 6000)  # n for an n×n image


def grayscale32(rgb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    h, w, _ = rgb.shape
    out = np.empty((h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            y = 0.299 * rgb[i, j, 0] + 0.587 * rgb[i, j, 1] + 0.114 * rgb[i, j, 2]
            if y > 1.0:
                y = 1.0
            out[i, j] = y
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((168, size))
    return (np.float32(1.2) * rng.random((size, size, 3), dtype=np.float32),)


def reference(rgb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    y = 0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2]
    return np.minimum(y, np.float32(1.0))
