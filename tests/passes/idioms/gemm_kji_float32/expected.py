import numpy as np
import numpy.typing as npt


def gemm32(A: npt.NDArray[np.float32], B: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n, m = A.shape
    m2, p = B.shape
    C = np.zeros((n, p), dtype=np.float32)
    if n > 0 and p > 0:
        C += A @ B[:m]
    return C
