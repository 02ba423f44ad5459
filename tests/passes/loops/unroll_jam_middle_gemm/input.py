import numpy as np


def gemm_update(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    n, m = A.shape
    p = B.shape[1]
    for i in range(n):
        for k in range(m):
            for j in range(p):
                C[i, j] += A[i, k] * B[k, j]
