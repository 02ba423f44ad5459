import numpy as np


def last_value(x: np.ndarray):
    """`last` is bound only if the loop runs: not outlined."""
    for i in range(x.shape[0]):
        last = x[i] * 2.0
    return {"last": last}


def _last_value_or_default_region1(x: np.ndarray):
    """Lines 13-15 of `last_value_or_default`, compiled on their own by optc."""
    last = 0.0
    for i in range(x.shape[0]):
        last = x[i] * 2.0
    return last


def last_value_or_default(x: np.ndarray):
    """Bound before the loop too: passed in and handed back."""
    last = _last_value_or_default_region1(x)
    return {"last": last}
