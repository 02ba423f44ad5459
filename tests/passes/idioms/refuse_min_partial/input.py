import numpy as np
import numpy.typing as npt


def smallest_but_last(x: npt.NDArray[np.int64]) -> int:
    n = len(x)
    m = x[0]
    for i in range(n - 1):
        m = min(m, x[i])
    return m
