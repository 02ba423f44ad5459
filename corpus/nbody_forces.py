"""Gravitational accelerations of n bodies with Plummer softening: all pairs, 3-D, G = 1."""

import math

import numpy as np

SIZES = (32, 256, 1024, 4096)  # bodies
SOFTENING = 0.01


def nbody_forces(pos: np.ndarray, mass: np.ndarray, eps: float) -> np.ndarray:
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    eps2 = eps * eps
    for i in range(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        for j in range(n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            r2 = dx * dx + dy * dy + dz * dz + eps2
            inv_r3 = mass[j] / (r2 * math.sqrt(r2))
            ax += dx * inv_r3
            ay += dy * inv_r3
            az += dz * inv_r3
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
    return acc


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((154, size))
    return rng.standard_normal((size, 3)), rng.uniform(0.5, 1.5, size) / size, SOFTENING


def reference(pos: np.ndarray, mass: np.ndarray, eps: float) -> np.ndarray:
    d = pos[None, :, :] - pos[:, None, :]  # d[i, j] = pos[j] - pos[i]
    r2 = np.einsum("ijk,ijk->ij", d, d) + eps * eps
    w = mass[None, :] / (r2 * np.sqrt(r2))
    return np.einsum("ij,ijk->ik", w, d)
