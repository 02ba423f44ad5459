import numpy as np

# sizes: n=10000000


def forward_difference(a: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    b = np.zeros(n)
    c = np.zeros(n)
    for i in range(n - 1):
        b[i] = a[i] * 2.0
    for i in range(n - 1):
        c[i] = b[i + 1] - b[i]
    return c
