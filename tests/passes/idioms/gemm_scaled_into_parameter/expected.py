import numpy as np


def gemm_update(alpha: float, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    """C[:n, :p] += alpha * A @ B, into a C the caller owns (its size is not declared)."""
    n, m = A.shape
    p = B.shape[1]
    if n > 0 and p > 0:
        C[:n, :p] += alpha * (A @ B[:m])
