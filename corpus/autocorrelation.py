"""Sample autocorrelation function of a time series for lags 0..maxlag (normalized by the lag-0 sum)."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 8_000_000)  # samples; 16 lags
MAX_LAG = 16


def autocorrelation(x: np.ndarray, maxlag: int) -> np.ndarray:
    n = len(x)
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean = mean / n
    acf = np.zeros(maxlag + 1)
    for lag in range(maxlag + 1):
        s = 0.0
        for i in range(n - lag):
            s += (x[i] - mean) * (x[i + lag] - mean)
        acf[lag] = s
    c0 = acf[0]
    for lag in range(maxlag + 1):
        acf[lag] = acf[lag] / c0
    return acf


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((171, size))
    e = rng.standard_normal(size)
    x = e.copy()
    x[1:] += 0.6 * e[:-1]  # an MA(1) process: a visible lag-1 correlation
    return x, MAX_LAG


def reference(x: np.ndarray, maxlag: int) -> np.ndarray:
    d = x - x.mean()
    n = len(x)
    acf = np.array([d[: n - lag] @ d[lag:] for lag in range(maxlag + 1)])
    return acf / acf[0]
