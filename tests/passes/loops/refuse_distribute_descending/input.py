import numpy as np


# Found by the differential fuzzer's long run: the loop runs downwards, so c[i] = a[i - 1] reads
# a[i - 1] before the iteration that overwrites it; split into two loops, it would read b[i - 1].
def shift_down(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    n = len(a)
    for i in range(n - 1, 0, -1):
        a[i] = b[i]
        c[i] = a[i - 1]
