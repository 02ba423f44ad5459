import numpy as np


def first_negative(x: np.ndarray):
    """The loop returns from the function: it stays in Python."""
    print(f"scanning {x.shape[0]} values")
    for i in range(x.shape[0]):
        if x[i] < 0:
            return i
    return -1


def count_until_negative(x: np.ndarray):
    """A break leaves only the loop: the loop is compiled."""
    print(f"scanning {x.shape[0]} values")
    count = 0
    for i in range(x.shape[0]):
        if x[i] < 0:
            break
        count += 1
    return count
