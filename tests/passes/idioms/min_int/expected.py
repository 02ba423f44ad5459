import numpy as np
import numpy.typing as npt


def smallest(counts: npt.NDArray[np.int32], cap: int) -> int:
    """The smallest count, or cap when there is none below it (or no counts at all)."""
    m = cap
    if counts.shape[0] > 0:
        m = min(m, counts.min())
    return m
