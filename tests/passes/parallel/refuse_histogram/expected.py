import numpy as np
import numpy.typing as npt


def histogram(idx: npt.NDArray[np.int64], bins: int) -> np.ndarray:
    n = idx.shape[0]
    counts = np.zeros(bins)
    for i in range(n):
        counts[idx[i]] += 1.0
    return counts
