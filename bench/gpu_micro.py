"""Micro-benchmarks of numba-cuda on the GPU host, the source of costmodel/gpu.py's launch and
serial-loop constants (`H100`: launch_seconds, launch_array_seconds, thread_iteration_seconds,
load_iteration_seconds, strided_load_iteration_seconds): launch overhead by array-argument count,
and the time of one iteration of a serial per-thread loop, arithmetic only, with two loads of
adjacent or equal addresses, and with one load whose lanes read rows apart.

    python3 bench/gpu_micro.py > bench/results/gpu/micro.json   # on the GPU host (numpy 2.4: GPU.md)

Measured with numba-cuda 0.30.4 on the H100 host: bench/results/gpu/micro.json. No CUDA, no run.
"""

import json
import sys
import time

import numpy as np
from numba import cuda

out = {}


@cuda.jit
def k1(a):
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i] = 1.0


@cuda.jit
def k3(a, b, c, n, s):
    i = cuda.grid(1)
    if i < n:
        a[i] = b[i] + c[i] * s


@cuda.jit
def k6(a, b, c, d, e, f, n, s):
    i = cuda.grid(1)
    if i < n:
        a[i] = b[i] + c[i] + d[i] + e[i] + f[i] * s


arrs = [cuda.to_device(np.ones(1024)) for _ in range(6)]
for name, fn, args in (
    ("1 array", k1, (arrs[0],)),
    ("3 arrays 2 scalars", k3, (*arrs[:3], 1024, 2.0)),
    ("6 arrays 2 scalars", k6, (*arrs[:6], 1024, 2.0)),
):
    fn[4, 256](*args)
    cuda.synchronize()
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(1000):
            fn[4, 256](*args)
        cuda.synchronize()
        best = min(best, (time.perf_counter() - t) / 1000)
    out[f"launch {name}"] = best
    # the host loop of a time-stepped lowering: _optc_blocks computed, launched, no sync
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(1000):
            fn[(1024 + 255) // 256, 256](*args)
            cuda.synchronize()
        best = min(best, (time.perf_counter() - t) / 1000)
    out[f"launch+sync {name}"] = best


@cuda.jit
def serial_loads(x, out, n, lag):
    t = cuda.grid(1)
    if t < out.shape[0]:
        s = 0.0
        for i in range(n):
            s += x[i] * x[i + t]
        out[t] = s


@cuda.jit
def serial_strided(A, out, k):
    t = cuda.grid(1)
    if t < out.shape[0]:
        s = 0.0
        for p in range(k):
            s += A[t, p] * A[0, p]
        out[t] = s


@cuda.jit
def serial_arith(out, n, a):
    t = cuda.grid(1)
    if t < out.shape[0]:
        s = 0.0
        for _ in range(n):
            s = s * a + 1.0
        out[t] = s


n = 1_000_000
x = cuda.to_device(np.random.rand(n + 1024))
for threads in (17, 256, 4096):
    o = cuda.device_array(threads)
    blocks = (threads + 255) // 256
    serial_loads[blocks, 256](x, o, 1000, 0)
    cuda.synchronize()
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        serial_loads[blocks, 256](x, o, n, 0)
        cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    out[f"serial 2 loads/iter, {threads} threads: ns/iter"] = best / n * 1e9
    serial_arith[blocks, 256](o, 1000, 0.5)
    cuda.synchronize()
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        serial_arith[blocks, 256](o, n, 0.5)
        cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    out[f"serial dependent fma, {threads} threads: ns/iter"] = best / n * 1e9
for rows in (512, 4096):
    k = 4096
    A = cuda.to_device(np.random.rand(rows, k))
    o = cuda.device_array(rows)
    serial_strided[(rows + 255) // 256, 256](A, o, 16)
    cuda.synchronize()
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        serial_strided[(rows + 255) // 256, 256](A, o, k)
        cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    out[f"serial row-strided 2 loads/iter (lanes k*8 bytes apart), {rows} threads: ns/iter"] = best / k * 1e9
json.dump(out, sys.stdout, indent=1)
print()
