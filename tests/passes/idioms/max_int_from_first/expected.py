import numpy as np
import numpy.typing as npt


def largest(x: npt.NDArray[np.int64]) -> int:
    n = len(x)
    m = x[0]
    if n > 1:
        m = max(m, x[1:].max())
    return m
