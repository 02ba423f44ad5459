# sizes: n=4000, m=4000
import numpy as np


# The time loop carries every sweep's result into the next; each sweep's row loop is parallel
# (one fork-join per sweep); the column loop inside a parallel row loop stays a plain range.
def diffuse(u: np.ndarray, steps: int) -> np.ndarray:
    n, m = u.shape
    cur = u.copy()
    nxt = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                nxt[i, j] = cur[i, j] + 0.1 * (cur[i - 1, j] + cur[i + 1, j] - 2.0 * cur[i, j])
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                cur[i, j] = nxt[i, j]
    return cur
