import numpy as np
import numpy.typing as npt


def gemm32(A: npt.NDArray[np.float32], B: npt.NDArray[np.float32]) -> np.ndarray:
    n = A.shape[0]
    p = B.shape[1]
    C = np.zeros((n, p))
    C += A @ B
    return C
