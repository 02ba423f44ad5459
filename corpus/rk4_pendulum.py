"""Classical RK4 for an array of damped, driven pendulums (one per initial condition), in place on copies."""

import math

import numpy as np

SIZES = (100, 2_000, 50_000, 1_000_000)  # pendulums; 40 steps
STEPS = 40
DAMPING = 0.2
DRIVE = 1.2
OMEGA_D = 0.667


def rk4_pendulum(theta0: np.ndarray, omega0: np.ndarray, dt: float, steps: int) -> tuple:
    n = len(theta0)
    theta = theta0.copy()
    omega = omega0.copy()
    for step in range(steps):
        t = step * dt
        for i in range(n):
            th = theta[i]
            om = omega[i]
            k1t = om
            k1o = -DAMPING * om - math.sin(th) + DRIVE * math.cos(OMEGA_D * t)
            k2t = om + 0.5 * dt * k1o
            k2o = -DAMPING * k2t - math.sin(th + 0.5 * dt * k1t) + DRIVE * math.cos(OMEGA_D * (t + 0.5 * dt))
            k3t = om + 0.5 * dt * k2o
            k3o = -DAMPING * k3t - math.sin(th + 0.5 * dt * k2t) + DRIVE * math.cos(OMEGA_D * (t + 0.5 * dt))
            k4t = om + dt * k3o
            k4o = -DAMPING * k4t - math.sin(th + dt * k3t) + DRIVE * math.cos(OMEGA_D * (t + dt))
            theta[i] = th + dt / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t)
            omega[i] = om + dt / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o)
    return theta, omega


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((194, size))
    return rng.uniform(-math.pi, math.pi, size), rng.uniform(-1.0, 1.0, size), 0.05, STEPS


def reference(theta0: np.ndarray, omega0: np.ndarray, dt: float, steps: int) -> tuple:
    def rhs(th: np.ndarray, om: np.ndarray, t: float) -> tuple:
        return om, -DAMPING * om - np.sin(th) + DRIVE * math.cos(OMEGA_D * t)

    theta, omega = theta0.copy(), omega0.copy()
    for step in range(steps):
        t = step * dt
        k1t, k1o = rhs(theta, omega, t)
        k2t, k2o = rhs(theta + 0.5 * dt * k1t, omega + 0.5 * dt * k1o, t + 0.5 * dt)
        k3t, k3o = rhs(theta + 0.5 * dt * k2t, omega + 0.5 * dt * k2o, t + 0.5 * dt)
        k4t, k4o = rhs(theta + dt * k3t, omega + dt * k3o, t + dt)
        theta = theta + dt / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t)
        omega = omega + dt / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o)
    return theta, omega
