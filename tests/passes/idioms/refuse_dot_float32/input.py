import numpy as np
import numpy.typing as npt


# Found by the differential fuzzer: `s` starts as a Python float and becomes a float32 only when
# the loop runs; `s += x @ y` would make it a float32 for empty vectors too.
def dot32(x: npt.NDArray[np.float32], y: npt.NDArray[np.float32]) -> float:
    n = x.shape[0]
    s = 0.0
    for k in range(n):
        s += x[k] * y[k]
    return s
