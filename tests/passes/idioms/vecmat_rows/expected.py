import numpy as np


def vecmat(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y = x @ A, one row of A at a time."""
    n, m = A.shape
    y = np.zeros(m)
    if m > 0:
        y += x[:n] @ A
    return y
