import numpy as np


def _smooth_region1(x: np.ndarray):
    """Lines 5-8 of `smooth`, compiled on their own by optc."""
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(1, n - 1):
        out[i] = (x[i - 1] + x[i] + x[i + 1]) / 3.0
    return n, out


def smooth(x: np.ndarray, log: list):
    n, out = _smooth_region1(x)
    log.append({"n": n, "max": float(out.max()) if n else 0.0})
    return out
