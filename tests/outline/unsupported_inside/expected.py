import numpy as np


def tally(x: np.ndarray):
    counts = {}
    for i in range(x.shape[0]):
        key = f"{x[i]:.1f}"
        counts[key] = counts.get(key, 0) + 1
    return counts
