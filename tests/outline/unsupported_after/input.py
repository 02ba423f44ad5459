import numpy as np


def smooth(x: np.ndarray, log: list):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(1, n - 1):
        out[i] = (x[i - 1] + x[i] + x[i + 1]) / 3.0
    log.append({"n": n, "max": float(out.max()) if n else 0.0})
    return out
