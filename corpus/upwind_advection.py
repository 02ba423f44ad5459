"""First-order upwind advection with a velocity field of either sign, periodic boundary (index % n)."""

import numpy as np

SIZES = (500, 20_000, 500_000, 8_000_000)  # cells
STEPS = 20


def upwind_advection(q0: np.ndarray, vel: np.ndarray, dt: float, dx: float, steps: int) -> np.ndarray:
    n = q0.shape[0]
    q = q0.copy()
    qn = np.empty(n)
    r = dt / dx
    for _ in range(steps):
        for i in range(n):
            v = vel[i]
            if v > 0.0:
                qn[i] = q[i] - r * v * (q[i] - q[(i - 1 + n) % n])
            else:
                qn[i] = q[i] - r * v * (q[(i + 1) % n] - q[i])
        for i in range(n):
            q[i] = qn[i]
    return q


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((141, size))
    x = np.linspace(0.0, 1.0, size, endpoint=False)
    vel = np.sin(2.0 * np.pi * x) + 0.1 * rng.standard_normal(size)
    dx = 1.0 / size
    return np.exp(-100.0 * (x - 0.3) ** 2), vel, 0.4 * dx, dx, STEPS


def reference(q0: np.ndarray, vel: np.ndarray, dt: float, dx: float, steps: int) -> np.ndarray:
    q = q0.copy()
    r = dt / dx
    positive = vel > 0.0
    for _ in range(steps):
        back = q - np.roll(q, 1)
        forward = np.roll(q, -1) - q
        q = q - r * vel * np.where(positive, back, forward)
    return q
