"""Escape-time iteration counts of the Mandelbrot set on a grid of points (a while loop with two exits)."""

import numpy as np
import numpy.typing as npt

SIZES = (32, 200, 800, 3000)  # n for an n×n grid of points
MAX_ITER = 64


def mandelbrot(cx: np.ndarray, cy: np.ndarray, max_iter: int) -> npt.NDArray[np.int64]:
    h = len(cy)
    w = len(cx)
    counts = np.zeros((h, w), dtype=np.int64)
    for i in range(h):
        for j in range(w):
            x = 0.0
            y = 0.0
            it = 0
            while x * x + y * y <= 4.0 and it < max_iter:
                xt = x * x - y * y + cx[j]
                y = 2.0 * x * y + cy[i]
                x = xt
                it += 1
            counts[i, j] = it
    return counts


def inputs(size: int) -> tuple:
    return np.linspace(-2.0, 0.6, size), np.linspace(-1.2, 1.2, size), MAX_ITER


def reference(cx: np.ndarray, cy: np.ndarray, max_iter: int) -> npt.NDArray[np.int64]:
    c_re = np.broadcast_to(cx[None, :], (len(cy), len(cx)))
    c_im = np.broadcast_to(cy[:, None], (len(cy), len(cx)))
    x = np.zeros(c_re.shape)
    y = np.zeros(c_re.shape)
    counts = np.zeros(c_re.shape, dtype=np.int64)
    for _ in range(max_iter):
        active = x * x + y * y <= 4.0
        if not active.any():
            break
        xt = x * x - y * y + c_re
        y = np.where(active, 2.0 * x * y + c_im, y)
        x = np.where(active, xt, x)
        counts += active
    return counts
