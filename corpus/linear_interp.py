"""Piecewise-linear interpolation of tabulated data at query points (bisection), clamped like np.interp."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # queries; a table of 256 points
TABLE = 256


def linear_interp(xq: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    n = len(xq)
    m = len(xp)
    out = np.empty(n)
    for i in range(n):
        x = xq[i]
        if x <= xp[0]:
            out[i] = fp[0]
        elif x >= xp[m - 1]:
            out[i] = fp[m - 1]
        else:
            lo = 0
            hi = m - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if xp[mid] <= x:
                    lo = mid
                else:
                    hi = mid
            t = (x - xp[lo]) / (xp[hi] - xp[lo])
            out[i] = fp[lo] + t * (fp[hi] - fp[lo])
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((190, size))
    xp = np.cumsum(rng.uniform(0.1, 1.0, TABLE))
    fp = np.sin(xp / 10.0) + 0.1 * rng.standard_normal(TABLE)
    return rng.uniform(xp[0] - 5.0, xp[-1] + 5.0, size), xp, fp


def reference(xq: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    return np.interp(xq, xp, fp)
