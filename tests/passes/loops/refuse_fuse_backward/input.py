import numpy as np


# The second loop reads b three iterations ahead of the first loop's writes: fusing them, even
# with the second loop running behind (loops.fuse-shifted reaches 2), would read b too early.
def shifted(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    n = a.shape[0]
    for t in range(3):
        for i in range(n - 3):
            b[i] = a[i] * 2.0
        for i in range(n - 3):
            c[i] = b[i + 3] + 1.0
