import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for k in range(m):
            A_i_k = A[i, k]
            for j in range(p):
                C[i, j] += A_i_k * B[k, j]
    return C
