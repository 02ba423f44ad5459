"""Weighted histogram over arbitrary sorted bin edges, each bin found by bisection (a while loop).

As in np.histogram, bins are half-open [e_k, e_k+1) except the last, which includes its right edge.
"""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # samples; 40 bins of uneven width
BINS = 40


def weighted_histogram(x: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> np.ndarray:
    nbins = len(edges) - 1
    hist = np.zeros(nbins)
    for i in range(len(x)):
        v = x[i]
        if v < edges[0] or v > edges[nbins]:
            continue
        lo = 0
        hi = nbins
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if v >= edges[mid]:
                lo = mid
            else:
                hi = mid
        hist[lo] += weights[i]
    return hist


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((178, size))
    edges = np.sort(rng.uniform(-2.5, 2.5, BINS + 1))
    x = rng.standard_normal(size)
    x[:3] = edges[0], edges[-1], edges[BINS // 2]  # values exactly on edges
    return x, rng.random(size), edges


def reference(x: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.histogram(x, bins=edges, weights=weights)[0]
