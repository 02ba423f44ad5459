"""Speed-up benchmark: optc's output for examples/kernels.py against CPython, Numba and NumPy.

    python bench/run.py [--threads N] [--repeats R] [--quick] [--out bench/results]

Runs the optimizer on examples/kernels.py through its library entry point, telling it each
kernel's benchmark sizes (as a user would in [tool.optc]), imports the result next to the original
module, plain `numba.njit` of each original function and the NumPy experts of bench/experts.py,
checks that they all compute the same thing, then times them in interleaved rounds.
bench/README.md says what each column means.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import inspect
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "kernels.py"
EXPERTS = ROOT / "bench" / "experts.py"
DEFAULT_OUT = ROOT / "bench" / "results"

# Numba reads NUMBA_NUM_THREADS once, when it is first imported; the BLAS libraries behind NumPy
# read theirs when NumPy is. So --threads re-executes this script with all of them set.
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

RTOL = 1e-9  # the float64 policy of DESIGN.md: sums may be reordered, nothing else may change


# ---- what to run each example kernel on -------------------------------------------------------------


WINDOW = 16  # moving_average's window, `w`


@dataclass(frozen=True)
class Case:
    """How to call one example kernel: its arguments at a size, and the sizes to run it at.

    `size` is the benchmark size (njit, optc, NumPy); `small` is where CPython is timed, with optc
    beside it for the "vs CPython" column. `quick_*` are the sizes of `--quick`.

    `dims` and `constants` are what optc is told about the case, as a user would in `[tool.optc]`:
    the kernel's size symbols that are `n` (the local names it binds from shapes, `_` for a dimension
    nothing names), and int arguments its loops run to, such as moving_average's `w`.
    """

    make: Callable[[int, np.random.Generator], tuple[Any, ...]]
    size: int
    small: int
    quick_size: int
    quick_small: int
    shape: str  # how `n` maps to argument shapes, for the tables
    dims: tuple[str, ...]
    constants: tuple[tuple[str, int], ...] = ()

    def arguments(self, kernel: str, n: int) -> tuple[Any, ...]:
        """Deterministic: the seed depends only on the kernel's name and the size."""
        return self.make(n, np.random.default_rng([zlib.crc32(kernel.encode()), n]))

    def profile(self, n: int) -> dict[str, int]:
        """The kernel's size profile at `n`: symbol -> size, for Config.kernel_sizes."""
        return dict(sorted({**dict.fromkeys(self.dims, n), **dict(self.constants)}.items()))


def _two_squares(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    return rng.random((n, n)), rng.random((n, n))


def _square_and_vector(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    return rng.random((n, n)), rng.random(n)


def _grid(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    return (rng.random((n, n)),)


def _image_and_weight(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    return rng.random((n, n)), 0.3


def _signal_and_window(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    return rng.random(n), WINDOW


def _vector(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    return (rng.random(n),)


CASES: dict[str, Case] = {
    "gemm": Case(_two_squares, 400, 48, 48, 12, "A, B: n×n", ("n", "m", "p")),
    "matvec_cols": Case(_square_and_vector, 3000, 300, 200, 30, "A: n×n, x: n", ("n", "m")),
    "jacobi2d": Case(_grid, 2000, 200, 100, 20, "u: n×n", ("n", "m")),
    "blur": Case(_image_and_weight, 2000, 150, 100, 20, "img: n×n, weight=0.3", ("n", "m")),
    # `_` is its output's length, n - w + 1: n to within w
    "moving_average": Case(
        _signal_and_window, 2_000_000, 10_000, 10_000, 500, f"x: n, w={WINDOW}", ("n", "_"), (("w", WINDOW),)
    ),
    "sum_squares": Case(_vector, 10_000_000, 100_000, 20_000, 1_000, "x: n", ("_",)),
}


def benchmark_profiles(quick: bool) -> dict[str, dict[str, int]]:
    """Each example kernel's size profile at the size it is benchmarked at (njit, optc, NumPy)."""
    return {name: case.profile(case.quick_size if quick else case.size) for name, case in CASES.items()}


# ---- loading the contenders ----------------------------------------------------------------------------


def import_path(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench/run.py: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def public_functions(module: ModuleType) -> list[tuple[str, Callable[..., Any]]]:
    """The module's own public functions, in source order: the kernels optc optimizes."""
    found = [
        (name, fn)
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")
    ]
    return sorted(found, key=lambda item: item[1].__code__.co_firstlineno)


@dataclass(frozen=True)
class OptcRun:
    """What the optimizer made of the examples file."""

    output: str
    variants: dict[str, str]  # kernel -> "rules @ target", or "unchanged: why" / "failed: why"
    emitted: frozenset[str]
    predicted: dict[str, float | None]
    seconds: float
    config: dict[str, Any]


def run_optc(
    source: str, path: Path, threads: int | None, profiles: dict[str, dict[str, int]] | None = None
) -> OptcRun:
    """optc on one file, through `optcompiler.pipeline.optimize_source`, with a Config that is the
    default but for `threads` and a size profile per kernel (`profiles`: kernel -> symbol -> size)."""
    try:
        from optcompiler.config import Config
        from optcompiler.pipeline import Emitted, Failed, optimize_source
    except ImportError as exc:
        raise SystemExit(
            f"bench/run.py: cannot import the optimizer (optcompiler.pipeline): {exc}\n"
            "optc is not installed, or its pipeline is incomplete; run `pip install -e .` in the "
            "repository root. Nothing was measured."
        ) from exc
    kernel_sizes = tuple(
        (kernel, tuple(sorted(profile.items()))) for kernel, profile in sorted((profiles or {}).items())
    )
    config = replace(Config(), threads=threads, kernel_sizes=kernel_sizes)
    start = time.perf_counter()
    result = optimize_source(source, str(path), config)
    seconds = time.perf_counter() - start
    variants: dict[str, str] = {}
    predicted: dict[str, float | None] = {}
    emitted: set[str] = set()
    for kernel in result.kernels:
        if isinstance(kernel, Emitted):
            variants[kernel.kernel] = kernel.candidate.label
            predicted[kernel.kernel] = getattr(kernel, "predicted_speedup", None)
            emitted.add(kernel.kernel)
        else:
            outcome = "failed" if isinstance(kernel, Failed) else "unchanged"
            variants[kernel.kernel] = f"{outcome}: {kernel.reason}"
    return OptcRun(
        result.output,
        variants,
        frozenset(emitted),
        predicted,
        seconds,
        asdict(config),
    )


# ---- checking and timing -------------------------------------------------------------------------------


def disagreement(got: Any, want: Any, rtol: float = RTOL) -> str | None:
    """Why `got` is not `want` (None if it is): same shape and dtype, equal within a relative
    tolerance, measured norm-wise (atol = rtol × max |want|) so entries near zero do not fail."""
    got_a, want_a = np.asarray(got), np.asarray(want)
    if got_a.shape != want_a.shape:
        return f"shape {got_a.shape} instead of {want_a.shape}"
    if want_a.ndim and got_a.dtype != want_a.dtype:
        return f"dtype {got_a.dtype} instead of {want_a.dtype}"
    if want_a.size == 0:
        return None
    scale = float(np.max(np.abs(want_a)))
    if np.allclose(got_a, want_a, rtol=rtol, atol=rtol * scale, equal_nan=True):
        return None
    worst = float(np.max(np.abs(got_a.astype(np.float64) - want_a.astype(np.float64))))
    return f"differs by up to {worst:.3g} (max |value| {scale:.3g}, rtol {rtol:g})"


def first_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, float]:
    """The result and wall time of a call that may compile (Numba compiles on the first call)."""
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def time_batch(fn: Callable[..., Any], args: tuple[Any, ...], number: int) -> float:
    """Seconds per call over `number` back-to-back calls, with the garbage collector off (as timeit)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def warm_up(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float, calls: int = 3) -> float:
    """Call until both `calls` calls and `seconds` have passed (thread pools started and awake);
    returns the fastest call's time."""
    start, fastest = time.perf_counter(), math.inf
    done = 0
    while done < calls or time.perf_counter() - start < seconds:
        before = time.perf_counter()
        fn(*args)
        fastest = min(fastest, time.perf_counter() - before)
        done += 1
    return fastest


def calls_per_batch(fn: Callable[..., Any], args: tuple[Any, ...], min_batch: float) -> int:
    """The fewest of 1, 2, 5, 10, 20, ... calls that last `min_batch` s at the fastest call's pace
    seen while warming up. The fastest, not a typical call: on a busy machine one call in a few
    stalls for milliseconds, and sizing batches by those would leave batches of a single call."""
    fastest = warm_up(fn, args, min_batch)
    number = 1
    while True:
        for calls in (number, 2 * number, 5 * number):
            if calls * fastest >= min_batch:
                return calls
        number *= 10


@dataclass(frozen=True)
class Timing:
    """Seconds per call over the rounds: the minimum (reported) and the median (a noise check)."""

    min: float
    median: float
    calls_per_round: int
    rounds: int


@dataclass(frozen=True)
class Contender:
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]


def time_interleaved(contenders: Sequence[Contender], rounds: int, min_batch: float) -> dict[str, Timing]:
    """Each round times every contender once (one batch each), in an order that rotates per
    round, so slow drifts of the machine (frequency, other load) hit all contenders alike.

    A contender fast enough to need several calls a batch gets one untimed call first: its
    threads (Numba's, BLAS's) went to sleep while the others ran, and waking them can take
    milliseconds on a virtual machine. What is reported is the steady state of repeated calls."""
    numbers = {c.name: calls_per_batch(c.fn, c.args, min_batch) for c in contenders}
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        shift = r % len(contenders)
        for c in [*contenders[shift:], *contenders[:shift]]:
            if numbers[c.name] > 1:
                c.fn(*c.args)
            samples[c.name].append(time_batch(c.fn, c.args, numbers[c.name]))
    return {name: Timing(min(s), statistics.median(s), numbers[name], rounds) for name, s in samples.items()}


# ---- one kernel ----------------------------------------------------------------------------------------


@dataclass
class Row:
    kernel: str
    variant: str
    optimized: bool
    predicted_speedup: float | None
    sizes: dict[str, Any]
    seconds: dict[str, Timing] = field(default_factory=dict)
    compile_seconds: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


# optc's public function hands argument types it was not verified on to the original, which then runs
# as CPython. `FallbackProbe` sees that happen; where it cannot (no original found), an optimized kernel
# no faster than this fraction of CPython at the small size is taken to fall back.
FALLBACK_SUSPECT = 0.5


@dataclass(frozen=True)
class FallbackProbe:
    """Whether a call of optc's public function went to the original kept beside the variant
    (emit names it `_<kernel>_original`), rather than to the compiled variant."""

    module: ModuleType

    def original_name(self, kernel: str) -> str | None:
        from optcompiler import emit

        naming = getattr(emit, "original_name", None)
        name = naming(kernel) if naming is not None else None
        return name if name is not None and inspect.isfunction(getattr(self.module, name, None)) else None

    def __call__(self, kernel: str, args: tuple[Any, ...]) -> bool | None:
        """True: the call ran the original; False: it did not; None: cannot tell."""
        name = self.original_name(kernel)
        if name is None:
            return None
        original = getattr(self.module, name)
        calls: list[tuple[Any, ...]] = []

        def counting(*a: Any, **kw: Any) -> Any:
            calls.append(a)
            return original(*a, **kw)

        setattr(self.module, name, counting)  # the public function looks it up in the module's globals
        try:
            getattr(self.module, kernel)(*args)
        finally:
            setattr(self.module, name, original)
        return bool(calls)


def bench_kernel(
    name: str,
    case: Case,
    original: Callable[..., Any],
    jitted: Callable[..., Any],
    optimized: Callable[..., Any],
    expert: Callable[..., Any],
    run: OptcRun,
    probe: Callable[[str, tuple[Any, ...]], bool | None],
    *,
    quick: bool,
    rounds: int,
    min_batch: float,
) -> Row:
    size, small = (case.quick_size, case.quick_small) if quick else (case.size, case.small)
    row = Row(
        kernel=name,
        variant=run.variants.get(name, "not reported by optc"),
        optimized=name in run.emitted,
        predicted_speedup=run.predicted.get(name),
        sizes={"n": size, "small_n": small, "arguments": case.shape, "optc_profile": case.profile(size)},
    )
    full_args, small_args = case.arguments(name, size), case.arguments(name, small)

    # Compilation first, on fresh dispatchers: the first call's time minus a warm call's time.
    njit_full, njit_first = first_call(jitted, full_args)
    optc_small, optc_first = first_call(optimized, small_args)

    # Agreement at the small size against CPython itself, before anything is timed.
    want_small = original(*small_args)
    for label, got in (
        ("optc", optc_small),
        ("njit", jitted(*small_args)),
        ("NumPy", expert(*small_args)),
    ):
        if (why := disagreement(got, want_small)) is not None:
            row.error = f"{label} disagrees with CPython at n={small}: {why}"
            return row

    small_times = time_interleaved(
        [Contender("cpython_small", original, small_args), Contender("optc_small", optimized, small_args)],
        rounds,
        min_batch,
    )
    row.seconds.update(small_times)
    row.ratios["speedup_vs_cpython"] = small_times["cpython_small"].min / small_times["optc_small"].min

    contenders = [Contender("njit", jitted, full_args), Contender("numpy", expert, full_args)]
    falls_back = True
    routed = probe(name, small_args) if row.optimized else None
    if not row.optimized:
        row.notes.append(f"optc left {name} as written, so it runs as CPython: not timed at n={size}")
    elif routed:
        row.notes.append(
            f"optc's type guard sends these arguments to the original, which runs as CPython: "
            f"not timed at n={size}"
        )
    elif (
        routed is None and small_times["optc_small"].min > FALLBACK_SUSPECT * small_times["cpython_small"].min
    ):
        row.notes.append(
            f"optc's {name} is no faster than CPython at n={small}, as if it ran the original: "
            f"not timed at n={size}"
        )
    else:
        falls_back = False
        optc_full = optimized(*full_args)
        # Agreement at the benchmark size against njit of the original (same operations, same order).
        for label, got in (("optc", optc_full), ("NumPy", expert(*full_args))):
            if (why := disagreement(got, njit_full)) is not None:
                row.error = f"{label} disagrees with njit of the original at n={size}: {why}"
                return row
        contenders.insert(1, Contender("optc", optimized, full_args))

    times = time_interleaved(contenders, rounds, min_batch)
    row.seconds.update(times)
    row.compile_seconds["njit"] = max(0.0, njit_first - times["njit"].min)
    if not falls_back:
        # optc's first call was at the small size: its compile time is that call less a warm one.
        row.compile_seconds["optc"] = max(0.0, optc_first - small_times["optc_small"].min)
        row.ratios["optc_vs_njit"] = times["njit"].min / times["optc"].min
        row.ratios["optc_vs_numpy"] = times["numpy"].min / times["optc"].min
    return row


# ---- the environment -------------------------------------------------------------------------------------


def hardware() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_bytes": memory,
        "machine": platform.machine(),
        "platform": platform.platform(),
    }


def versions() -> dict[str, Any]:
    import llvmlite
    import numba

    import optcompiler

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "optc": optcompiler.__version__,
        "git": git_revision(),
    }


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def thread_settings(requested: int | None) -> dict[str, Any]:
    import numba

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = None
    else:
        blas = [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "threading_layer")}
            for pool in threadpool_info()
        ]
    return {
        "requested": requested,
        "numba": numba.get_num_threads(),
        "numba_threading_layer": _numba_threading_layer(),
        "blas": blas,
        "environment": {v: os.environ.get(v) for v in THREAD_VARIABLES},
    }


def _numba_threading_layer() -> str | None:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet, so no layer was chosen
        return None


def ensure_thread_environment(threads: int | None, argv: Sequence[str], script: Path | None = None) -> None:
    """With --threads N, run this script (or `script`, the benchmark that imports these helpers) again
    with every thread variable set to N (unless they already are), so Numba and the BLAS library see
    them when they are first imported."""
    if threads is None:
        return
    wanted = str(threads)
    if all(os.environ.get(v) == wanted for v in THREAD_VARIABLES):
        import numba

        if numba.config.NUMBA_NUM_THREADS != threads:
            raise SystemExit(
                f"bench/run.py: NUMBA_NUM_THREADS={wanted} is set but Numba runs "
                f"{numba.config.NUMBA_NUM_THREADS} threads (was it imported earlier?)"
            )
        return
    environment = dict(os.environ, **dict.fromkeys(THREAD_VARIABLES, wanted))
    sys.stdout.flush()
    script = (script or Path(__file__)).resolve()
    os.execve(sys.executable, [sys.executable, str(script), *argv], environment)


# ---- reporting ---------------------------------------------------------------------------------------------


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def geomean(values: Sequence[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


RATIOS = ("speedup_vs_cpython", "optc_vs_njit", "optc_vs_numpy")

COLUMNS = (
    "kernel",
    "chosen variant",
    "CPython (small)",
    "optc (small)",
    "speed-up vs CPython",
    "njit",
    "optc",
    "NumPy",
    "optc vs njit",
    "optc vs NumPy",
)


def table(rows: Sequence[Row], means: dict[str, float | None]) -> str:
    def t(row: Row, key: str) -> str:
        timing = row.seconds.get(key)
        return seconds_text(timing.min if timing else None)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        variant = row.variant.replace("|", "\\|")
        if row.error:
            cells = [row.kernel, variant, f"**error**: {row.error}", *[""] * (len(COLUMNS) - 3)]
        else:
            cells = [
                row.kernel,
                variant,
                t(row, "cpython_small"),
                t(row, "optc_small"),
                ratio_text(row.ratios.get("speedup_vs_cpython")),
                t(row, "njit"),
                t(row, "optc"),
                t(row, "numpy"),
                ratio_text(row.ratios.get("optc_vs_njit")),
                ratio_text(row.ratios.get("optc_vs_numpy")),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "| **geomean** | | | | "
        + ratio_text(means["speedup_vs_cpython"])
        + " | | | | "
        + ratio_text(means["optc_vs_njit"])
        + " | "
        + ratio_text(means["optc_vs_numpy"])
        + " |"
    )
    return "\n".join(lines)


def markdown(report: dict[str, Any], rows: Sequence[Row], means: dict[str, float | None]) -> str:
    hw, threads = report["hardware"], report["threads"]
    lines = [
        "# optc benchmark: examples/kernels.py",
        "",
        f"`{report['command']}` — {report['date']}",
        "",
        f"- machine: {hw['cpu']}, {hw['usable_cpus']} usable of {hw['logical_cpus']} logical CPUs, {hw['platform']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- threads: Numba {threads['numba']}, BLAS "
        + (
            ", ".join(sorted({f"{p['internal_api']} {p['num_threads']}" for p in threads["blas"]}))
            if threads["blas"]
            else "unknown"
        )
        + (f" (--threads {threads['requested']})" if threads["requested"] else " (all cores)"),
        f"- timing: min over {report['rounds']} interleaved rounds, each batch ≥ {report['min_batch_seconds'] * 1000:g} ms; ratios > 1 mean optc is faster",
        f"- optc optimized the file in {report['optc']['seconds']:.1f} s (default Config, told each "
        "kernel's benchmark sizes: the column optc sizes below)",
        "",
        table(rows, means),
        "",
        "| kernel | arguments | n | small n | optc sizes | njit compile | optc compile | median/min (optc) | optc predicted vs njit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        optc = row.seconds.get("optc")
        spread = f"{optc.median / optc.min:.2f}" if optc else "—"
        profile = ", ".join(f"{symbol}={size:,}" for symbol, size in row.sizes["optc_profile"].items())
        lines.append(
            f"| {row.kernel} | {row.sizes['arguments']} | {row.sizes['n']:,} | {row.sizes['small_n']:,} | {profile} | "
            f"{seconds_text(row.compile_seconds.get('njit'))} | {seconds_text(row.compile_seconds.get('optc'))} | "
            f"{spread} | {ratio_text(row.predicted_speedup)} |"
        )
    notes = [f"- {row.kernel}: {note}" for row in rows for note in row.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    data["seconds"] = {k: asdict(v) for k, v in row.seconds.items()}
    return data


# ---- the command ----------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Time optc's output for examples/kernels.py against CPython, numba.njit and NumPy.",
    )
    parser.add_argument("--threads", type=int, help="threads for Numba and BLAS (default: all cores)")
    parser.add_argument(
        "--repeats", type=int, help="interleaved timing rounds per kernel (default 7, 3 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short batches: a smoke test")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for bench.md and bench.json")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_arguments(argv)
    ensure_thread_environment(args.threads, argv)
    import numba

    rounds = args.repeats or (3 if args.quick else 7)
    min_batch = 0.002 if args.quick else 0.02
    source = EXAMPLES.read_text(encoding="utf-8")
    print(f"optimizing {EXAMPLES.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
    profiles = benchmark_profiles(args.quick)
    run = run_optc(source, EXAMPLES, args.threads, profiles)
    original = import_path(EXAMPLES, "optc_bench_original")
    experts = import_path(EXPERTS, "optc_bench_experts")
    kernels = public_functions(original)
    missing = [name for name, _ in kernels if name not in CASES or not hasattr(experts, name)]
    if missing:
        raise SystemExit(f"bench/run.py: no benchmark case or NumPy expert for {', '.join(missing)}")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="optc-bench-") as tmp:
        out_file = Path(tmp) / "kernels_optc.py"
        out_file.write_text(run.output, encoding="utf-8")
        optimized = import_path(out_file, "optc_bench_optimized")
        for name, fn in kernels:
            print(f"timing {name} ...", file=sys.stderr, flush=True)
            rows.append(
                bench_kernel(
                    name,
                    CASES[name],
                    fn,
                    numba.njit(cache=False)(fn),
                    getattr(optimized, name),
                    getattr(experts, name),
                    run,
                    FallbackProbe(optimized),
                    quick=args.quick,
                    rounds=rounds,
                    min_batch=min_batch,
                )
            )

    means = {key: geomean([r.ratios[key] for r in rows if key in r.ratios]) for key in RATIOS}
    command = shlex.join(["python", "bench/run.py", *argv])
    report: dict[str, Any] = {
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hardware": hardware(),
        "versions": versions(),
        "threads": thread_settings(args.threads),
        "quick": args.quick,
        "rounds": rounds,
        "min_batch_seconds": min_batch,
        "rtol": RTOL,
        "optc": {"seconds": run.seconds, "kernel_sizes": profiles, "config": run.config},
        "rows": [row_json(row) for row in rows],
        "geomean": means,
    }
    text = markdown(report, rows, means)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(text, encoding="utf-8")
    (args.out / "bench.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(text)
    print(f"wrote {args.out / 'bench.md'} and {args.out / 'bench.json'}", file=sys.stderr)
    errors = [row for row in rows if row.error]
    for row in errors:
        print(f"bench/run.py: {row.kernel}: {row.error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
