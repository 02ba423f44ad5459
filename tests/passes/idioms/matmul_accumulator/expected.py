import numpy as np


def matmul_nt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, k = A.shape
    m = B.shape[0]
    C = np.empty((n, m))
    if B.shape[1] == k:
        A_BT_k = A @ B.T
    else:
        A_BT_k = A @ B[:, :k].T
    for i in range(n):
        for j in range(m):
            acc = 0.0
            acc += A_BT_k[i, j]
            C[i, j] = acc
    return C
