import numpy as np


def distances(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Squared distances between the columns of P and the rows of Q, from their inner products."""
    d, n = P.shape
    m = Q.shape[0]
    pp = np.zeros(n)
    for i in range(n):
        for k in range(d):
            pp[i] += P[k, i] * P[k, i]
    qq = np.zeros(m)
    for j in range(m):
        for k in range(d):
            qq[j] += Q[j, k] * Q[j, k]
    out = np.empty((n, m))
    if Q.shape[1] == d:
        PT_QT_d = P.T @ Q.T
    else:
        PT_QT_d = P.T @ Q[:, :d].T
    for i in range(n):
        for j in range(m):
            s = pp[i] + qq[j]
            s -= 2.0 * PT_QT_d[i, j]
            out[i, j] = max(s, 0.0)
    return out
