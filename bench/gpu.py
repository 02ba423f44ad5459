"""GPU benchmark: optc's CUDA lowering (passes/gpu.py) against numba.njit and optc's CPU output.

    python bench/gpu.py [--out DIR] [--repeats 5] [--quick]

On a GPU host, for each kernel below: the generated CUDA host wrapper (host-to-device and back
included, as a caller sees it), plain `numba.njit` of the original, optc's CPU output for the same
file (`optcompiler.pipeline.optimize_source`, told the benchmark sizes, all cores) and a NumPy
expert version. Each is called once to compile (reported separately, as first call minus a steady
call), then timed `--repeats` times on fresh copies of the inputs; the table shows the minimum.
Results are checked against njit: the CUDA wrapper must be bit-identical (the lowering is exact),
optc's CPU output within 1e-9 (it may reorder sums). Writes gpu_kernels.json and gpu_kernels.md to `--out`
(default $OUT, else bench/results). `--quick` uses tiny sizes: a smoke test that also runs on the
CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
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

# the untimed calls of a short contender after its warm-up (`settle`), as the records are made
from optcompiler.costmodel._measure_worker import SETTLE_CALL, SETTLE_SECONDS

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
    result = optimize_source(source, str(path), replace(Config(), target="cpu", kernel_sizes=kernel_sizes))
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


# ---- the corpus run: every corpus kernel with a CUDA lowering, at its sizes, against the CPU --------

# The launch configurations offered as variants are the GPU model's (`costmodel.gpu.LAUNCHES`, the
# untiled block shapes, and `TILED`, shared-memory tiles with and without register blocking), under
# their labels; duplicate sources are dropped. The simulator runs a Python thread per GPU thread:
# --quick uses small blocks.
QUICK_LAUNCHES = ("8x4", (8, 4), 32, (8, 2, 2))
QUICK_TILED = (("tile4", 4, 1), ("tile8r2", 8, 2))
RTOL = 1e-9  # the float64 policy: reassociated sums (marked reassoc) must agree to this
# Seconds of rest before each contender of a (kernel, size): OpenBLAS's threads spin for about
# 0.1 s after a call (and Numba's after a parallel region) before they sleep. Timed right after
# the NumPy reference, a parallel Numba variant shared every core with them: 4-343x its own time
# (clenshaw_chebyshev at 1000: 5.8 ms vs 0.017 ms in the host's one-process-per-kernel records).
SETTLE = 0.3
RTOL32 = 1e-4  # and float32 results (verify.FloatPolicy.rtol32)


@dataclass(frozen=True)
class GpuVariant:
    label: str
    source: str
    exact: bool  # bit-identical to the original by construction (else: within RTOL)


def corpus_lowerings(
    names: list[str], configs: tuple, inexact: bool, explored: int, most: int, tiled: tuple = ()
) -> tuple[dict, dict]:
    """kernel -> its CUDA variants, and kernel -> why it has none.

    The original body under each launch configuration (and tiled, where a nest is matmul-like),
    then up to `explored` other bodies from optc's exploration (`pipeline.explore`: interchanged
    loops, for instance, which can turn a 1-D grid into a 2-D one), each under the first
    configuration and tiled; at most `most` variants a kernel, distinct sources only.
    """
    from optcompiler import corpus
    from optcompiler.analysis import analyze
    from optcompiler.config import Config
    from optcompiler.frontend import lift_function
    from optcompiler.passes import gpu
    from optcompiler.pipeline import explore

    variants: dict[str, list[GpuVariant]] = {}
    refused: dict[str, str] = {}
    # the strictest policy that lowers: exact, then reordered float sums, then libdevice math
    policies = [("", {"allow_reassoc": False, "inexact_math": False})]
    policies.append((" reassoc", {"allow_reassoc": True, "inexact_math": False}))
    if inexact:
        policies.append((" inexact-math", {"allow_reassoc": True, "inexact_math": True}))
    for name in names:
        ck = corpus.load(name)
        try:
            kernel = lift_function(ck.path.read_text(encoding="utf-8"), str(ck.path), name)
        except Exception as exc:  # a kernel optc cannot lift has no GPU candidate; record why
            refused[name] = f"not lifted: {type(exc).__name__}: {exc}"
            continue
        facts = analyze(kernel, corpus_hints(ck))
        bodies = [("", kernel.body)]
        if explored:
            try:
                found_variants, _ = explore(kernel, facts, Config(quiet=True))
            except Exception as exc:  # exploration failing leaves the original body
                print(f"  {name}: explore failed: {type(exc).__name__}: {exc}", flush=True)
                found_variants = []
            for v in found_variants:
                if len(bodies) > explored:
                    break
                if v.body != kernel.body and gpu.refusal_reason(kernel, v.body, facts) is None:
                    rules = "+".join(dict.fromkeys(r.split(".")[-1] for r in v.derivation)) or "variant"
                    bodies.append((f" [{rules[:40]}]", v.body))
        seen: set[str] = set()
        found: list[GpuVariant] = []
        for index, (derived, body) in enumerate(bodies):
            for suffix, policy in policies:
                reason = gpu.refusal_reason(kernel, body, facts, **policy)
                if reason is not None:
                    if index == 0:
                        refused.setdefault(name, reason)  # the strictest policy's reason
                    continue
                # every block shape for the original body, the first for explored ones; every tiling
                for launch in [*configs[: 1 if index else None], *tiled]:
                    label = launch.label
                    source = gpu.lower_cuda(kernel, body, facts, **launch.lowering_options(), **policy)
                    if source is None or source in seen or len(found) >= most:
                        continue
                    seen.add(source)
                    exact = not suffix and index == 0  # explored bodies may reassociate: tolerance
                    found.append(GpuVariant(f"cuda {label}{suffix}{derived}", source, exact))
                if index == 0 and found:  # the first configuration again, host arrays page-locked
                    first = next(
                        c for c in [*configs, *tiled] if found[0].label.startswith(f"cuda {c.label}")
                    )
                    source = gpu.lower_cuda(
                        kernel, body, facts, **first.lowering_options(), pinned=True, **policy
                    )
                    if source is not None and source not in seen:
                        seen.add(source)
                        found.append(GpuVariant(f"{found[0].label} pinned", source, found[0].exact))
                break
        if found:
            refused.pop(name, None)
            variants[name] = found
    return variants, refused


def corpus_hints(ck: Any) -> dict[str, str]:
    """The corpus kernel's argument types as its inputs have them (float32 arrays included), as
    `@optimize` and `--arg-types` give them to the analysis."""
    from optcompiler.decorator import type_hint

    args = ck.inputs(ck.sizes[0])
    params = list(inspect.signature(ck.function).parameters)
    return {p: h for p, a in zip(params, args, strict=False) if (h := type_hint(a)) is not None}


def _optc_cpu_one(name: str, profile: tuple[tuple[str, int], ...]) -> tuple[str, str | None, str, float]:
    """optc's CPU output for one corpus kernel (run in a pool worker): (name, source, label, seconds)."""
    from optcompiler import corpus
    from optcompiler.config import Config
    from optcompiler.pipeline import Emitted, optimize_source

    ck = corpus.load(name)
    start = time.perf_counter()
    try:
        result = optimize_source(
            ck.path.read_text(encoding="utf-8"),
            str(ck.path),
            replace(
                Config(quiet=True),
                # the CPU side only: with the default target "auto" the emitted module would itself
                # send large calls to the GPU on this host, and its time would be the GPU's
                target="cpu",
                kernel_sizes=((name, profile),),
                # the inputs' own types (float32 arrays), as @optimize and --arg-types give them
                arg_types=tuple(sorted((f"{name}.{p}", h) for p, h in corpus_hints(ck).items())),
            ),
            only=frozenset({name}),
        )
    except Exception as exc:  # recorded, never fatal: the other contenders still run
        return name, None, f"failed: {type(exc).__name__}: {exc}", time.perf_counter() - start
    label = "?"
    for k in result.kernels:
        if k.kernel == name:
            label = k.candidate.label if isinstance(k, Emitted) else f"unchanged: {k.reason}"
    return name, result.output, label, time.perf_counter() - start


def optc_cpu_sources(
    profiles: dict[str, tuple[tuple[str, int], ...]], folder: Path, jobs: int, budget: float
) -> dict[str, tuple[str, float]]:
    """optc's CPU output per kernel, optimized in `jobs` processes at once within `budget` seconds,
    kept in `folder` (a rerun reuses them). kernel -> (label, seconds)."""
    import concurrent.futures
    import multiprocessing

    folder.mkdir(parents=True, exist_ok=True)
    labels: dict[str, tuple[str, float]] = {}
    todo = {}
    for name, profile in profiles.items():
        meta = folder / f"{name}.json"
        if meta.exists():
            saved = json.loads(meta.read_text())
            labels[name] = (saved["label"], saved["seconds"])
        else:
            todo[name] = profile
    if not todo:
        return labels
    deadline = time.monotonic() + budget
    pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    futures = [pool.submit(_optc_cpu_one, name, profile) for name, profile in todo.items()]
    try:
        for future in concurrent.futures.as_completed(futures, timeout=max(deadline - time.monotonic(), 1)):
            name, source, label, seconds = future.result()
            if source is not None:
                (folder / f"{name}.py").write_text(source)
            (folder / f"{name}.json").write_text(json.dumps({"label": label, "seconds": seconds}))
            labels[name] = (label, seconds)
            print(f"  optc CPU {name}: {label} ({seconds:.1f} s)", flush=True)
    except concurrent.futures.TimeoutError:
        print(
            f"  optc CPU: budget of {budget:.0f} s spent; {len(todo) - len(labels)} kernels left out",
            flush=True,
        )
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()  # the pool's own workers, still optimizing what the budget left out
    pool.shutdown(wait=False, cancel_futures=True)
    return labels


class Deadline(Exception):
    """The run's time budget is spent: stop measuring, keep what was measured."""


def measure(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    sync: Callable[[], None],
    *,
    repeats: int,
    budget: float,
    max_call: float,
    deadline: float,
    compiled: bool,
) -> dict[str, Any]:
    """A warm-up call (compile + run when not `compiled` yet: then a second, warm one follows), then
    up to `repeats` calls within `budget` seconds, each on fresh copies of the inputs, after `settle`
    when the warm call is short. A warm call slower than `max_call` is the only timing."""
    if time.monotonic() > deadline:
        raise Deadline
    inputs = fresh(args)
    start = time.perf_counter()
    result = fn(*inputs)
    sync()
    first = time.perf_counter() - start
    after = inputs
    times: list[float] = []
    warm = first
    if not compiled and time.monotonic() < deadline:
        inputs = fresh(args)
        start = time.perf_counter()
        fn(*inputs)
        sync()
        warm = time.perf_counter() - start
        times.append(warm)
    if warm <= SETTLE_CALL:
        settle(fn, args, sync, deadline)
    if warm <= max_call:
        spent = 0.0
        while len(times) < repeats and (len(times) < 2 or spent < budget) and time.monotonic() < deadline:
            inputs = fresh(args)
            start = time.perf_counter()
            fn(*inputs)
            sync()
            times.append(time.perf_counter() - start)
            spent += times[-1]
    return {
        "slow": warm > max_call,
        "seconds": min(times) if times else first,
        "median": float(np.median(times)) if times else first,
        "times": times,
        "first_call": first,
        "result": result,
        "args_after": after,
    }


def settle(fn: Callable[..., Any], args: tuple[Any, ...], sync: Callable[[], None], deadline: float) -> None:
    """Untimed calls of a short contender for up to SETTLE_SECONDS before its timed ones, as the
    cost-model records are timed (`costmodel._measure_worker._settle`): after the rest before each
    contender, the first prange calls of a few microseconds of work took milliseconds (conv2d_3x3
    at 48: 1.5 ms in this run, 9 us in the host's records) and a handful of timed calls saw only that."""
    began = time.perf_counter()
    while time.monotonic() < deadline:
        inputs = fresh(args)
        call = time.perf_counter()
        fn(*inputs)
        sync()
        now = time.perf_counter()
        if now - call > SETTLE_CALL or now - began > SETTLE_SECONDS:
            return


def split_transfers(
    module: Any, fn: Callable[..., Any], args: tuple[Any, ...], cuda: Any
) -> dict[str, float]:
    """One more call of a generated wrapper with its copy helpers timed: seconds spent copying
    host-to-device and device-to-host (launched kernels are waited for before each copy back)."""
    spent = {"to_device": 0.0, "to_host": 0.0}
    helpers = {key: getattr(module, f"_optc_{key}", None) for key in spent}

    def timed_helper(key: str, helper: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any) -> Any:
            cuda.synchronize()
            start = time.perf_counter()
            value = helper(*a)
            cuda.synchronize()
            spent[key] += time.perf_counter() - start
            return value

        return call

    for key, helper in helpers.items():
        if helper is not None:
            setattr(module, f"_optc_{key}", timed_helper(key, helper))
    try:
        inputs = fresh(args)
        cuda.synchronize()
        start = time.perf_counter()
        fn(*inputs)
        cuda.synchronize()
        total = time.perf_counter() - start
    finally:
        for key, helper in helpers.items():
            if helper is not None:
                setattr(module, f"_optc_{key}", helper)
    return {"h2d": spent["to_device"], "d2h": spent["to_host"], "instrumented_call": total}


def corpus_main(options: argparse.Namespace) -> int:
    """Measure every corpus kernel with a CUDA variant at its sizes, appending one JSON record per
    (kernel, size) to gpu_corpus.jsonl as soon as it is measured; a rerun resumes after them."""
    import numba
    from numba import cuda

    from optcompiler import corpus
    from optcompiler.analysis import analyze
    from optcompiler.costmodel.measure import bind_sizes
    from optcompiler.frontend import lift_function

    started = time.monotonic()
    deadline = started + options.budget
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    simulator = not hasattr(cuda, "libdevice")
    device = "CUDA simulator"
    if not simulator:
        dev_name = cuda.get_current_device().name
        device = dev_name.decode() if isinstance(dev_name, bytes) else str(dev_name)
    names = options.kernels.split(",") if options.kernels else corpus.names()
    from optcompiler.costmodel.gpu import LAUNCHES, TILED, LaunchConfig

    if options.quick:
        label, b2, b1, b3 = QUICK_LAUNCHES
        configs: tuple = (LaunchConfig(label, b2, b1, b3),)
        tiled: tuple = tuple(
            LaunchConfig(name, (t // r, t // r), b1, b3, tile=t, micro=r) for name, t, r in QUICK_TILED
        )
    else:
        configs, tiled = LAUNCHES[: options.launch_configs], TILED
    variants, refused = corpus_lowerings(
        names, configs, inexact=True, explored=options.explored, most=options.most_variants, tiled=tiled
    )
    (out / "gpu_lowering.json").write_text(
        json.dumps(
            {
                "lowered": {k: [v.label for v in vs] for k, vs in variants.items()},
                "refused": refused,
                "sources": {f"{k} {v.label}": v.source for k, vs in variants.items() for v in vs},
            },
            indent=1,
        )
    )
    print(f"{len(variants)} of {len(names)} kernels have a CUDA variant: {', '.join(variants)}", flush=True)

    records_path = out / "gpu_corpus.jsonl"
    done = set()
    if records_path.exists():
        for line in records_path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["kernel"], r["size"]))

    sizes_of: dict[str, list[int]] = {}
    arg_types: dict[str, Any] = {}
    profiles: dict[str, tuple[tuple[str, int], ...]] = {}
    for name in variants:
        ck = corpus.load(name)
        sizes = [max(2, s // options.shrink) for s in ck.sizes] if options.shrink > 1 else list(ck.sizes)
        sizes_of[name] = sorted(set(sizes))[: options.sizes]
        kernel = lift_function(ck.path.read_text(encoding="utf-8"), str(ck.path), name)
        facts = analyze(kernel, corpus_hints(ck))
        arg_types[name] = facts.arg_types
        middle = sizes_of[name][min(2, len(sizes_of[name]) - 1)]
        bound = bind_sizes(facts.arg_types, [p.name for p in kernel.params], ck.inputs(middle))
        profiles[name] = tuple(sorted(bound.items()))

    cpu_labels: dict[str, tuple[str, float]] = {}
    cpu_folder = out / "optc_cpu"
    if options.optc_jobs > 0:
        print(f"optc CPU: optimizing {len(profiles)} kernels, {options.optc_jobs} at once", flush=True)
        cpu_budget = min(options.optc_budget, max(deadline - time.monotonic() - 60, 0))
        cpu_labels = optc_cpu_sources(profiles, cpu_folder, options.optc_jobs, cpu_budget)

    folder = Path(tempfile.mkdtemp(prefix="optc-gpu-corpus-"))
    measured = 0
    # a kernel started by an earlier attempt that left no record of its end crashed it: skip it now
    started_path = out / "gpu_corpus_started.txt"
    begun = set(started_path.read_text().split()) if started_path.exists() else set()
    finished = {k for k in begun if all((k, size) in done for size in sizes_of.get(k, []))}
    try:
        for name in variants:
            if name in begun and name not in finished:
                print(f"{name}: skipped, an earlier attempt stopped in it", flush=True)
                continue
            with started_path.open("a") as f:
                f.write(name + "\n")
            ck = corpus.load(name)
            gpu_modules = []
            for v in variants[name]:
                module_name = f"gpu_{name}_{len(gpu_modules)}"
                prelude = _prelude(ck.path.read_text(encoding="utf-8"))
                gpu_modules.append((v, import_source(prelude + "\n\n" + v.source, module_name, folder)))
            cpu_module = None
            if (cpu_folder / f"{name}.py").exists():
                cpu_module = import_source((cpu_folder / f"{name}.py").read_text(), f"cpu_{name}", folder)
            njit = numba.njit(ck.function)
            capped: set[str] = set()
            called: set[str] = set()
            for index, size in enumerate(sizes_of[name]):
                if (name, size) in done:
                    continue
                args = ck.inputs(size)
                record: dict[str, Any] = {
                    "kernel": name,
                    "size": size,
                    "size_index": index,
                    "profile": bind_sizes(
                        arg_types[name], list(inspect.signature(ck.function).parameters), args
                    ),
                    "bytes_in": int(sum(a.nbytes for a in args if isinstance(a, np.ndarray))),
                    "device": device,
                    "timings": {},
                }
                # optc's CPU variant before the NumPy reference: BLAS's threads, still spinning after
                # the reference, took cores from a parallel variant timed next (SETTLE)
                contenders: list[tuple[str, Callable[..., Any], Callable[[], None], Any]] = [
                    ("numba.njit", njit, lambda: None, None)
                ]
                if cpu_module is not None:
                    label = cpu_labels.get(name, ("?", 0.0))[0]
                    contenders.append((f"optc CPU ({label})", getattr(cpu_module, name), lambda: None, None))
                contenders.append(("NumPy reference", ck.reference, lambda: None, None))
                for v, module in gpu_modules:
                    contenders.append((v.label, getattr(module, name), cuda.synchronize, (v, module)))
                want: list[np.ndarray] | None = None
                for label, fn, sync, gpu_variant in contenders:
                    key = label.split(" (")[0]
                    if key in capped:
                        record["timings"][label] = {"skipped": "slower than max_call at a smaller size"}
                        continue
                    first_use = key not in called
                    time.sleep(SETTLE)
                    try:
                        t = measure(
                            fn,
                            args,
                            sync,
                            repeats=options.repeats,
                            budget=options.call_budget,
                            max_call=options.max_call,
                            deadline=deadline,
                            compiled=not first_use,
                        )
                        called.add(key)
                    except Deadline:
                        raise
                    except Exception as exc:  # one contender failing must not lose the others' figures
                        record["timings"][label] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                        if gpu_variant is not None and "CUDA_ERROR" in str(exc):
                            # a sticky CUDA error poisons the context: save, and let the driver restart
                            with records_path.open("a") as f:
                                f.write(json.dumps(record, default=float) + "\n")
                            return 3
                        continue
                    got = outputs(t.pop("result"), t.pop("args_after"))
                    if want is None:
                        want = got
                        record["checked_against"] = label
                        check = {"identical": True, "max_rel_error": 0.0}
                    else:
                        check = compare(got, want)
                    entry = {**t, **check}
                    # the first call of a contender compiles it (numba, numba-cuda: lazily, per signature)
                    entry["compile"] = max(entry["first_call"] - entry["seconds"], 0.0) if first_use else None
                    if gpu_variant is not None:
                        v, module = gpu_variant
                        entry["exact"] = v.exact
                        # an exact variant must match njit bit for bit; against NumPy's reference (njit
                        # was too slow at this size) or for a reassociated sum, within the float policy
                        # float32: njit computes in Numba's kinds (float64 sums), the lowering in
                        # NumPy's, so they agree within the float policy's rtol32, not bit for bit
                        single = any(w.dtype == np.float32 for w in want)
                        strict = v.exact and record["checked_against"] == "numba.njit" and not single
                        tolerance = RTOL32 if single else RTOL
                        entry["ok"] = check["identical"] if strict else check["max_rel_error"] <= tolerance
                        if not simulator and entry["ok"]:
                            entry["transfers"] = split_transfers(module, fn, args, cuda)
                    if t["slow"]:
                        capped.add(key)
                    record["timings"][label] = entry
                with records_path.open("a") as f:
                    f.write(json.dumps(record, default=float) + "\n")
                measured += 1
                timed_ok = [(lbl, e["seconds"]) for lbl, e in record["timings"].items() if "seconds" in e]
                if timed_ok:
                    label, best = min(timed_ok, key=lambda x: x[1])
                    print(f"{name} size {size}: fastest {label} {best * 1e3:.3f} ms", flush=True)
                else:
                    print(f"{name} size {size}: every contender failed", flush=True)
    except Deadline:
        print(f"time budget of {options.budget:.0f} s spent: stopping, results so far are kept", flush=True)
        # the kernel in progress did not crash: a rerun (with these records) measures its other sizes
        kept = [k for k in started_path.read_text().split() if k != name]
        started_path.write_text("".join(f"{k}\n" for k in kept))
    summary = {
        "device": device,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "versions": {
            "numba": numba.__version__,
            "numba-cuda": _version("numba-cuda"),
            "numpy": np.__version__,
        },
        "options": vars(options),
        "optc_cpu": {k: {"label": v[0], "optimize_seconds": v[1]} for k, v in cpu_labels.items()},
        "kernels_with_cuda_variant": len(variants),
        "measured_this_run": measured,
        "not_measured": sorted(set(variants) - {k for k, _ in _record_keys(records_path)}),
        "seconds": time.monotonic() - started,
    }
    (out / "gpu_corpus_run.json").write_text(json.dumps(summary, indent=1, default=str))
    records = (
        [json.loads(x) for x in records_path.read_text().splitlines() if x.strip()]
        if records_path.exists()
        else []
    )
    (out / "gpu_corpus.md").write_text(corpus_markdown(summary, records))
    return 0


def _record_keys(path: Path) -> set[tuple[str, int]]:
    if not path.exists():
        return set()
    return {
        (r["kernel"], r["size"]) for r in map(json.loads, filter(str.strip, path.read_text().splitlines()))
    }


def _prelude(source: str) -> str:
    """The corpus module's imports, which the generated source may need (numpy as np, math)."""
    lines = [ln for ln in source.splitlines() if ln.startswith(("import ", "from "))]
    return "\n".join(lines)


def corpus_markdown(summary: dict, records: list[dict]) -> str:
    missing = ", ".join(summary.get("not_measured", [])) or "none"
    lines = [
        f"Kernels with a CUDA variant: {summary['kernels_with_cuda_variant']}; not measured (time budget): {missing}.",
        "",
        f"Device: {summary['device']}; host: {summary['host']['cpus']} CPUs; numba {summary['versions']['numba']}, "
        f"numba-cuda {summary['versions']['numba-cuda']}, numpy {summary['versions']['numpy']}.",
        "Times are the minimum over the timed calls (fresh inputs each), GPU times include every "
        "host↔device copy; `h2d`/`d2h` are those copies alone; compile = first call − best, at the first size.",
        "",
        "| kernel | size | best CPU | time | best CUDA | time (h2d + d2h) | GPU/CPU speed-up | CUDA check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        timings = {k: v for k, v in r["timings"].items() if "seconds" in v}
        cpu = {k: v for k, v in timings.items() if not k.startswith("cuda")}
        gpu = {k: v for k, v in timings.items() if k.startswith("cuda") and v.get("ok")}
        if not cpu:
            continue
        best_cpu = min(cpu, key=lambda k: cpu[k]["seconds"])
        row = f"| {r['kernel']} | {r['size']} | {best_cpu} | {cpu[best_cpu]['seconds'] * 1e3:.3f} ms |"
        if gpu:
            best_gpu = min(gpu, key=lambda k: gpu[k]["seconds"])
            g = gpu[best_gpu]
            tr = g.get("transfers")
            copies = f" ({tr['h2d'] * 1e3:.3f} + {tr['d2h'] * 1e3:.3f})" if tr else ""
            check = "bit-identical" if g["identical"] else f"rel. err. {g['max_rel_error']:.1e}"
            speedup = cpu[best_cpu]["seconds"] / g["seconds"]
            row += f" {best_gpu} | {g['seconds'] * 1e3:.3f} ms{copies} | {speedup:.2f}x | {check} |"
        else:
            bad = [
                f"{k}: {v.get('error') or 'mismatch'}"
                for k, v in r["timings"].items()
                if k.startswith("cuda")
            ]
            row += f" — | — | — | {'; '.join(bad)[:200]} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


# ---- the run ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "bench" / "results"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="kernels to run (default: all)")
    corpus_options = parser.add_argument_group("the corpus run (--corpus)")
    corpus_options.add_argument(
        "--corpus", action="store_true", help="every corpus kernel with a CUDA variant"
    )
    corpus_options.add_argument("--kernels", default="", help="comma-separated corpus kernels (default: all)")
    corpus_options.add_argument("--sizes", type=int, default=4, help="the first N of each kernel's SIZES")
    corpus_options.add_argument("--shrink", type=int, default=1, help="divide every size by this")
    corpus_options.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run")
    corpus_options.add_argument("--call-budget", type=float, default=0.3, help="seconds of timed calls each")
    corpus_options.add_argument(
        "--max-call", type=float, default=1.0, help="slower warm-up: larger sizes skipped"
    )
    corpus_options.add_argument("--launch-configs", type=int, default=2, help="how many block shapes to try")
    corpus_options.add_argument("--explored", type=int, default=1, help="explored bodies lowered per kernel")
    corpus_options.add_argument("--most-variants", type=int, default=4, help="CUDA variants per kernel")
    corpus_options.add_argument(
        "--optc-jobs", type=int, default=0, help="optimize for the CPU N at once (0: no)"
    )
    corpus_options.add_argument("--optc-budget", type=float, default=150.0, help="seconds for optc CPU")
    options = parser.parse_args(argv)
    if options.corpus:
        return corpus_main(options)
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
    (out / "gpu_kernels.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "gpu_kernels.md").write_text(markdown(report))
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
