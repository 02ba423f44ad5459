import numpy as np
import numpy.typing as npt


def int_gram(X: npt.NDArray[np.int64]) -> np.ndarray:
    """Integer products: BLAS takes only floats."""
    n, k = X.shape
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for p in range(k):
                s += X[i, p] * X[j, p]
            G[i, j] = s
    return G
