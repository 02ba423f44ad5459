import numpy as np


def times_in_place(B: np.ndarray) -> np.ndarray:
    n = B.shape[0]
    C = B.copy()
    for i in range(n):
        for j in range(n):
            for k in range(n):
                C[i, j] += C[i, k] * B[k, j]
    return C
