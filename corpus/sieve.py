"""Sieve of Eratosthenes: flags (1 = prime) for 0..n, crossing out multiples from i*i in steps of i."""

import numpy as np
import numpy.typing as npt

SIZES = (2_000, 100_000, 4_000_000, 30_000_000)


def sieve(n: int) -> npt.NDArray[np.int64]:
    is_prime = np.ones(n + 1, dtype=np.int64)
    is_prime[0] = 0
    is_prime[1] = 0
    i = 2
    while i * i <= n:
        if is_prime[i] == 1:
            for j in range(i * i, n + 1, i):
                is_prime[j] = 0
        i += 1
    return is_prime


def inputs(size: int) -> tuple:
    return (size,)


def reference(n: int) -> npt.NDArray[np.int64]:
    is_prime = np.ones(n + 1, dtype=np.int64)
    is_prime[:2] = 0
    for i in range(2, int(n**0.5) + 1):
        if is_prime[i]:
            is_prime[i * i :: i] = 0
    return is_prime
