import numpy as np
import numpy.typing as npt


def total32(x: npt.NDArray[np.float32]) -> float:
    """s + x[i] adds in float64; x.sum() would add in float32."""
    s = 0.0
    for i in range(len(x)):
        s += x[i]
    return s
