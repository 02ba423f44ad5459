import numpy as np


def affine(A: np.ndarray, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.empty(n)
    y[:n] = b[:n]
    if n > 0:
        y += A @ x[:m]
    return y
