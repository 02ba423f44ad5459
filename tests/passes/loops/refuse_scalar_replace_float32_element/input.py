import numpy as np
import numpy.typing as npt


# Found by the differential fuzzer: keeping out[i] in a scalar, `acc = out[i]` is a float32 that
# `acc += a[i, k] * x[k]` (a float64) turns into a float64, so the scalar sums in float64 and
# rounds once at the end, where the original rounds to float32 at every store.
def lower_matvec32(a: npt.NDArray[np.float64], x: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    n, m = a.shape
    out = np.zeros(n, dtype=np.float32)
    for i in range(n):
        for k in range(i):
            out[i] += a[i, k] * x[k]
    return out
