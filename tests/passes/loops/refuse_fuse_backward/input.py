import numpy as np


def shifted(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    n = a.shape[0]
    for t in range(3):
        for i in range(n - 1):
            b[i] = a[i] * 2.0
        for i in range(n - 1):
            c[i] = b[i + 1] + 1.0
