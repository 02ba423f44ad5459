import numpy as np

# sizes: n=10000000


# The second loop reads b three iterations ahead of the first loop's writes: fusing them, even
# with the second loop running behind (loops.fuse-shifted reaches 2), would read b too early.
def forward_difference(a: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    b = np.zeros(n)
    c = np.zeros(n)
    for i in range(n - 3):
        b[i] = a[i] * 2.0
    for i in range(n - 3):
        c[i] = b[i + 3] - b[i]
    return c
