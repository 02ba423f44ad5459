import numpy as np
import numpy.typing as npt


def matvec_int(A: npt.NDArray[np.int64], x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    n, m = A.shape
    y = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(m):
            y[i] += A[i, j] * x[j]
    return y
