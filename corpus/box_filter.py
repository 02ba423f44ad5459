"""Box (mean) filter of radius r; near the border the window is clipped and the mean taken over what is left."""

import numpy as np

SIZES = (32, 256, 1024, 3000)  # n for an n×n image
RADIUS = 2


def box_filter(img: np.ndarray, r: int) -> np.ndarray:
    h, w = img.shape
    out = np.empty((h, w))
    for i in range(h):
        i0 = max(i - r, 0)
        i1 = min(i + r + 1, h)
        for j in range(w):
            j0 = max(j - r, 0)
            j1 = min(j + r + 1, w)
            s = 0.0
            for a in range(i0, i1):
                for b in range(j0, j1):
                    s += img[a, b]
            out[i, j] = s / ((i1 - i0) * (j1 - j0))
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((164, size))
    return rng.random((size, size)), RADIUS


def reference(img: np.ndarray, r: int) -> np.ndarray:
    # A summed-area table: every window sum is four lookups.
    h, w = img.shape
    sat = np.zeros((h + 1, w + 1))
    sat[1:, 1:] = img.cumsum(axis=0).cumsum(axis=1)
    i0 = np.maximum(np.arange(h) - r, 0)
    i1 = np.minimum(np.arange(h) + r + 1, h)
    j0 = np.maximum(np.arange(w) - r, 0)
    j1 = np.minimum(np.arange(w) + r + 1, w)
    sums = sat[i1][:, j1] - sat[i0][:, j1] - sat[i1][:, j0] + sat[i0][:, j0]
    return sums / np.outer(i1 - i0, j1 - j0)
