# sizes: n=1000000
import numpy as np


# Sweeps until the change is small: the while loop runs in order, the sweep inside it in parallel.
# The second loop's sum stays serial: the elements of the local copies have no inferred kind, and
# a reduction that may not be an int or a float is refused.
def relax(u: np.ndarray, tol: float) -> np.ndarray:
    n = u.shape[0]
    a = u.copy()
    b = u.copy()
    change = tol + 1.0
    while change > tol:
        for i in range(1, n - 1):
            b[i] = 0.5 * (a[i - 1] + a[i + 1])
        change = 0.0
        for i in range(1, n - 1):
            change += abs(b[i] - a[i])
            a[i] = b[i]
    return a
