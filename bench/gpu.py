"""GPU benchmark: optc's CUDA lowering (passes/gpu.py) against numba.njit and optc's CPU output.

    python bench/gpu.py [--out DIR] [--repeats 5] [--quick]

On a GPU host, for each kernel below: the generated CUDA host wrapper (host-to-device and back
included, as a caller sees it), plain `numba.njit` of the original, optc's CPU output for the same
file (`optcompiler.pipeline.optimize_source`, told the benchmark sizes, all cores) and a NumPy
expert version. Each is called once to compile (reported separately, as first call minus a steady
call), then timed `--repeats` times on fresh copies of the inputs; the table shows the minimum.
Results are checked against njit: the CUDA wrapper must be bit-identical (the lowering is exact),
optc's CPU output within 1e-9 (it may reorder sums). Writes gpu.json and gpu.md to `--out`
(default $OUT, else bench/results). `--quick` uses tiny sizes: a smoke test that also runs on the
CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

KERNELS = '''\
import numpy as np


def jacobi2d(u: np.ndarray) -> np.ndarray:
    """One Jacobi sweep of the 2-D Laplace equation; the boundary values stay fixed."""
    n, m = u.shape
    out = u.copy()
    for j in range(1, m - 1):
        for i in range(1, n - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def jacobi_steps(u: np.ndarray, steps: int) -> np.ndarray:
    """`steps` double sweeps; the time loop stays on the host, the arrays on the device."""
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


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Matrix product C = A @ B, the textbook triple loop (i, j, k order)."""
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def row_scale(A: np.ndarray, d: np.ndarray) -> None:
    """Divide each row of A by its weight, in place."""
    n, m = A.shape
    for i in range(n):
        s = 1.0 / d[i]
        for j in range(m):
            A[i, j] *= s
'''


def _expert_jacobi2d(u: np.ndarray) -> np.ndarray:
    out = u.copy()
    out[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return out


def _expert_jacobi_steps(u: np.ndarray, steps: int) -> np.ndarray:
    v = u.copy()
    for _ in range(steps):
        v[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
        u[1:-1, 1:-1] = 0.25 * (v[:-2, 1:-1] + v[2:, 1:-1] + v[1:-1, :-2] + v[1:-1, 2:])
    return v


def _expert_row_scale(A: np.ndarray, d: np.ndarray) -> None:
    A *= (1.0 / d)[:, None]


@dataclass(frozen=True)
class Case:
    """A kernel, its size, and how to make its arguments."""

    kernel: str
    n: int
    quick_n: int
    arguments: Callable[[int, np.random.Generator], tuple[Any, ...]]
    expert: Callable[..., Any]
    steps: int = 0

    def profile(self, n: int, symbols: tuple[str, ...]) -> dict[str, int]:
        return {s: (self.steps if s == "steps" else n) for s in symbols}


STEPS, QUICK_STEPS = 50, 2
CASES = (
    Case("jacobi2d", 2048, 20, lambda n, rng: (rng.uniform(-1, 1, (n, n)),), _expert_jacobi2d),
    Case(
        "jacobi_steps",
        2048,
        20,
        lambda n, rng: (rng.uniform(-1, 1, (n, n)), STEPS),
        _expert_jacobi_steps,
        steps=STEPS,
    ),
    Case(
        "gemm",
        1024,
        12,
        lambda n, rng: (rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, (n, n))),
        lambda A, B: A @ B,
    ),
    Case(
        "row_scale",
        8192,
        20,
        lambda n, rng: (rng.uniform(-1, 1, (n, n)), rng.uniform(0.5, 2.0, n)),
        _expert_row_scale,
    ),
)
BLOCKS_2D = ((16, 16), (32, 8))


# ---- timing -------------------------------------------------------------------------------------------


def fresh(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def timed(fn: Callable[..., Any], args: tuple[Any, ...], repeats: int, sync: Callable[[], None]) -> dict:
    """First call (compile + run), then the minimum of `repeats` calls, each on fresh inputs."""
    inputs = fresh(args)
    start = time.perf_counter()
    first_result = fn(*inputs)
    sync()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        inputs = fresh(args)
        start = time.perf_counter()
        fn(*inputs)
        sync()
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "seconds": best,
        "times": times,
        "first_call": first,
        "compile": max(first - best, 0.0),
        "result": first_result,
        "args_after": inputs,
    }


def outputs(result: Any, args_after: tuple[Any, ...]) -> list[np.ndarray]:
    """What a caller sees: the return value and every array argument after the call."""
    seen = [result] if isinstance(result, np.ndarray) else []
    return seen + [a for a in args_after if isinstance(a, np.ndarray)]


def compare(got: list[np.ndarray], want: list[np.ndarray]) -> dict:
    identical = len(got) == len(want) and all(
        g.shape == w.shape and g.dtype == w.dtype and g.tobytes() == w.tobytes()
        for g, w in zip(got, want, strict=False)
    )
    worst = 0.0
    for g, w in zip(got, want, strict=False):
        if g.shape == w.shape and g.size:
            scale = max(1.0, float(np.max(np.abs(w))))
            worst = max(worst, float(np.max(np.abs(g - w))) / scale)
    return {"identical": identical, "max_rel_error": worst}


def transfer_seconds(cuda: Any, arrays_in: list[np.ndarray], arrays_out: list[np.ndarray]) -> float:
    """The copies alone: the arguments host-to-device, the results device-to-host; min of 3."""
    devices = [cuda.to_device(a) for a in arrays_out]
    best = float("inf")
    for _ in range(3):
        cuda.synchronize()
        start = time.perf_counter()
        for a in arrays_in:
            cuda.to_device(a)
        for d in devices:
            d.copy_to_host()
        cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


# ---- the contenders -----------------------------------------------------------------------------------


def import_source(source: str, name: str, folder: Path) -> Any:
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def optc_cpu(
    source: str, path: Path, profiles: dict[str, dict[str, int]]
) -> tuple[str, dict[str, str], float]:
    from optcompiler.config import Config
    from optcompiler.pipeline import Emitted, Failed, optimize_source

    kernel_sizes = tuple((k, tuple(sorted(p.items()))) for k, p in sorted(profiles.items()))
    start = time.perf_counter()
    result = optimize_source(source, str(path), replace(Config(), kernel_sizes=kernel_sizes))
    seconds = time.perf_counter() - start
    labels = {}
    for k in result.kernels:
        if isinstance(k, Emitted):
            labels[k.kernel] = k.candidate.label
        else:
            labels[k.kernel] = f"{'failed' if isinstance(k, Failed) else 'unchanged'}: {k.reason}"
    return result.output, labels, seconds


def lowerings(source: str, path: Path) -> dict[str, dict[str, str | None]]:
    """kernel -> block label -> generated source (None: refused, with the reason under 'refused')."""
    from optcompiler.analysis import analyze
    from optcompiler.frontend import lift_function
    from optcompiler.passes import gpu

    out: dict[str, dict[str, str | None]] = {}
    for case in CASES:
        kernel = lift_function(source, str(path), case.kernel)
        facts = analyze(kernel)
        reason = gpu.refusal_reason(kernel, kernel.body, facts)
        if reason is not None:
            out[case.kernel] = {"refused": reason}
            continue
        variants: dict[str, str | None] = {}
        for bx, by in BLOCKS_2D:
            variants[f"{bx}x{by} / {bx * by}"] = gpu.lower_cuda(
                kernel, kernel.body, facts, block_2d=(bx, by), block_1d=bx * by
            )
        out[case.kernel] = variants
    return out


# ---- the run ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "bench" / "results"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="kernels to run (default: all)")
    options = parser.parse_args(argv)
    repeats = 2 if options.quick else options.repeats
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)

    import numba
    from numba import cuda

    from optcompiler.analysis import analyze
    from optcompiler.frontend import lift_function

    simulator = not hasattr(cuda, "libdevice")
    device = "CUDA simulator"
    if not simulator:
        name = cuda.get_current_device().name
        device = name.decode() if isinstance(name, bytes) else str(name)
    cases = [c for c in CASES if options.only is None or c.kernel in options.only]
    folder = Path(tempfile.mkdtemp(prefix="optc-gpu-bench-"))
    path = folder / "gpu_kernels.py"
    path.write_text(KERNELS)
    original = import_source(KERNELS, "gpu_kernels", folder)

    profiles = {}
    for case in cases:
        symbols = analyze(lift_function(KERNELS, str(path), case.kernel)).size_symbols
        profiles[case.kernel] = case.profile(case.quick_n if options.quick else case.n, symbols)
    print(f"optc CPU: optimizing {path.name} for {profiles} ...", flush=True)
    cpu_source, labels, optc_seconds = optc_cpu(KERNELS, path, profiles)
    cpu = import_source(cpu_source, "gpu_kernels_optc", folder)
    generated = lowerings(KERNELS, path)
    gpu_modules = {}
    for kernel, variants in generated.items():
        for label, source in variants.items():
            if label != "refused" and source is not None:
                name = f"gpu_{kernel}_{label.split(' ')[0]}"
                gpu_modules[(kernel, label)] = import_source("import numpy as np\n\n" + source, name, folder)

    records = []
    for case in cases:
        n = case.quick_n if options.quick else case.n
        args = case.arguments(n, np.random.default_rng(0))
        print(f"{case.kernel} n={n}", flush=True)
        record: dict[str, Any] = {"kernel": case.kernel, "n": n, "steps": case.steps or None, "timings": {}}
        reference = timed(numba.njit(getattr(original, case.kernel)), args, repeats, lambda: None)
        want = outputs(reference["result"], reference["args_after"])
        contenders: list[tuple[str, Callable[..., Any], Callable[[], None]]] = [
            (f"optc CPU ({labels.get(case.kernel, '?')})", getattr(cpu, case.kernel), lambda: None),
            ("NumPy expert", case.expert, lambda: None),
        ]
        for (kernel, label), module in gpu_modules.items():
            if kernel == case.kernel:
                contenders.append((f"CUDA {label}", getattr(module, kernel), cuda.synchronize))
        record["timings"]["numba.njit"] = _summary(reference, {"identical": True, "max_rel_error": 0.0})
        for label, fn, sync in contenders:
            try:
                result = timed(fn, args, repeats, sync)
            except Exception as exc:  # one contender failing must not lose the others' figures
                record["timings"][label] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  {label}: {type(exc).__name__}: {exc}", flush=True)
                continue
            record["timings"][label] = _summary(
                result, compare(outputs(result["result"], result["args_after"]), want)
            )
            t = record["timings"][label]
            print(
                f"  {label}: {t['seconds'] * 1e3:.2f} ms (compile {t['compile']:.2f} s) identical={t['identical']}",
                flush=True,
            )
        print(f"  numba.njit: {reference['seconds'] * 1e3:.2f} ms", flush=True)
        if case.kernel in generated and "refused" in generated[case.kernel]:
            record["cuda_refused"] = generated[case.kernel]["refused"]
        elif not simulator:
            arrays_in = [a for a in args if isinstance(a, np.ndarray)]
            changed = [
                after
                for before, after in zip(args, reference["args_after"], strict=True)
                if isinstance(before, np.ndarray) and before.tobytes() != after.tobytes()
            ]
            returned = [reference["result"]] if isinstance(reference["result"], np.ndarray) else []
            record["transfer_seconds"] = transfer_seconds(cuda, arrays_in, returned + changed)
        records.append(record)

    report = {
        "device": device,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "versions": {
            "numba": numba.__version__,
            "numba-cuda": _version("numba-cuda"),
            "numpy": np.__version__,
        },
        "repeats": repeats,
        "quick": options.quick,
        "optc_cpu_seconds": optc_seconds,
        "optc_cpu_choices": labels,
        "command": " ".join(["python", "bench/gpu.py", *(argv if argv is not None else sys.argv[1:])]),
        "records": records,
        "cuda_sources": {f"{k} {label}": s for k, v in generated.items() for label, s in v.items()},
    }
    (out / "gpu.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "gpu.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def _summary(result: dict, check: dict) -> dict:
    return {
        "seconds": result["seconds"],
        "times": result["times"],
        "first_call": result["first_call"],
        "compile": result["compile"],
        **check,
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def markdown(report: dict) -> str:
    lines = [
        f"Device: {report['device']}; host: {report['host']['cpus']} CPUs; "
        f"numba {report['versions']['numba']}, numba-cuda {report['versions']['numba-cuda']}, "
        f"numpy {report['versions']['numpy']}; min of {report['repeats']} calls after a warm-up call.",
        "",
        "| kernel | n | contender | time | first call (compile) | vs numba.njit | same as njit |",
        "|---|---|---|---|---|---|---|",
    ]
    for record in report["records"]:
        base = record["timings"]["numba.njit"]["seconds"]
        size = f"{record['n']}" + (f", {record['steps']} steps" if record.get("steps") else "")
        for label, t in record["timings"].items():
            if "error" in t:
                lines.append(f"| {record['kernel']} | {size} | {label} | failed: {t['error']} | | | |")
                continue
            same = "bit-identical" if t["identical"] else f"max rel. error {t['max_rel_error']:.1e}"
            lines.append(
                f"| {record['kernel']} | {size} | {label} | {t['seconds'] * 1e3:.2f} ms | "
                f"{t['first_call']:.2f} s ({t['compile']:.2f} s) | {base / t['seconds']:.2f}x | {same} |"
            )
        if "transfer_seconds" in record:
            lines.append(
                f"| {record['kernel']} | {size} | (host↔device copies alone) | "
                f"{record['transfer_seconds'] * 1e3:.2f} ms | | | |"
            )
        if "cuda_refused" in record:
            lines.append(f"| {record['kernel']} | {size} | CUDA | refused: {record['cuda_refused']} | | | |")
    lines += ["", f"optc CPU optimized the file in {report['optc_cpu_seconds']:.1f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
