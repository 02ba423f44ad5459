"""Pairwise cosine similarity of the rows of X; a zero row has similarity 0 with everything."""

import math

import numpy as np

SIZES = (24, 200, 800, 3000)  # rows; 16 features
FEATURES = 16


def cosine_similarity(X: np.ndarray) -> np.ndarray:
    n, d = X.shape
    norms = np.empty(n)
    for i in range(n):
        s = 0.0
        for k in range(d):
            s += X[i, k] * X[i, k]
        norms[i] = math.sqrt(s)
    S = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if norms[i] > 0.0 and norms[j] > 0.0:
                dot = 0.0
                for k in range(d):
                    dot += X[i, k] * X[j, k]
                S[i, j] = dot / (norms[i] * norms[j])
    return S


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((158, size))
    X = rng.standard_normal((size, FEATURES))
    X[size // 3] = 0.0
    return (X,)


def reference(X: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ik,ik->i", X, X))
    denom = np.outer(norms, norms)
    S = np.zeros(denom.shape)
    np.divide(X @ X.T, denom, out=S, where=denom > 0.0)
    return S
