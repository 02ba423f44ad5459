import numpy as np


def matvec(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """With no rows in A the loop reads nothing, however short x is: the variant must not raise."""
    n, m = A.shape
    y = np.zeros(n)
    if n > 0:
        y += A @ x[:m]
    return y
