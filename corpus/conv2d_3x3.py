"""3×3 filter over an image (cross-correlation, as image libraries define it), valid region only."""

import numpy as np

SIZES = (48, 256, 1024, 4096)  # n for an n×n image


def conv2d_3x3(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    h, w = img.shape
    out = np.empty((h - 2, w - 2))
    for i in range(h - 2):
        for j in range(w - 2):
            acc = 0.0
            for a in range(3):
                for b in range(3):
                    acc += k[a, b] * img[i + a, j + b]
            out[i, j] = acc
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((162, size))
    return rng.random((size, size)), rng.standard_normal((3, 3))


def reference(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    h, w = img.shape
    out = np.zeros((h - 2, w - 2))
    for a in range(3):
        for b in range(3):
            out += k[a, b] * img[a : h - 2 + a, b : w - 2 + b]
    return out
