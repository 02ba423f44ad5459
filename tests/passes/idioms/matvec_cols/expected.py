import numpy as np


def matvec_cols(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(n)
    if n > 0:
        y += A @ x[:m]
    return y
