import numpy as np


def scatter(D: np.ndarray) -> np.ndarray:
    """Co-scatter of the columns of D, upper triangle computed and mirrored."""
    n, m = D.shape
    S = np.empty((m, m))
    DT_D = D.T @ D
    for a in range(m):
        for b in range(a, m):
            t = 0.0
            t += DT_D[a, b]
            S[a, b] = t / n
            S[b, a] = S[a, b]
    return S
