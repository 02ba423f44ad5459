import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    if n > 0 and p > 0:
        C += A @ B[:m]
    return C
