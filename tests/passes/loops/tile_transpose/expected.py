import numpy as np


def transpose(A: np.ndarray) -> np.ndarray:
    n, m = A.shape
    B = np.empty((m, n))
    for ii in range(0, n, 32):
        for jj in range(0, m, 32):
            for i in range(ii, min(ii + 32, n)):
                for j in range(jj, min(jj + 32, m)):
                    B[j, i] = A[i, j]
    return B
