import numpy as np


def scaled(A: np.ndarray, B: np.ndarray, r: np.ndarray, alpha: float) -> tuple:
    n, k = A.shape
    m = B.shape[1]
    s = np.zeros(k)
    for i in range(n):
        for j in range(k):
            s[j] += r[i] * A[i, j]
    C = alpha * (A @ B)
    return C, s
