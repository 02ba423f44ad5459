import numpy as np
import numpy.typing as npt


def gemv32(A: npt.NDArray[np.float32], x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n, m = A.shape
    y = np.zeros(n, dtype=np.float32)
    y += A @ x
    return y
