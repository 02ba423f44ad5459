"""optc's GPU target end to end on a GPU host: the emitted module, not the lowering alone.

    python bench/gpu_target.py [--out DIR] [--repeats 5]

Runs `optimize_source` with `--target gpu` and `--target auto` on the kernels below (verification
on the CUDA simulator in a child process, as the pipeline does), imports the emitted modules, and
on the real GPU, per kernel and size: checks the GPU wrapper against the emitted CPU variant (same
bits for exact lowerings), times the GPU wrapper (transfers included), the CPU variant, and the
`auto` module's public function, and records which side `auto`'s threshold sends the call to and
which side was faster. Writes gpu_target.json and gpu_target.md to DIR (default $OUT, else
bench/results).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

KERNELS = '''\
import numpy as np


def relax(u, steps: int):
    """`steps` double Jacobi sweeps; u and v stay on the device across steps."""
    n, m = u.shape
    v = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        for p in range(1, n - 1):
            for q in range(1, m - 1):
                u[p, q] = 0.25 * (v[p - 1, q] + v[p + 1, q] + v[p, q - 1] + v[p, q + 1])
    return v


def gemm(A, B):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def smooth(u):
    n, m = u.shape
    out = u.copy()
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def axpy(a: float, x, y):
    for i in range(x.shape[0]):
        y[i] = a * x[i] + y[i]


def relax3d(u, steps: int):
    """Time-stepped 3-D Jacobi with ping-pong buffers: a 3-D grid, the arrays on the device."""
    n, m, p = u.shape
    a = u.copy()
    b = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                for k in range(1, p - 1):
                    b[i, j, k] = (
                        a[i - 1, j, k] + a[i + 1, j, k] + a[i, j - 1, k] + a[i, j + 1, k] + a[i, j, k - 1]
                        + a[i, j, k + 1]
                    ) / 6.0
        a, b = b, a
    return a


def rms32(X: np.ndarray[np.float32], eps: float):
    """float32 rows scaled by their RMS, lowered in float32 (NumPy's kinds)."""
    n, m = X.shape
    out = np.empty_like(X)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += X[i, j] * X[i, j]
        inv = 1.0 / np.sqrt(s / m + eps)
        for j in range(m):
            out[i, j] = X[i, j] * inv
    return out
'''

STEPS = 20
CASES: dict[str, tuple[Callable[[int], tuple[Any, ...]], tuple[int, ...]]] = {
    "relax": (lambda n: (np.random.default_rng(n).random((n, n)), STEPS), (64, 256, 1024, 2048)),
    "gemm": (
        lambda n: tuple(np.random.default_rng(n + k).random((n, n)) for k in (0, 1)),
        (64, 256, 1024, 2048),
    ),
    "smooth": (lambda n: (np.random.default_rng(n).random((n, n)),), (256, 1024, 4096, 8192)),
    "axpy": (
        lambda n: (0.5, np.random.default_rng(n).random(n), np.random.default_rng(n + 1).random(n)),
        (10**4, 10**5, 10**6, 10**7),
    ),
    "relax3d": (lambda n: (np.random.default_rng(n).random((n, n, n)), STEPS), (16, 48, 128, 192)),
    "rms32": (
        lambda n: (np.random.default_rng(n).random((n, n)).astype(np.float32), 1e-6),
        (256, 1024, 4096),
    ),
}
SIZES = (("steps", STEPS), ("n", 1024), ("m", 1024), ("p", 1024))


def load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fresh(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def best_of(fn: Callable[..., Any], args: tuple[Any, ...], repeats: int, sync: Callable[[], None]) -> float:
    fn(*fresh(args))  # compile
    sync()
    times = []
    for _ in range(repeats):
        copy = fresh(args)
        start = time.perf_counter()
        fn(*copy)
        sync()
        times.append(time.perf_counter() - start)
        if times[-1] > 5.0:
            break
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "bench" / "results")))
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)

    from numba import cuda

    from optcompiler.config import Config
    from optcompiler.pipeline import Emitted, describe, optimize_source

    modules = {}
    device = cuda.get_current_device().name
    device = device.decode() if isinstance(device, bytes) else str(device)
    report: dict[str, Any] = {"device": device, "kernels": {}, "rows": []}
    for target in ("gpu", "auto"):
        started = time.perf_counter()
        result = optimize_source(KERNELS, "kernels.py", Config(target=target, max_verify=2, sizes=SIZES))
        report[f"optc_{target}_seconds"] = time.perf_counter() - started
        path = out / f"gpu_target_{target}.py"
        path.write_text(result.output, encoding="utf-8")
        modules[target] = load(path, f"gpu_target_{target}")
        for k in result.kernels:
            entry = report["kernels"].setdefault(k.kernel, {})
            entry[target] = describe(k)
            if isinstance(k, Emitted):
                entry[f"{target}_threshold"] = k.gpu_threshold
                entry[f"{target}_gpu"] = bool(k.gpu_source)
        print(f"--target {target}:", *(describe(k) for k in result.kernels), sep="\n  ", flush=True)

    sync = cuda.synchronize
    gpu_mod, auto_mod = modules["gpu"], modules["auto"]
    for name, (make, sizes) in CASES.items():
        gpu_fn = getattr(gpu_mod, f"_{name}_gpu", None)
        cpu_fn = getattr(gpu_mod, f"_{name}_v1", None)
        if gpu_fn is None or cpu_fn is None:
            continue
        threshold = report["kernels"][name].get("auto_threshold")
        for size in sizes:
            args = make(size)
            got, want = fresh(args), fresh(args)
            r_gpu, r_cpu = gpu_fn(*got), cpu_fn(*want)
            outputs = [
                (g, w)
                for g, w in zip([r_gpu, *got], [r_cpu, *want], strict=True)
                if isinstance(w, np.ndarray)
            ]
            identical = all(np.array_equal(g, w) for g, w in outputs)
            gpu_s = best_of(gpu_fn, args, options.repeats, sync)
            cpu_s = best_of(cpu_fn, args, options.repeats, sync)
            auto_s = best_of(getattr(auto_mod, name), args, options.repeats, sync)
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            work = max(a.size for a in arrays) * (args[1] if name in ("relax", "relax3d") else 1)
            auto_gpu = (
                report["kernels"][name].get("auto_gpu", False) and threshold is not None and work >= threshold
            )
            row = {
                "kernel": name,
                "size": size,
                "identical": identical,
                "gpu_s": gpu_s,
                "cpu_s": cpu_s,
                "auto_s": auto_s,
                "auto_side": "gpu" if auto_gpu else "cpu",
                "faster_side": "gpu" if gpu_s < cpu_s else "cpu",
            }
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
    (out / "gpu_target.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    lines = [
        "# optc --target gpu / auto, emitted modules run on a GPU host",
        "",
        f"Device: {report['device']}. Command: `python bench/gpu_target.py`. CPU = the emitted CPU variant "
        f"(`--sizes` {dict(SIZES)}), GPU = the emitted CUDA wrapper, transfers included; min of "
        f"{options.repeats}. auto = the `--target auto` module's public function.",
        "",
        "| kernel | size | CPU variant | GPU wrapper | auto | auto sends to | faster | GPU = CPU bits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['kernel']} | {r['size']} | {r['cpu_s'] * 1e3:.3f} ms | {r['gpu_s'] * 1e3:.3f} ms | "
            f"{r['auto_s'] * 1e3:.3f} ms | {r['auto_side']} | {r['faster_side']} | {r['identical']} |"
        )
    lines += ["", "Thresholds and decisions:", ""]
    for name, entry in report["kernels"].items():
        lines.append(f"- {name}: auto threshold {entry.get('auto_threshold')}; {entry.get('auto', '')}")
    (out / "gpu_target.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
