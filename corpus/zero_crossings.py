"""Zero crossings of each signal (row): count sign changes between neighbouring samples."""

import numpy as np
import numpy.typing as npt

SIZES = (8, 128, 1024, 16384)  # signals of 1024 samples each
SAMPLES = 1024


def zero_crossings(signals: np.ndarray) -> npt.NDArray[np.int64]:
    n, length = signals.shape
    counts = np.zeros(n, dtype=np.int64)
    for s in range(n):
        previous = signals[s, 0] >= 0.0
        for t in range(1, length):
            current = signals[s, t] >= 0.0
            if current != previous:
                counts[s] += 1
            previous = current
    return counts


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((151, size))
    t = np.arange(SAMPLES)
    freq = rng.uniform(0.01, 0.2, (size, 1))
    return (np.sin(freq * t) + 0.3 * rng.standard_normal((size, SAMPLES)),)


def reference(signals: np.ndarray) -> npt.NDArray[np.int64]:
    sign = signals >= 0.0
    return np.count_nonzero(sign[:, 1:] != sign[:, :-1], axis=1).astype(np.int64)
