"""Maximum drawdown of a price series: the largest fall from a running peak, as a fraction of the peak."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)


def max_drawdown(prices: np.ndarray) -> float:
    peak = prices[0]
    worst = 0.0
    for i in range(1, len(prices)):
        p = prices[i]
        if p > peak:
            peak = p
        else:
            dd = (peak - p) / peak
            if dd > worst:
                worst = dd
    return worst


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((181, size))
    return (100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal(size))),)


def reference(prices: np.ndarray) -> float:
    peak = np.maximum.accumulate(prices)
    return float(np.max((peak - prices) / peak))
