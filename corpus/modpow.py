"""Modular exponentiation base**e mod m for arrays, square-and-multiply with % and // (no bit operations)."""

import numpy as np
import numpy.typing as npt

SIZES = (1_000, 30_000, 1_000_000, 8_000_000)
MODULUS = 1_000_000_007  # below 2^30: products stay below 2^60


def modpow(bases: npt.NDArray[np.int64], exps: npt.NDArray[np.int64], mod: int) -> npt.NDArray[np.int64]:
    n = len(bases)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        result = 1
        b = bases[i] % mod
        e = exps[i]
        while e > 0:
            if e % 2 == 1:
                result = result * b % mod
            b = b * b % mod
            e = e // 2
        out[i] = result
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((200, size))
    bases = rng.integers(0, 10**12, size, dtype=np.int64)
    return bases, rng.integers(0, 10**9, size, dtype=np.int64), MODULUS


def reference(bases: npt.NDArray[np.int64], exps: npt.NDArray[np.int64], mod: int) -> npt.NDArray[np.int64]:
    result = np.ones(len(bases), dtype=np.int64)
    b = bases % mod
    e = exps.copy()
    while e.any():
        odd = e % 2 == 1
        result[odd] = result[odd] * b[odd] % mod
        b = b * b % mod
        e //= 2
    return result
