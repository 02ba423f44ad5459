"""Separable blur: a 1-D filter along rows, then along columns, with clamp-to-edge borders."""

import numpy as np

SIZES = (32, 256, 1024, 3000)  # n for an n×n image
RADIUS = 3


def gaussian_blur_separable(img: np.ndarray, weights: np.ndarray) -> np.ndarray:
    h, w = img.shape
    r = (len(weights) - 1) // 2
    tmp = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            s = 0.0
            for t in range(-r, r + 1):
                jj = min(max(j + t, 0), w - 1)
                s += weights[t + r] * img[i, jj]
            tmp[i, j] = s
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            s = 0.0
            for t in range(-r, r + 1):
                ii = min(max(i + t, 0), h - 1)
                s += weights[t + r] * tmp[ii, j]
            out[i, j] = s
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((167, size))
    t = np.arange(-RADIUS, RADIUS + 1)
    g = np.exp(-(t**2) / 2.0)
    return rng.random((size, size)), g / g.sum()


def reference(img: np.ndarray, weights: np.ndarray) -> np.ndarray:
    r = (len(weights) - 1) // 2
    h, w = img.shape
    padded = np.pad(img, ((0, 0), (r, r)), mode="edge")
    tmp = np.zeros((h, w))
    for t in range(2 * r + 1):
        tmp += weights[t] * padded[:, t : t + w]
    padded = np.pad(tmp, ((r, r), (0, 0)), mode="edge")
    out = np.zeros((h, w))
    for t in range(2 * r + 1):
        out += weights[t] * padded[t : t + h, :]
    return out
