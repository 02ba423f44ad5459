import numpy as np


def cosine(V: np.ndarray) -> np.ndarray:
    """Inner products of the normalized columns of V; the diagonal set, the rest mirrored."""
    n, m = V.shape
    U = np.empty((n, m))
    for c in range(m):
        norm = 0.0
        for r in range(n):
            norm += V[r, c] * V[r, c]
        norm = max(norm, 1e-12) ** 0.5
        for r in range(n):
            U[r, c] = V[r, c] / norm
    K = np.empty((m, m))
    for a in range(m):
        K[a, a] = 1.0
        for b in range(a + 1, m):
            s = 0.0
            for r in range(n):
                s += U[r, a] * U[r, b]
            K[a, b] = s
            K[b, a] = s
    return K
