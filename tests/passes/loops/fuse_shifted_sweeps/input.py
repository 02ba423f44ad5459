# sizes: n=2000000
import numpy as np


# Each time step smooths a into b, then b back into a: the second sweep at i reads b[i + 1], which
# the first writes one iteration later, so the sweeps fuse with the second one iteration behind.
def smooth(u: np.ndarray, steps: int) -> np.ndarray:
    n = u.shape[0]
    a = u.copy()
    b = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            b[i] = 0.25 * a[i - 1] + 0.5 * a[i] + 0.25 * a[i + 1]
        for i in range(1, n - 1):
            a[i] = 0.25 * b[i - 1] + 0.5 * b[i] + 0.25 * b[i + 1]
    return a
