import numpy as np


def cross_minus_self(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """U[i] . V[j] - U[i] . U[j] over the lower triangle: two sums of one inner loop."""
    n, d = U.shape
    C = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            uv = 0.0
            uu = 0.0
            for t in range(d):
                uv += U[i, t] * V[j, t]
                uu += U[i, t] * U[j, t]
            C[i, j] = uv - uu
    return C
