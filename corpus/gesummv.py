"""y = alpha A x + beta B x: two matrix-vector products fused in one row loop."""

import numpy as np

SIZES = (48, 400, 1600, 4000)  # n; A and B are n×n


def gesummv(A: np.ndarray, B: np.ndarray, x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    n = A.shape[0]
    y = np.zeros(n)
    for i in range(n):
        t = 0.0
        u = 0.0
        for j in range(n):
            t += A[i, j] * x[j]
            u += B[i, j] * x[j]
        y[i] = alpha * t + beta * u
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((214, size))
    return (
        rng.standard_normal((size, size)),
        rng.standard_normal((size, size)),
        rng.standard_normal(size),
        1.5,
        1.2,
    )


def reference(A: np.ndarray, B: np.ndarray, x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return alpha * (A @ x) + beta * (B @ x)
