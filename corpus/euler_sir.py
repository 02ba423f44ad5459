"""Forward-Euler integration of the SIR epidemic model for a whole array of (beta, gamma) parameter sets."""

import numpy as np

SIZES = (200, 5_000, 200_000, 4_000_000)  # parameter sets; 50 time steps
STEPS = 50


def euler_sir(beta: np.ndarray, gamma: np.ndarray, i0: float, dt: float, steps: int) -> np.ndarray:
    n = len(beta)
    out = np.empty((n, 3))
    for k in range(n):
        s = 1.0 - i0
        i = i0
        r = 0.0
        for _ in range(steps):
            infections = beta[k] * s * i
            recoveries = gamma[k] * i
            s = s - dt * infections
            i = i + dt * (infections - recoveries)
            r = r + dt * recoveries
        out[k, 0] = s
        out[k, 1] = i
        out[k, 2] = r
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((193, size))
    return rng.uniform(0.1, 0.5, size), rng.uniform(0.05, 0.2, size), 1e-3, 0.5, STEPS


def reference(beta: np.ndarray, gamma: np.ndarray, i0: float, dt: float, steps: int) -> np.ndarray:
    s = np.full(beta.shape, 1.0 - i0)
    i = np.full(beta.shape, i0)
    r = np.zeros(beta.shape)
    for _ in range(steps):
        infections = beta * s * i
        recoveries = gamma * i
        s, i, r = s - dt * infections, i + dt * (infections - recoveries), r + dt * recoveries
    return np.stack((s, i, r), axis=1)
