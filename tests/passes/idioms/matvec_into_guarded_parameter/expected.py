import numpy as np


def matvec_into(A: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """y's length is never declared: the dispatcher sends a y shorter than n to the original, and
    a longer one has only y[:n] updated, as by the loop."""
    n, m = A.shape
    if n > 0:
        y[:n] += A @ x[:m]
