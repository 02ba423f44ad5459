"""Great-circle distances (km) between paired coordinates given in degrees: elementwise trigonometry."""

import math

import numpy as np

SIZES = (1_000, 30_000, 1_000_000, 8_000_000)
EARTH_RADIUS_KM = 6371.0


def haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    n = lat1.shape[0]
    out = np.empty(n)
    to_rad = math.pi / 180.0
    for i in range(n):
        p1 = lat1[i] * to_rad
        p2 = lat2[i] * to_rad
        dphi = p2 - p1
        dlam = (lon2[i] - lon1[i]) * to_rad
        a = math.sin(dphi / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlam / 2.0) ** 2
        out[i] = 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
    return out


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((160, size))
    lat = rng.uniform(-90.0, 90.0, (2, size))
    lon = rng.uniform(-180.0, 180.0, (2, size))
    return lat[0], lon[0], lat[1], lon[1]


def reference(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlam = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
