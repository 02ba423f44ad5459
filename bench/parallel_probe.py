"""Why a prange kernel can take milliseconds a call on the device host: one small parallel kernel
timed call by call in fresh processes under different settings (threading layer, BLAS threads,
a BLAS call between calls, which numpy). Prints one JSON line per setting.

    python bench/parallel_probe.py            # the settings below, each in its own process
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time
import numpy as np, numba
from numba import prange

@numba.njit(parallel=True, cache=False)
def sir(beta, steps):
    n = len(beta)
    out = np.empty(n)
    for k in prange(n):
        s = 0.99
        for _ in range(steps):
            s = s - 0.001 * beta[k] * s
        out[k] = s
    return out

beta = np.random.default_rng(0).uniform(0.1, 0.5, 200)
A = np.random.default_rng(1).standard_normal((2048, 2048)); x = np.ones(2048)
sir(beta.copy(), 50)
times = []
for call in range(20):
    if os.environ.get("PROBE_BLAS") == "1":
        A @ x
    b = beta.copy()
    t = time.perf_counter(); sir(b, 50); times.append(time.perf_counter() - t)
print(json.dumps({"numpy": np.__version__, "layer": numba.threading_layer(),
                  "threads": numba.get_num_threads(),
                  "us": [round(t * 1e6, 1) for t in times]}))
"""

SETTINGS = {
    "default": {},
    "blas-between": {"PROBE_BLAS": "1"},
    "blas-between, OPENBLAS_NUM_THREADS=1": {"PROBE_BLAS": "1", "OPENBLAS_NUM_THREADS": "1"},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
    "omp": {"NUMBA_THREADING_LAYER": "omp"},
    "tbb": {"NUMBA_THREADING_LAYER": "tbb"},
    "blas-between, omp": {"PROBE_BLAS": "1", "NUMBA_THREADING_LAYER": "omp"},
    "blas-between, workqueue": {"PROBE_BLAS": "1", "NUMBA_THREADING_LAYER": "workqueue"},
}


def main() -> int:
    paths = {"this PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    if os.environ.get("PYTHONPATH"):
        paths["no PYTHONPATH (the image's numpy)"] = ""
    for path_name, path in paths.items():
        for name, extra in SETTINGS.items():
            env = {**os.environ, **extra, "PYTHONPATH": path}
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
            )
            line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
            print(
                json.dumps(
                    {
                        "path": path_name,
                        "setting": name,
                        "seconds": round(time.perf_counter() - start, 1),
                        "out": line,
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
