import numpy as np
import numpy.typing as npt


def largest(x: npt.NDArray[np.int64]) -> int:
    n = len(x)
    m = x[0]
    for i in range(1, n):
        m = max(m, x[i])
    return m
