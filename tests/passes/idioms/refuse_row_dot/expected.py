import numpy as np


def row_dots_repeated(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """C[i, j] is the dot of row i of A and row i of B, whatever j: not a matrix product."""
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[i, k]
    return C
