import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for k in range(0, max(0, m - m % 4), 4):
            A_i_k = A[i, k]
            A_i_add_k_1 = A[i, k + 1]
            A_i_add_k_2 = A[i, k + 2]
            A_i_add_k_3 = A[i, k + 3]
            for j in range(p):
                C[i, j] += A_i_k * B[k, j]
                C[i, j] += A_i_add_k_1 * B[k + 1, j]
                C[i, j] += A_i_add_k_2 * B[k + 2, j]
                C[i, j] += A_i_add_k_3 * B[k + 3, j]
        for k in range(max(0, m - m % 4), m):
            A_i_k = A[i, k]
            for j in range(p):
                C[i, j] += A_i_k * B[k, j]
    return C
