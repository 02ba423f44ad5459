"""Bilinear resampling of an image to a new shape (corners aligned), floor by int() and clamped neighbours."""

import numpy as np

SIZES = (32, 256, 1024, 3000)  # n: an n×n image resized to (3n/2)×(2n/3)


def bilinear_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    h, w = img.shape
    out = np.empty((out_h, out_w))
    sy = (h - 1) / (out_h - 1)
    sx = (w - 1) / (out_w - 1)
    for i in range(out_h):
        y = i * sy
        y0 = int(y)
        y1 = min(y0 + 1, h - 1)
        fy = y - y0
        for j in range(out_w):
            x = j * sx
            x0 = int(x)
            x1 = min(x0 + 1, w - 1)
            fx = x - x0
            top = img[y0, x0] * (1.0 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1.0 - fx) + img[y1, x1] * fx
            out[i, j] = top * (1.0 - fy) + bottom * fy
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((165, size))
    return rng.random((size, size)), 3 * size // 2, 2 * size // 3


def reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    h, w = img.shape
    y = np.arange(out_h) * ((h - 1) / (out_h - 1))
    x = np.arange(out_w) * ((w - 1) / (out_w - 1))
    y0 = y.astype(np.int64)
    x0 = x.astype(np.int64)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (y - y0)[:, None]
    fx = x - x0
    top = img[y0][:, x0] * (1.0 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1.0 - fx) + img[y1][:, x1] * fx
    return top * (1.0 - fy) + bottom * fy
