import numpy as np


def matmul_nt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, k = A.shape
    m = B.shape[0]
    C = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc = acc + A[i, p] * B[j, p]
            C[i, j] = acc
    return C
