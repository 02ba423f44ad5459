import numpy as np


def _column_means_region1(A: np.ndarray, m, n):
    """Lines 10-13 of `column_means`, compiled on their own by optc."""
    means = np.zeros(m)
    for i in range(n):
        for j in range(m):
            means[j] += A[i, j]
    return means


def column_means(A: np.ndarray):
    """`n, m` are bound by the try body; its handler raises, so they are bound after it."""
    try:
        n, m = A.shape
    except ValueError:
        raise TypeError("expected a 2-D array") from None
    means = _column_means_region1(A, m, n)
    return {"means": means}


def maybe_shape(A: np.ndarray):
    """The handler falls through, leaving `m` unbound: not outlined."""
    try:
        _, m = A.shape
    except ValueError:
        print("not a matrix")
    total = 0.0
    for j in range(m):
        total += A[0, j]
    return {"total": total}
