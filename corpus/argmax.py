"""Index of the largest entry (the first one on ties): a reduction that carries an index."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def argmax(x: np.ndarray) -> int:
    best = 0
    for i in range(1, len(x)):
        if x[i] > x[best]:
            best = i
    return best


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((143, size))
    return (np.round(rng.standard_normal(size), 2),)  # rounding makes ties likely


def reference(x: np.ndarray) -> int:
    return int(np.argmax(x))
