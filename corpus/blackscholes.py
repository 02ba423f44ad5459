"""Black-Scholes prices of European calls and puts for arrays of spots, strikes and expiries (erf, exp, log)."""

import math

import numpy as np
import scipy.special

SIZES = (1_000, 30_000, 1_000_000, 16_000_000)  # options


def blackscholes(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: float, sigma: float) -> tuple:
    n = len(S)
    call = np.empty(n)
    put = np.empty(n)
    for i in range(n):
        sqrt_t = math.sqrt(T[i])
        d1 = (math.log(S[i] / K[i]) + (r + 0.5 * sigma * sigma) * T[i]) / (sigma * sqrt_t)
        d2 = d1 - sigma * sqrt_t
        nd1 = 0.5 * (1.0 + math.erf(d1 / math.sqrt(2.0)))
        nd2 = 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))
        discount = K[i] * math.exp(-r * T[i])
        call[i] = S[i] * nd1 - discount * nd2
        put[i] = discount * (1.0 - nd2) - S[i] * (1.0 - nd1)
    return call, put


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((201, size))
    return (
        rng.uniform(50.0, 150.0, size),
        rng.uniform(60.0, 140.0, size),
        rng.uniform(0.1, 2.0, size),
        0.03,
        0.25,
    )


def reference(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: float, sigma: float) -> tuple:
    sqrt_t = np.sqrt(T)
    d1 = (np.log(S / K) + (r + 0.5 * sigma * sigma) * T) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    nd1, nd2 = scipy.special.ndtr(d1), scipy.special.ndtr(d2)
    discount = K * np.exp(-r * T)
    return S * nd1 - discount * nd2, discount * (1.0 - nd2) - S * (1.0 - nd1)
