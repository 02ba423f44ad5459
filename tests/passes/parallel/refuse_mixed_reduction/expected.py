import numpy as np


# Found by the differential fuzzer's long run: `acc` is added to and multiplied in the same loop;
# threads cannot combine partial results of two different operators, so no prange.
def mixed(x: np.ndarray, y: np.ndarray) -> float:
    n = x.shape[0]
    acc = 1.0
    for i in range(n):
        acc += x[i]
        acc *= y[i]
    return acc
