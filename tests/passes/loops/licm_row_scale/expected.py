import numpy as np


def row_scale(A: np.ndarray, s: np.ndarray) -> np.ndarray:
    n = s.shape[0]
    m = A.shape[1]
    out = np.empty((n, m))
    for i in range(n):
        s_i = s[i]
        for j in range(m):
            out[i, j] = A[i, j] * s_i + s_i
    return out
