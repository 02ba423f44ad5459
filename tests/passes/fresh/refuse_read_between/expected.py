import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    C[0, 0] = 1.0
    C += A @ B
    return C
