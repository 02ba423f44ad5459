# sizes: n=2000000
import numpy as np


# Each time step smooths a into b, then b back into a: the second sweep at i reads b[i + 1], which
# the first writes one iteration later, so the sweeps fuse with the second one iteration behind.
def smooth(u: np.ndarray, steps: int) -> np.ndarray:
    n = u.shape[0]
    a = u.copy()
    b = u.copy()
    for t in range(steps):
        if 1 < n - 1:
            b[1] = 0.25 * a[0] + 0.5 * a[1] + 0.25 * a[2]
        for i in range(2, n - 1):
            b[i] = 0.25 * a[i - 1] + 0.5 * a[i] + 0.25 * a[i + 1]
            a[i - 1] = 0.25 * b[i - 2] + 0.5 * b[i - 1] + 0.25 * b[i]
        if n - 2 >= 1:
            a[n - 2] = 0.25 * b[n - 3] + 0.5 * b[n - 2] + 0.25 * b[n - 1]
    return a
