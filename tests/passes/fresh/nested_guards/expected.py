import numpy as np


def gemm_nt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n = len(A)
    m = len(B)
    k = A.shape[1]
    if n > 0 and m > 0:
        if B.shape[1] == k:
            C = A @ B.T
        else:
            C = A @ B[:, :k].T
    else:
        C = np.zeros((n, m))
    return C
