"""Monte-Carlo estimate of pi with a Park-Miller (MINSTD) generator in integer arithmetic: the hit count."""

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 30_000_000)  # points (two random numbers each)
MULTIPLIER = 16807
MODULUS = 2_147_483_647  # 2^31 - 1; products stay below 2^46


def mc_pi(seed: int, n: int) -> int:
    state = seed
    hits = 0
    for _ in range(n):
        state = (MULTIPLIER * state) % MODULUS
        x = state / MODULUS
        state = (MULTIPLIER * state) % MODULUS
        y = state / MODULUS
        if x * x + y * y < 1.0:
            hits += 1
    return hits


def inputs(size: int) -> tuple:
    return 12345 + size, size


def _minstd(seed: int, count: int) -> np.ndarray:
    """The generator's first `count` states, by jumping ahead: block k+1 = block k × a^len mod m."""
    states = np.array([MULTIPLIER * seed % MODULUS], dtype=np.int64)
    while len(states) < count:
        jump = pow(MULTIPLIER, len(states), MODULUS)
        states = np.concatenate((states, states * jump % MODULUS))
    return states[:count]


def reference(seed: int, n: int) -> int:
    u = _minstd(seed, 2 * n) / MODULUS
    x, y = u[0::2], u[1::2]
    return int(np.count_nonzero(x * x + y * y < 1.0))
