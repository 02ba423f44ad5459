"""Lennard-Jones energy of particles in a periodic box: minimum-image distances and a cutoff branch."""

import math

import numpy as np

SIZES = (40, 300, 1200, 4000)  # particles
CUTOFF = 2.5


def lennard_jones(pos: np.ndarray, box: float, rc: float) -> float:
    n = pos.shape[0]
    rc2 = rc * rc
    shift = 4.0 * (rc**-12 - rc**-6)  # the potential is shifted to 0 at the cutoff
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r2 = 0.0
            for k in range(3):
                d = pos[i, k] - pos[j, k]
                d = d - box * math.floor(d / box + 0.5)
                r2 += d * d
            if r2 < rc2:
                inv6 = 1.0 / (r2 * r2 * r2)
                energy += 4.0 * inv6 * (inv6 - 1.0) - shift
    return energy


def inputs(size: int) -> tuple:
    box = (size / 0.8) ** (1.0 / 3.0)  # reduced density 0.8
    side = math.ceil(size ** (1.0 / 3.0))
    grid = np.stack(np.meshgrid(*(np.arange(side),) * 3, indexing="ij"), -1).reshape(-1, 3)[:size]
    rng = np.random.default_rng((156, size))
    pos = (grid + 0.5) * (box / side) + 0.05 * rng.standard_normal((size, 3))  # a jittered lattice
    return pos, box, CUTOFF


def reference(pos: np.ndarray, box: float, rc: float) -> float:
    i, j = np.triu_indices(pos.shape[0], 1)
    d = pos[i] - pos[j]
    d -= box * np.floor(d / box + 0.5)
    r2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]
    r2 = r2[r2 < rc * rc]
    inv6 = 1.0 / (r2 * r2 * r2)
    shift = 4.0 * (rc**-12 - rc**-6)
    return float(np.sum(4.0 * inv6 * (inv6 - 1.0) - shift))
