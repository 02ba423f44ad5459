"""1-D wave equation by leapfrog: three time levels rotated each step, fixed ends."""

import numpy as np

SIZES = (500, 20_000, 500_000, 8_000_000)  # grid points
STEPS = 20
COURANT = 0.9


def wave1d(u0: np.ndarray, u1: np.ndarray, steps: int, courant: float) -> np.ndarray:
    n = u0.shape[0]
    prev = u0.copy()
    cur = u1.copy()
    nxt = np.zeros(n)
    c2 = courant * courant
    for _ in range(steps):
        nxt[0] = cur[0]
        nxt[n - 1] = cur[n - 1]
        for i in range(1, n - 1):
            nxt[i] = 2.0 * cur[i] - prev[i] + c2 * (cur[i + 1] - 2.0 * cur[i] + cur[i - 1])
        prev, cur, nxt = cur, nxt, prev
    return cur


def inputs(size: int) -> tuple:
    x = np.linspace(0.0, 1.0, size)
    u0 = np.exp(-200.0 * (x - 0.5) ** 2)
    rng = np.random.default_rng((137, size))
    u1 = u0 + 1e-3 * rng.standard_normal(size)
    u1[0] = u1[-1] = 0.0
    u0[0] = u0[-1] = 0.0
    return u0, u1, STEPS, COURANT


def reference(u0: np.ndarray, u1: np.ndarray, steps: int, courant: float) -> np.ndarray:
    prev, cur = u0.copy(), u1.copy()
    c2 = courant * courant
    for _ in range(steps):
        nxt = cur.copy()
        nxt[1:-1] = 2.0 * cur[1:-1] - prev[1:-1] + c2 * (cur[2:] - 2.0 * cur[1:-1] + cur[:-2])
        prev, cur = cur, nxt
    return cur
