"""Sobel edge magnitude sqrt(gx² + gy²) with the two 3×3 kernels written out; the border stays 0."""

import math

import numpy as np

SIZES = (48, 256, 1024, 4096)  # n for an n×n image


def sobel(img: np.ndarray) -> np.ndarray:
    h, w = img.shape
    mag = np.zeros((h, w))
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            gx = (
                img[i - 1, j + 1]
                + 2.0 * img[i, j + 1]
                + img[i + 1, j + 1]
                - img[i - 1, j - 1]
                - 2.0 * img[i, j - 1]
                - img[i + 1, j - 1]
            )
            gy = (
                img[i + 1, j - 1]
                + 2.0 * img[i + 1, j]
                + img[i + 1, j + 1]
                - img[i - 1, j - 1]
                - 2.0 * img[i - 1, j]
                - img[i - 1, j + 1]
            )
            mag[i, j] = math.sqrt(gx * gx + gy * gy)
    return mag


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((163, size))
    return (rng.random((size, size)),)


def reference(img: np.ndarray) -> np.ndarray:
    c = img
    gx = c[:-2, 2:] + 2.0 * c[1:-1, 2:] + c[2:, 2:] - c[:-2, :-2] - 2.0 * c[1:-1, :-2] - c[2:, :-2]
    gy = c[2:, :-2] + 2.0 * c[2:, 1:-1] + c[2:, 2:] - c[:-2, :-2] - 2.0 * c[:-2, 1:-1] - c[:-2, 2:]
    mag = np.zeros(img.shape)
    mag[1:-1, 1:-1] = np.sqrt(gx * gx + gy * gy)
    return mag
