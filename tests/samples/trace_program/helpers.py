import numpy as np


def make_points(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3))


def save_and_load(path, array):
    np.save(path, array)
    return np.load(path)


def checksum(x):
    return float(np.round(np.sum(x), 6))
