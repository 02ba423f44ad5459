"""Number of ways to pay each amount up to `amount` with unlimited coins, modulo 1e9 + 7 (integer DP)."""

import numpy as np
import numpy.typing as npt

SIZES = (2_000, 30_000, 1_000_000, 16_000_000)  # the largest amount; 8 coin values
MOD = 1_000_000_007
COINS = (1, 2, 5, 10, 20, 50, 100, 200)


def coin_change(coins: npt.NDArray[np.int64], amount: int, mod: int) -> npt.NDArray[np.int64]:
    ways = np.zeros(amount + 1, dtype=np.int64)
    ways[0] = 1
    for k in range(len(coins)):
        c = coins[k]
        for a in range(c, amount + 1):
            ways[a] = (ways[a] + ways[a - c]) % mod
    return ways


def inputs(size: int) -> tuple:
    return np.array(COINS, dtype=np.int64), size, MOD


def reference(coins: npt.NDArray[np.int64], amount: int, mod: int) -> npt.NDArray[np.int64]:
    ways = np.zeros(amount + 1, dtype=np.int64)
    ways[0] = 1
    for c in coins:
        # Ascending a makes ways[r::c] a running sum for each residue r (values < mod: no overflow).
        for r in range(c):
            ways[r::c] = np.cumsum(ways[r::c]) % mod
    return ways
