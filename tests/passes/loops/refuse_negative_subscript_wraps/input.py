import numpy as np


# Found by the differential fuzzer: at i = 0, `i - 1` is -1, which Python reads as the last
# column, so the write at [j - 1, -1] feeds a later read of a[j, m - 1]; interchanging the
# nest would reorder that pair.
def shift_back(a: np.ndarray) -> np.ndarray:
    n, m = a.shape
    out = np.zeros((n, m))
    for i in range(0, m, 2):
        for j in range(1, n):
            a[j - 1, i - 1] = a[j, i] * 0.5
    return out
