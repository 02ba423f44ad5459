import numpy as np


def describe(x: np.ndarray) -> dict:
    n = x.shape[0]
    total = 0.0
    largest = -np.inf
    positives = 0
    for i in range(n):
        total += x[i]
        if x[i] > largest:
            largest = x[i]
        if x[i] > 0:
            positives += 1
    return {"mean": total / n if n else 0.0, "max": largest, "positives": positives}
