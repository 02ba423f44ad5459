import numpy as np


def cross_minus_self(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """U[i] . V[j] - U[i] . U[j] over the lower triangle: two sums of one inner loop."""
    n, d = U.shape
    C = np.zeros((n, n))
    if V.shape[1] == d:
        U_VT_d = U @ V.T
    else:
        U_VT_d = U @ V[:, :d].T
    U_UT = U @ U.T
    for i in range(n):
        for j in range(i + 1):
            uv = 0.0
            uu = 0.0
            uv += U_VT_d[i, j]
            uu += U_UT[i, j]
            C[i, j] = uv - uu
    return C
