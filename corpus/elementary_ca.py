"""Elementary cellular automaton (Wolfram rule number), periodic row: the whole space-time diagram."""

import numpy as np
import numpy.typing as npt

SIZES = (64, 1024, 8192, 65536)  # cells
RULE = 110
STEPS = 200


def elementary_ca(cells: npt.NDArray[np.int64], rule: int, steps: int) -> npt.NDArray[np.int64]:
    n = len(cells)
    history = np.zeros((steps + 1, n), dtype=np.int64)
    for j in range(n):
        history[0, j] = cells[j]
    for t in range(steps):
        for j in range(n):
            left = history[t, (j - 1) % n]
            centre = history[t, j]
            right = history[t, (j + 1) % n]
            pattern = 4 * left + 2 * centre + right
            history[t + 1, j] = (rule // 2**pattern) % 2
    return history


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((196, size))
    return rng.integers(0, 2, size, dtype=np.int64), RULE, STEPS


def reference(cells: npt.NDArray[np.int64], rule: int, steps: int) -> npt.NDArray[np.int64]:
    table = (rule // 2 ** np.arange(8)) % 2
    history = np.zeros((steps + 1, len(cells)), dtype=np.int64)
    history[0] = cells
    for t in range(steps):
        row = history[t]
        history[t + 1] = table[4 * np.roll(row, 1) + 2 * row + np.roll(row, -1)]
    return history
