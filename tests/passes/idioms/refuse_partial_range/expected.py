import numpy as np


def gemm_interior(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(1, n - 1):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C
