import numpy as np
import numpy.typing as npt


def gemm32(A: npt.NDArray[np.float32], B: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    n, m = A.shape
    m2, p = B.shape
    C = np.zeros((n, p), dtype=np.float32)
    for k in range(m):
        for j in range(p):
            for i in range(n):
                C[i, j] = C[i, j] + B[k, j] * A[i, k]
    return C
