"""Thin QR of a tall matrix by modified Gram-Schmidt: returns (Q, R) with R upper triangular."""

import math

import numpy as np

SIZES = (16, 96, 320, 800)  # columns n; A is (2n)×n


def gram_schmidt(A: np.ndarray) -> tuple:
    m, n = A.shape
    Q = A.copy()
    R = np.zeros((n, n))
    for j in range(n):
        s = 0.0
        for i in range(m):
            s += Q[i, j] * Q[i, j]
        R[j, j] = math.sqrt(s)
        for i in range(m):
            Q[i, j] = Q[i, j] / R[j, j]
        for k in range(j + 1, n):
            d = 0.0
            for i in range(m):
                d += Q[i, j] * Q[i, k]
            R[j, k] = d
            for i in range(m):
                Q[i, k] -= d * Q[i, j]
    return Q, R


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((123, size))
    return (rng.standard_normal((2 * size, size)),)


def reference(A: np.ndarray) -> tuple:
    Q, R = np.linalg.qr(A)
    signs = np.sign(np.diag(R))  # Householder QR may flip columns; Gram-Schmidt has a positive diagonal
    return Q * signs, R * signs[:, None]
