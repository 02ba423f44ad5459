"""Total gravitational potential energy of n bodies: a sum over the pairs i < j (a triangular loop)."""

import math

import numpy as np

SIZES = (48, 400, 1600, 6000)  # bodies


def potential_energy(x: np.ndarray, y: np.ndarray, z: np.ndarray, m: np.ndarray, eps: float) -> float:
    n = len(m)
    energy = 0.0
    for i in range(n - 1):
        for j in range(i + 1, n):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            dz = z[i] - z[j]
            energy -= m[i] * m[j] / math.sqrt(dx * dx + dy * dy + dz * dz + eps * eps)
    return energy


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((155, size))
    p = rng.standard_normal((3, size))
    return p[0], p[1], p[2], rng.uniform(0.5, 1.5, size), 0.05


def reference(x: np.ndarray, y: np.ndarray, z: np.ndarray, m: np.ndarray, eps: float) -> float:
    i, j = np.triu_indices(len(m), 1)
    r = np.sqrt((x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 + (z[i] - z[j]) ** 2 + eps * eps)
    return float(-np.sum(m[i] * m[j] / r))
