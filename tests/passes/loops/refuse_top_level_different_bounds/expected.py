import numpy as np

# sizes: n=10000000


def scale_then_add_interior(a: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    b = np.zeros(n)
    c = np.zeros(n)
    for i in range(n):
        b[i] = a[i] * 2.0
    for i in range(1, n):
        c[i] = b[i] + a[i]
    return c
