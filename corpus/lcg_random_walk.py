"""A ±1 random walk driven by a 32-bit linear congruential generator (Numerical Recipes constants)."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)  # steps
A = 1_664_525
C = 1_013_904_223
M = 4_294_967_296  # 2^32
HALF = 2_147_483_648


def lcg_random_walk(seed: int, steps: int) -> npt.NDArray[np.int64]:
    path = np.empty(steps, dtype=np.int64)
    state = seed
    pos = 0
    for t in range(steps):
        state = (A * state + C) % M
        if state >= HALF:
            pos += 1
        else:
            pos -= 1
        path[t] = pos
    return path


def inputs(size: int) -> tuple:
    return 2024 + size, size


def reference(seed: int, steps: int) -> npt.NDArray[np.int64]:
    # Jump ahead in doubling blocks: x[k + L] = (a_L x[k] + c_L) mod m, exact in uint64, where
    # x -> a_L x + c_L is the generator applied L times (composed with itself to double L).
    states = np.array([(A * seed + C) % M], dtype=np.uint64)
    a_l, c_l = A, C
    while len(states) < steps:
        nxt = (states * np.uint64(a_l) + np.uint64(c_l)) % np.uint64(M)
        states = np.concatenate((states, nxt))
        a_l, c_l = a_l * a_l % M, (a_l * c_l + c_l) % M
    steps_taken = np.where(states[:steps] >= HALF, 1, -1)
    return np.cumsum(steps_taken).astype(np.int64)
