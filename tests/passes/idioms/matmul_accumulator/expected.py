import numpy as np


def matmul_nt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, k = A.shape
    m = B.shape[0]
    C = np.empty((n, m))
    C[:n, :m] = 0.0
    if n > 0 and m > 0:
        C += A @ B[:, :k].T
    return C
