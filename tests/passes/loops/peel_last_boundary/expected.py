import numpy as np


def forward_diff(u: np.ndarray) -> np.ndarray:
    n = u.shape[0]
    out = np.empty(n)
    for i in range(n - 1):
        out[i] = u[i + 1] - u[i]
    if 0 < n:
        out[n - 1] = 0.0
    return out
