import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    p = B.shape[1]
    C = np.empty((n, p))
    C[:n - 1] = 0.0
    C[n - 1:] = 1.0
    C += A @ B
    return C
