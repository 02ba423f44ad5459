"""2-D valid cross-correlation of an image with a general k×k template (four nested loops)."""

import numpy as np

SIZES = (32, 200, 800, 3000)  # n for an n×n image; the template is 5×5
TEMPLATE = 5


def correlate2d(img: np.ndarray, tmpl: np.ndarray) -> np.ndarray:
    h, w = img.shape
    kh, kw = tmpl.shape
    oh = h - kh + 1
    ow = w - kw + 1
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[i, j] += img[i + a, j + b] * tmpl[a, b]
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((170, size))
    return rng.standard_normal((size, size)), rng.standard_normal((TEMPLATE, TEMPLATE))


def reference(img: np.ndarray, tmpl: np.ndarray) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(img, tmpl.shape)
    return np.einsum("ijab,ab->ij", windows, tmpl)
