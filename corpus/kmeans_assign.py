"""One Lloyd step of k-means: nearest centroid for every point, then the new centroids (empty keep old)."""

import numpy as np
import numpy.typing as npt

SIZES = (200, 3_000, 100_000, 2_000_000)  # points; 3 dimensions, 8 clusters
CLUSTERS = 8


def kmeans_assign(X: np.ndarray, centroids: np.ndarray) -> tuple:
    n, d = X.shape
    k = centroids.shape[0]
    labels = np.zeros(n, dtype=np.int64)
    sums = np.zeros((k, d))
    counts = np.zeros(k, dtype=np.int64)
    for i in range(n):
        best = 0
        best_dist = np.inf
        for c in range(k):
            dist = 0.0
            for j in range(d):
                diff = X[i, j] - centroids[c, j]
                dist += diff * diff
            if dist < best_dist:
                best_dist = dist
                best = c
        labels[i] = best
        counts[best] += 1
        for j in range(d):
            sums[best, j] += X[i, j]
    new = centroids.copy()
    for c in range(k):
        if counts[c] > 0:
            for j in range(d):
                new[c, j] = sums[c, j] / counts[c]
    return labels, new


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((161, size))
    centers = rng.uniform(-5.0, 5.0, (CLUSTERS, 3))
    X = centers[rng.integers(0, CLUSTERS - 1, size)] + rng.standard_normal((size, 3))
    centroids = rng.uniform(-5.0, 5.0, (CLUSTERS, 3))
    centroids[-1] = 100.0  # far from every point: an empty cluster
    return X, centroids


def reference(X: np.ndarray, centroids: np.ndarray) -> tuple:
    dist = np.zeros((X.shape[0], centroids.shape[0]))
    for j in range(X.shape[1]):
        diff = X[:, j, None] - centroids[None, :, j]
        dist += diff * diff
    labels: npt.NDArray[np.int64] = np.argmin(dist, axis=1).astype(np.int64)
    counts = np.bincount(labels, minlength=centroids.shape[0])
    new = centroids.copy()
    for j in range(X.shape[1]):
        sums = np.bincount(labels, weights=X[:, j], minlength=centroids.shape[0])
        np.divide(sums, counts, out=new[:, j], where=counts > 0)
    return labels, new
