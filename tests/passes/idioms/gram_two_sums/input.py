import numpy as np


def cross_minus_self(U: np.ndarray) -> np.ndarray:
    """U[i] . V[j] - U[i] . U[j] over the lower triangle, V the rows of U scaled: two sums of one
    inner loop. (V has U's shape, so its product with U fits in what C already holds.)"""
    n, d = U.shape
    V = U.copy()
    for i in range(n):
        for t in range(d):
            V[i, t] *= 1.0 + i
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
