"""A small program for `optc trace`: reads argv, writes and reads a file, runs a thread."""

import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from helpers import checksum, make_points, save_and_load
from kernels import pairwise_dist, relax, row_norms


def simulate(n, steps):
    grid = np.zeros((n, n))
    grid[0, :] = 1.0
    out = grid.copy()
    for _ in range(steps):
        relax(grid, out)
        grid, out = out, grid
    return grid


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 200
    if n < 0:
        raise ValueError("size must be non-negative")
    with tempfile.TemporaryDirectory() as folder:
        points = save_and_load(Path(folder) / "points.npy", make_points(n, 7))
    results = {}
    worker = threading.Thread(target=lambda: results.update(norms=row_norms(points @ points.T)))
    worker.start()
    dist = pairwise_dist(points)
    grid = simulate(n // 2, 4)
    worker.join()
    print(checksum(dist), checksum(grid), checksum(results["norms"]))


if __name__ == "__main__":
    main(sys.argv)
