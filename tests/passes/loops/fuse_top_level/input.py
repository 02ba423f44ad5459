import numpy as np

# sizes: n=10000000


def scale_then_add(a: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    b = np.empty(n)
    c = np.empty(n)
    for i in range(n):
        b[i] = a[i] * 2.0
    for i in range(n):
        c[i] = b[i] + a[i]
    return c
