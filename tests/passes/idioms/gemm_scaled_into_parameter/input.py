import numpy as np


def gemm_update(alpha: float, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    """C[:n, :p] += alpha * A @ B, into a C the caller owns (its size is not declared)."""
    n, m = A.shape
    p = B.shape[1]
    for i in range(n):
        for k in range(m):
            for j in range(p):
                C[i, j] += alpha * A[i, k] * B[k, j]
