import numpy as np


def _describe_region1(x: np.ndarray):
    """Lines 5-14 of `describe`, compiled on their own by optc."""
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
    return largest, n, positives, total


def describe(x: np.ndarray) -> dict:
    largest, n, positives, total = _describe_region1(x)
    return {"mean": total / n if n else 0.0, "max": largest, "positives": positives}
