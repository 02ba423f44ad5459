import numpy as np


# Inside the sequential time loop the sweep is a recurrence (x[i] reads the x[i - 1] this sweep
# wrote): no prange at any depth.
def smooth(x: np.ndarray, steps: int) -> np.ndarray:
    n = x.shape[0]
    out = x.copy()
    for t in range(steps):
        for i in range(1, n):
            out[i] = 0.5 * (out[i] + out[i - 1])
    return out
