"""optc against its peers on PolyBench-style corpus kernels: `bench/results/peers.{md,json,png}`.

    python bench/peers.py [--quick] [--kernels a,b] [--threads N] [--repeats R] [--no-pythran] [--out DIR]

For each kernel of BENCHMARK (a corpus kernel, its category and a large size), in one run on the
same inputs (`inputs(size)` of its corpus module):

- CPython: the original function. At the large size only when it fits CPYTHON_BUDGET seconds a
  call; otherwise at the largest of the kernel's corpus sizes that fits, estimated from the call
  at the size below it and how much longer njit takes at the larger one. The table says which
  size it ran at, and its speed-up column compares with optc at that same size.
- njit: plain `numba.njit` of the original.
- Pythran: the original function alone (its imports and the constants it reads, annotations
  dropped) compiled with a `#pythran export` line spelled from the inputs' types, `-O3
  -march=native`, no BLAS (`compiler.blas=none`); the modules are cached (PYTHRAN_CACHE). The
  column is left out, and the table says so, when pythran is not importable or `--no-pythran`.
- NumPy: the corpus module's `reference()`, what a NumPy expert writes.
- optc: `optcompiler.pipeline.optimize_source` on the kernel's file (default Config, told the
  kernel's argument types and its size profile at the benchmark size, as the decorator does for
  a call; `inputs` and `reference` excluded), the emitted module imported.

Every contender's outputs (return value, and the arguments the kernel documents as updated) are
checked against njit's within the float policy (rtol 1e-9 float64, 1e-4 float32, norm-wise;
integers exact) before anything is timed. Timing reuses bench/run.py: warm calls first (compile
excluded), interleaved rounds in rotating order, the minimum reported. Kernels that update their
arguments get them restored from a pristine copy before every call, outside the timed region.
"""

from __future__ import annotations

import argparse
import ast
import gc
import hashlib
import importlib.util
import inspect
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results"


def _load_run() -> ModuleType:
    """bench/run.py, whose checking, timing and environment helpers this benchmark shares."""
    name = "optc_bench_run_shared"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


run = _load_run()

CPYTHON_BUDGET = 5.0  # seconds a CPython call may take (estimated before it is made)
QUICK_CPYTHON_BUDGET = 0.5
PYTHRAN_FLAGS = ("-O3", "-march=native", "--config", "compiler.blas=none")
PYTHRAN_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "optc-bench" / "pythran"
CONTENDERS = ("cpython", "njit", "pythran", "numpy", "optc")  # column order
LABELS = {"cpython": "CPython", "njit": "njit", "pythran": "Pythran", "numpy": "NumPy", "optc": "optc"}
TARGETS = {  # the bar: optc's geomean over each peer, and no kernel behind njit by > 5%
    "optc_vs_njit": 1.5,
    "optc_vs_numpy": 1.0,
    "optc_vs_pythran": 1.0,
}
WORST_VS_NJIT = 0.95


# ---- the benchmark set ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One benchmark kernel: a corpus kernel, its PolyBench-style category, the `inputs(size)` it runs
    at (chosen so plain njit takes roughly 20-500 ms on the 2-core development machine) and at
    `--quick`."""

    kernel: str
    category: str
    size: int
    quick: int


LINALG, STENCIL, MINING, DP = "linear algebra", "stencil", "data mining", "dynamic programming"

BENCHMARK: tuple[Entry, ...] = (
    Entry("gemm", LINALG, 500, 24),
    Entry("two_mm", LINALG, 400, 16),
    Entry("syrk", LINALG, 600, 24),
    Entry("trmm", LINALG, 600, 24),
    Entry("doitgen", LINALG, 96, 8),
    Entry("atax", LINALG, 4000, 48),
    Entry("bicg", LINALG, 4000, 48),
    Entry("mvt", LINALG, 4000, 48),
    Entry("gemver", LINALG, 3000, 48),
    Entry("gesummv", LINALG, 4000, 48),
    Entry("symv_lower", LINALG, 4000, 64),
    Entry("cholesky", LINALG, 768, 32),
    Entry("lu_nopivot", LINALG, 640, 32),
    Entry("jacobi1d", STENCIL, 2_000_000, 4096),
    Entry("jacobi2d", STENCIL, 2000, 64),
    Entry("fdtd2d", STENCIL, 1000, 24),
    Entry("heat3d", STENCIL, 200, 12),
    Entry("gauss_seidel2d", STENCIL, 1500, 32),
    Entry("covariance", MINING, 600, 32),
    Entry("correlation", MINING, 600, 32),
    Entry("floyd_warshall", DP, 500, 24),
    Entry("nussinov", DP, 800, 24),
    Entry("edit_distance", DP, 5000, 40),
    Entry("lcs_length", DP, 8000, 40),
)

# `--quick` without `--kernels`: one kernel a category, at tiny sizes
QUICK_KERNELS = ("mvt", "jacobi1d", "covariance", "nussinov")


# ---- what optc and Pythran are told about a call ---------------------------------------------------------


def type_hint(value: object) -> str | None:
    """The numba-style type of an argument, for Config.arg_types (`float64[:, :]`, `int64`)."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name}[{', '.join(':' * value.ndim)}]"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int64"
    if isinstance(value, np.float32):
        return "float32"
    if isinstance(value, (float, np.floating)):
        return "float64"
    return None


def pythran_type(value: object) -> str:
    """The `#pythran export` spelling of an argument's type."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name}[{','.join(':' * value.ndim)}]"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, np.float32):
        return "float32"
    if isinstance(value, (float, np.floating)):
        return "float"
    raise TypeError(f"no Pythran type for {type(value).__name__}")


def size_profile(source: str, path: Path, name: str, args: Sequence[object]) -> dict[str, int]:
    """The kernel's size symbols bound to these arguments: the dimensions of its array parameters (as
    optc's analysis names them) and its int parameters that are size symbols (loop bounds)."""
    from optcompiler.analysis import analyze
    from optcompiler.frontend import lift_function

    kernel = lift_function(source, str(path), name)
    hints = {p.name: h for p, a in zip(kernel.params, args, strict=True) if (h := type_hint(a)) is not None}
    facts = analyze(kernel, hints)
    sizes: dict[str, int] = {}
    for param, value in zip(kernel.params, args, strict=True):
        dims = facts.array_dims.get(param.name)
        if dims and isinstance(value, np.ndarray):
            for symbol, extent in zip(dims, value.shape, strict=False):
                sizes[symbol] = max(sizes.get(symbol, 1), int(extent))
        elif param.name in facts.size_symbols and isinstance(value, (int, np.integer)):
            sizes[param.name] = max(1, int(value))
    return dict(sorted(sizes.items()))


# ---- the contenders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Optc:
    fn: Callable[..., Any] | None  # None: optc left the kernel as written or failed
    variant: str  # "rules @ target", or "unchanged: why" / "failed: why"
    seconds: float
    profile: dict[str, int]
    source: str  # the emitted kernel's module
    judged: str = ""  # optc's own account: predicted and measured speed-up over njit, candidates
    guard: tuple[str, ...] = ()  # the dispatcher's bounds conditions for calling the variant


def optimize(entry: Entry, kernel: Any, args: tuple[Any, ...], folder: Path, threads: int | None) -> Optc:
    """optc on the kernel's corpus file, told its argument types and sizes; the result imported."""
    from optcompiler.config import Config
    from optcompiler.pipeline import Emitted, Failed, optimize_source

    source = kernel.path.read_text(encoding="utf-8")
    params = list(inspect.signature(kernel.function).parameters)
    profile = size_profile(source, kernel.path, kernel.name, args)
    arg_types = tuple(
        sorted((f"{kernel.name}.{p}", h) for p, a in zip(params, args, strict=True) if (h := type_hint(a)))
    )
    config = replace(
        Config(),
        threads=threads,
        exclude=("inputs", "reference"),
        arg_types=arg_types,
        kernel_sizes=((kernel.name, tuple(profile.items())),),
    )
    start = time.perf_counter()
    result = optimize_source(source, str(kernel.path), config)
    seconds = time.perf_counter() - start
    (outcome,) = [k for k in result.kernels if k.kernel == kernel.name]
    if not isinstance(outcome, Emitted):
        word = "failed" if isinstance(outcome, Failed) else "unchanged"
        return Optc(None, f"{word}: {outcome.reason}", seconds, profile, result.output)
    out = folder / f"{kernel.name}_optc.py"
    out.write_text(result.output, encoding="utf-8")
    module = run.import_path(out, f"optc_peers_{kernel.name}")
    judged = [f"{outcome.candidates_considered} candidates"]
    if outcome.predicted_speedup is not None:
        judged.append(f"predicted {run.ratio_text(outcome.predicted_speedup)}")
    if outcome.measured_speedup is not None:
        judged.append(f"measured {run.ratio_text(outcome.measured_speedup)} at {outcome.measured_at}")
    return Optc(
        getattr(module, kernel.name),
        outcome.candidate.label,
        seconds,
        profile,
        result.output,
        ", ".join(judged),
        tuple(outcome.bounds),
    )


class _Routed(Exception):
    """Raised in place of the original kept beside optc's variant: the call went there."""


def routes_to_original(module: ModuleType, kernel: str, args: tuple[Any, ...]) -> bool:
    """Whether optc's public function hands these arguments to the original (`_<kernel>_original`)
    rather than to its variant. Unlike bench/run.py's FallbackProbe, the original is not run: at the
    benchmark size it would be CPython on a problem sized for njit."""
    from optcompiler import emit

    name = emit.original_name(kernel)
    original = getattr(module, name, None)
    if original is None:
        return False

    def refuse(*a: Any, **kw: Any) -> Any:
        raise _Routed

    setattr(module, name, refuse)  # the public function looks it up in the module's globals
    try:
        getattr(module, kernel)(*args)
    except _Routed:
        return True
    finally:
        setattr(module, name, original)
    return False


def pythran_source(path: Path, name: str, args: Sequence[object]) -> str:
    """The kernel alone, as Pythran takes it: the module's numpy/math imports, the module constants
    the function reads, the function without annotations, and its export line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    function.returns = None
    for a in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]:
        a.annotation = None
    reads = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Import) and all(a.name in ("numpy", "math") for a in node.names):
            body.append(node)
        elif (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id in reads for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            body.append(node)
    body.append(function)
    export = f"#pythran export {name}({', '.join(pythran_type(a) for a in args)})"
    return export + "\n" + ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n"


@dataclass(frozen=True)
class Pythran:
    fn: Callable[..., Any] | None
    note: str  # "compiled in 4.1 s", "from the cache", or why there is none
    compile_seconds: float | None


def pythran_version() -> str | None:
    try:
        import pythran
    except ImportError:
        return None
    return str(pythran.__version__)


def pythran_compile(path: Path, name: str, args: Sequence[object]) -> Pythran:
    """The kernel compiled by Pythran (cached by source, flags and versions), imported."""
    version = pythran_version()
    if version is None:
        return Pythran(None, "pythran is not installed (pip install 'optc[bench]')", None)
    source = pythran_source(path, name, args)
    key = hashlib.sha256(
        "\0".join([source, *PYTHRAN_FLAGS, version, sys.version, np.__version__]).encode()
    ).hexdigest()[:16]
    module_name = f"pythran_{name}_{key}"
    PYTHRAN_CACHE.mkdir(parents=True, exist_ok=True)
    built = PYTHRAN_CACHE / f"{module_name}.so"
    note, seconds = "from the cache", None
    if not built.exists():
        with tempfile.TemporaryDirectory(prefix="optc-pythran-") as tmp:
            src = Path(tmp) / f"{module_name}.py"
            src.write_text(source, encoding="utf-8")
            target = Path(tmp) / built.name
            command = [sys.executable, "-m", "pythran.run", *PYTHRAN_FLAGS, str(src), "-o", str(target)]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=tmp, timeout=600)
            seconds = time.perf_counter() - start
            if done.returncode != 0 or not target.exists():
                lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
                why = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "?")
                return Pythran(None, f"Pythran did not compile it: {why.strip()[:200]}", seconds)
            shutil.move(str(target), built)  # whole or not at all: a later run never sees half a file
        note = f"compiled in {seconds:.1f} s"
    spec = importlib.util.spec_from_file_location(module_name, built)
    if spec is None or spec.loader is None:
        return Pythran(None, f"cannot import {built}", seconds)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Pythran(getattr(module, name), note, seconds)


# ---- calling, checking and timing --------------------------------------------------------------------


def copies(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@dataclass(frozen=True)
class Call:
    """A kernel called on a copy of the arguments; those it updates are restored from the pristine
    inputs before each call (`reset`), so every call does the same work on the same data. The
    contenders at one size share that copy (`sharing`): the same buffers, so the same alignment;
    a few percent between runs of identical code came from where each copy landed."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    pristine: tuple[Any, ...]
    mutated: tuple[int, ...]  # positions of the arguments the kernel updates

    @classmethod
    def of(cls, fn: Callable[..., Any], pristine: tuple[Any, ...], mutated: tuple[int, ...]) -> Call:
        return cls(fn, copies(pristine), pristine, mutated)

    def sharing(self, fn: Callable[..., Any]) -> Call:
        """Another kernel on this call's very arguments."""
        return replace(self, fn=fn)

    def untouched(self) -> str | None:
        """Which argument the kernel does not document as updated but changed, if any."""
        for i, (now, was) in enumerate(zip(self.args, self.pristine, strict=True)):
            if i not in self.mutated and isinstance(was, np.ndarray):
                if not np.array_equal(now, was, equal_nan=was.dtype.kind in "fc"):
                    return f"it modified argument {i}, which the kernel leaves as it was"
        return None

    def reset(self) -> None:
        for i in self.mutated:
            np.copyto(self.args[i], self.pristine[i])

    def __call__(self) -> Any:
        self.reset()
        return self.fn(*self.args)

    def outputs(self) -> tuple[Any, ...]:
        """A fresh call's return value and updated arguments."""
        value = self()
        return (value, *(self.args[i].copy() for i in self.mutated))


def tolerance(value: Any) -> float:
    """The float policy: rtol 1e-4 for float32 results, 1e-9 other floats, integers exact."""
    kind = np.asarray(value).dtype
    if kind == np.float32 or kind == np.complex64:
        return 1e-4
    return 1e-9 if kind.kind in "fc" else 0.0


def disagreement(got: Any, want: Any) -> str | None:
    """Why `got` (a call's outputs) is not `want`, element by element; None if it is."""
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return f"{type(got).__name__} instead of a tuple of {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if (why := disagreement(g, w)) is not None:
                return f"output {i}: {why}"
        return None
    if want is None:
        return None if got is None else f"returned {type(got).__name__} instead of None"
    if got is None:
        return "returned None"
    return run.disagreement(got, want, tolerance(want))


def time_calls(calls: dict[str, Call], rounds: int, min_batch: float) -> dict[str, Any]:
    """Interleaved rounds: bench/run.py's for kernels that update nothing; one call a contender a
    round, its arguments restored just before, for those that do."""
    if not any(c.mutated for c in calls.values()):
        contenders = [run.Contender(name, c.fn, c.args) for name, c in calls.items()]
        return run.time_interleaved(contenders, rounds, min_batch)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        shift = r % len(names)
        for name in [*names[shift:], *names[:shift]]:
            call = calls[name]
            call()  # untimed: wakes its threads after the others ran
            call.reset()
            enabled = gc.isenabled()
            gc.disable()
            try:
                start = time.perf_counter()
                call.fn(*call.args)
                samples[name].append(time.perf_counter() - start)
            finally:
                if enabled:
                    gc.enable()
    return {name: run.Timing(min(s), statistics.median(s), 1, rounds) for name, s in samples.items()}


def once(call: Call) -> float:
    """One call's wall time, arguments restored first."""
    call.reset()
    start = time.perf_counter()
    call.fn(*call.args)
    return time.perf_counter() - start


# ---- one kernel -----------------------------------------------------------------------------------------


@dataclass
class Row:
    kernel: str
    category: str
    size: int
    arguments: str
    variant: str
    optc_sizes: dict[str, int]
    pythran: str
    optc_judged: str = ""
    optc_guard: tuple[str, ...] = ()
    optc_seconds: float = 0.0  # optimizing the file
    cpython_size: int | None = None
    cpython_note: str = ""
    seconds: dict[str, Any] = field(default_factory=dict)  # contender -> Timing at `size`
    small_seconds: dict[str, Any] = field(default_factory=dict)  # at cpython_size, when smaller
    compile_seconds: dict[str, float | None] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def describe_arguments(args: Sequence[Any]) -> str:
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(f"{a.dtype.name}[{'×'.join(str(d) for d in a.shape)}]")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def bench_one(
    entry: Entry,
    folder: Path,
    *,
    quick: bool,
    rounds: int,
    min_batch: float,
    budget: float,
    use_pythran: bool,
    threads: int | None,
) -> Row:
    import numba

    from optcompiler import corpus

    kernel = corpus.load(entry.kernel)
    size = entry.quick if quick else entry.size
    params = list(inspect.signature(kernel.function).parameters)
    mutated = tuple(params.index(m) for m in kernel.mutates)
    pristine = kernel.inputs(size)
    optc = optimize(entry, kernel, copies(pristine), folder, threads)
    if use_pythran:
        pythran = pythran_compile(kernel.path, kernel.name, pristine)
    else:
        pythran = Pythran(None, "not run (--no-pythran)", None)
    row = Row(
        kernel=entry.kernel,
        category=entry.category,
        size=size,
        arguments=describe_arguments(pristine),
        variant=optc.variant,
        optc_sizes=optc.profile,
        pythran=pythran.note,
        optc_judged=optc.judged,
        optc_guard=optc.guard,
        optc_seconds=optc.seconds,
    )
    row.compile_seconds["pythran"] = pythran.compile_seconds
    jitted = numba.njit(kernel.function)
    fns: dict[str, Callable[..., Any]] = {"njit": jitted}
    if pythran.fn is not None:
        fns["pythran"] = pythran.fn
    fns["numpy"] = kernel.reference
    if optc.fn is not None:
        # The probe's call is optc's first: its variant compiles then (the time less a warm call's).
        start = time.perf_counter()
        routed = routes_to_original(sys.modules[optc.fn.__module__], kernel.name, copies(pristine))
        row.compile_seconds["optc"] = time.perf_counter() - start
        if routed:
            row.compile_seconds["optc"] = None  # nothing compiled: the call never reached the variant
            guard = f" (bounds guard: {' and '.join(optc.guard)})" if optc.guard else ""
            row.notes.append(
                f"optc's dispatcher{guard} sends the benchmark's arguments to the original, which runs "
                "as CPython: no optc time"
            )
        else:
            fns["optc"] = optc.fn
    else:
        row.notes.append(f"optc shipped nothing ({optc.variant}): the kernel stays CPython; no optc time")

    first = Call.of(jitted, pristine, mutated)
    calls = {name: first.sharing(fn) for name, fn in fns.items()}
    # First calls compile (njit, optc's variant); they are also what is checked.
    outputs: dict[str, Any] = {}
    for name, call in calls.items():
        start = time.perf_counter()
        outputs[name] = call.outputs()
        if name == "njit":
            row.compile_seconds[name] = time.perf_counter() - start  # less a warm call, below
        if (why := call.untouched()) is not None:
            row.error = f"{LABELS[name]} at size {size}: {why}"
            return row
    for name in calls:
        if name != "njit" and (why := disagreement(outputs[name], outputs["njit"])) is not None:
            row.error = f"{LABELS[name]} disagrees with njit of the original at size {size}: {why}"
            return row

    times = time_calls(calls, rounds, min_batch)
    row.seconds.update(times)
    for name in ("njit", "optc"):
        if name in times and row.compile_seconds.get(name) is not None:
            row.compile_seconds[name] = max(0.0, row.compile_seconds[name] - times[name].min)

    cpython(row, kernel, entry, size, mutated, calls, budget, rounds, min_batch)
    if row.error:
        return row
    optc_t = times.get("optc")
    if optc_t is not None:
        for peer in ("njit", "numpy", "pythran"):
            if peer in times:
                row.ratios[f"optc_vs_{peer}"] = times[peer].min / optc_t.min
    for peer in ("numpy", "pythran", "optc"):
        if peer in times:
            row.ratios[f"{peer}_over_njit"] = times["njit"].min / times[peer].min
    return row


def cpython(
    row: Row,
    kernel: Any,
    entry: Entry,
    size: int,
    mutated: tuple[int, ...],
    calls: dict[str, Call],
    budget: float,
    rounds: int,
    min_batch: float,
) -> None:
    """Time the original under CPython at the largest size that fits `budget` a call (the benchmark
    size if it does), each step's cost estimated from the one before it and njit's times at both
    sizes; check it against njit there; at a smaller size optc and njit are timed there too."""
    candidates = sorted({s for s in kernel.sizes if s < size} | {size})
    chosen: tuple[int, float, Call, Call] | None = None  # size, CPython seconds, its call, njit's
    jitted = calls["njit"].fn
    for s in candidates:
        pristine = kernel.inputs(s) if s != size else calls["njit"].pristine
        njit_call = Call.of(jitted, pristine, mutated) if s != size else calls["njit"]
        if chosen is not None:
            prev_size, prev_cpy, _, prev_njit = chosen
            njit_s = min(once(njit_call) for _ in range(5))
            prev_njit_s = min(once(prev_njit) for _ in range(5))
            estimate = prev_cpy * njit_s / max(prev_njit_s, 1e-9)
            if estimate > budget:
                row.cpython_note = (
                    f"CPython timed at size {prev_size} ({run.seconds_text(prev_cpy)}): at size {s} it "
                    f"would take about {run.seconds_text(estimate)} a call (its time at {prev_size} times "
                    f"njit's ratio between the sizes), over the {budget:g} s budget; not run there"
                )
                break
        call = njit_call.sharing(kernel.function)
        chosen = (s, once(call), call, njit_call)
    assert chosen is not None
    s, first, call, njit_call = chosen
    row.cpython_size = s
    # Agreement at that size against njit (the same operations in the same order).
    if (why := disagreement(call.outputs(), njit_call.outputs())) is not None:
        row.error = f"CPython disagrees with njit at size {s}: {why}"
        return
    repeats = 3 if first * 3 <= budget else 1
    cpy = min([first, *(once(call) for _ in range(repeats - 1))])
    timing = run.Timing(cpy, cpy, 1, repeats)
    if s == size:
        row.seconds["cpython"] = timing
        if "optc" in row.seconds:
            row.ratios["optc_vs_cpython"] = cpy / row.seconds["optc"].min
        row.ratios["cpython_over_njit"] = row.seconds["njit"].min / cpy
        return
    small = {"njit": njit_call}
    if "optc" in calls:
        small["optc"] = njit_call.sharing(calls["optc"].fn)
        if (why := disagreement(small["optc"].outputs(), njit_call.outputs())) is not None:
            row.error = f"optc disagrees with njit at size {s}: {why}"
            return
    times = time_calls(small, rounds, min_batch)
    row.small_seconds = {"cpython": timing, **times}
    if "optc" in times:
        row.ratios["optc_vs_cpython"] = cpy / times["optc"].min
    row.ratios["cpython_over_njit"] = times["njit"].min / cpy


# ---- reporting ---------------------------------------------------------------------------------------------

RATIOS = ("optc_vs_njit", "optc_vs_numpy", "optc_vs_pythran", "optc_vs_cpython")
OVER_NJIT = ("cpython_over_njit", "numpy_over_njit", "pythran_over_njit", "optc_over_njit")


def geomeans(rows: Sequence[Row]) -> dict[str, float | None]:
    keys = (*RATIOS, *OVER_NJIT)
    return {k: run.geomean([r.ratios[k] for r in rows if k in r.ratios and not r.error]) for k in keys}


def verdicts(rows: Sequence[Row], means: dict[str, float | None], pythran_ran: bool) -> list[str]:
    """The issue's targets, each met or not, with the figure."""
    out = []
    for key, bar in TARGETS.items():
        peer = key.removeprefix("optc_vs_")
        value = means.get(key)
        if value is None:
            why = "Pythran not run" if peer == "pythran" and not pythran_ran else "no figure"
            out.append(
                f"- optc geomean over {LABELS[peer]}: — ({why}); target {'>' if bar == 1.0 and peer == 'pythran' else '≥'} {bar:g}x"
            )
            continue
        ok = value > bar if peer == "pythran" else value >= bar
        sign = ">" if peer == "pythran" else "≥"
        out.append(
            f"- optc geomean over {LABELS[peer]}: {run.ratio_text(value)} (target {sign} {bar:g}x): {'met' if ok else '**missed**'}"
        )
    behind = [r for r in rows if "optc_vs_njit" in r.ratios and r.ratios["optc_vs_njit"] < WORST_VS_NJIT]
    missing = [r.kernel for r in rows if "optc_vs_njit" not in r.ratios]
    text = ", ".join(f"{r.kernel} {run.ratio_text(r.ratios['optc_vs_njit'])}" for r in behind) or "none"
    out.append(
        f"- kernels slower than plain njit by more than 5%: {text}"
        + (f"; without an optc time: {', '.join(missing)}" if missing else "")
        + f": {'met' if not behind and not missing else '**missed**'}"
    )
    return out


def coverage(rows: Sequence[Row]) -> str:
    """Which kernels the geomeans are over: those optc has a time for (and Pythran, for its column)."""
    timed = [r for r in rows if "optc_vs_njit" in r.ratios]
    without = [r.kernel for r in rows if "optc_vs_njit" not in r.ratios]
    text = f"Geomeans are over the {len(timed)} of {len(rows)} kernels with an optc time"
    if without:
        text += (
            f"; {', '.join(without)} have none (an error, or optc shipped nothing that runs on these "
            "arguments, so the call stays CPython: see the notes) and count as misses below"
        )
    no_pythran = [r.kernel for r in timed if "optc_vs_pythran" not in r.ratios]
    if no_pythran and len(no_pythran) < len(timed):
        text += f"; the Pythran column leaves out {', '.join(no_pythran)} (no Pythran time)"
    return text + "."


def _cell(timing: Any) -> str:
    return run.seconds_text(timing.min if timing is not None else None)


def table(rows: Sequence[Row], means: dict[str, float | None]) -> str:
    head = [
        "kernel",
        "category",
        "size",
        "CPython",
        "njit",
        "Pythran",
        "NumPy",
        "optc",
        "optc vs njit",
        "vs NumPy",
        "vs Pythran",
        "vs CPython",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if row.error:
            lines.append(
                f"| {row.kernel} | {row.category} | {row.size:,} | **error**: {row.error} |" + " |" * 8
            )
            continue
        if "cpython" in row.seconds:
            cpy = _cell(row.seconds["cpython"])
        elif row.small_seconds:
            cpy = f"{_cell(row.small_seconds['cpython'])} at {row.cpython_size:,}†"
        else:
            cpy = "—"
        cells = [
            row.kernel,
            row.category,
            f"{row.size:,}",
            cpy,
            _cell(row.seconds.get("njit")),
            _cell(row.seconds.get("pythran")),
            _cell(row.seconds.get("numpy")),
            _cell(row.seconds.get("optc")),
            *(run.ratio_text(row.ratios.get(k)) for k in RATIOS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "| **geomean** | | | | | | | | "
        + " | ".join(f"**{run.ratio_text(means[k])}**" for k in RATIOS)
        + " |"
    )
    return "\n".join(lines)


def markdown(report: dict[str, Any], rows: Sequence[Row], means: dict[str, float | None]) -> str:
    hw, threads = report["hardware"], report["threads"]
    pythran_ran = any("pythran" in r.seconds for r in rows)
    lines = [
        "# optc against its peers: PolyBench-style corpus kernels",
        "",
        f"`{report['command']}` — {report['date']}",
        "",
        f"- machine: {hw['cpu']}, {hw['usable_cpus']} usable of {hw['logical_cpus']} logical CPUs, {hw['platform']}; "
        f"load average {report['load_average']} at the start",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- threads: Numba {threads['numba']}, BLAS "
        + (
            ", ".join(sorted({f"{p['internal_api']} {p['num_threads']}" for p in threads["blas"]}))
            if threads["blas"]
            else "unknown"
        )
        + (f" (--threads {threads['requested']})" if threads["requested"] else " (all cores)"),
        f"- timing: min over {report['rounds']} interleaved rounds after warm calls (compile excluded), "
        f"batches ≥ {report['min_batch_seconds'] * 1000:g} ms; kernels that update their arguments get them "
        "restored before each call, untimed; ratios > 1 mean optc is faster",
        "- every contender's outputs agree with plain njit of the original (rtol 1e-9 float64, 1e-4 float32, "
        "norm-wise; integers exact) at the benchmark size, and CPython's at its size",
        "- Pythran: "
        + (
            f"{report['pythran']['version']}, `pythran {' '.join(PYTHRAN_FLAGS)}` on the kernel alone"
            if report["pythran"]["version"] and report["pythran"]["used"]
            else "**not run**: " + report["pythran"]["why"] + "; its column is empty"
        ),
        f"- CPython: at the benchmark size when a call fits {report['cpython_budget']:g} s; † marks a smaller "
        "size (the next column's speed-up is optc's at that same size; the notes say why)",
        "",
        table(rows, means),
        "",
        coverage(rows),
        "",
        "Targets (issue 4):",
        "",
        *verdicts(rows, means, pythran_ran),
        "",
        "Geomean speed-up of each contender over plain njit: "
        + ", ".join(f"{LABELS[k.removesuffix('_over_njit')]} {run.ratio_text(means[k])}" for k in OVER_NJIT)
        + " (CPython's at its size).",
        "",
        "| kernel | arguments | what optc shipped | optc's own account | optc told | optimizing | njit compile "
        "| optc compile | Pythran |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        told = ", ".join(f"{k}={v:,}" for k, v in row.optc_sizes.items())
        lines.append(
            f"| {row.kernel} | {row.arguments} | {row.variant.replace('|', '/')} | {row.optc_judged or '—'} "
            f"| {told} | {row.optc_seconds:.1f} s | "
            f"{run.seconds_text(row.compile_seconds.get('njit'))} | {run.seconds_text(row.compile_seconds.get('optc'))} | "
            f"{row.pythran.replace('|', '/')} |"
        )
    notes = [
        f"- {r.kernel}: {n}" for r in rows for n in ([r.cpython_note] if r.cpython_note else []) + r.notes
    ]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def chart(rows: Sequence[Row], path: Path, title: str) -> str | None:
    """Log-scale bars: each contender's speed-up over plain njit, per kernel. None if written,
    else why not (matplotlib missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'optc[bench]'): no chart"
    shown = [r for r in rows if not r.error]
    series = [
        ("cpython_over_njit", "CPython (its size)", "#bbbbbb"),
        ("numpy_over_njit", "NumPy expert", "#4c72b0"),
        ("pythran_over_njit", "Pythran", "#dd8452"),
        ("optc_over_njit", "optc", "#55a868"),
    ]
    series = [s for s in series if any(s[0] in r.ratios for r in shown)]
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.6 * len(shown) + 2), 5.0))
    xs = np.arange(len(shown))
    for i, (key, label, color) in enumerate(series):
        values = [r.ratios.get(key, np.nan) for r in shown]
        ax.bar(xs + (i - (len(series) - 1) / 2) * width, values, width, label=label, color=color)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([r.kernel for r in shown], rotation=60, ha="right")
    ax.set_ylabel("speed-up over plain numba.njit (log)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    for key in ("seconds", "small_seconds"):
        data[key] = {k: asdict(v) for k, v in getattr(row, key).items()}
    return data


# ---- the command ----------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/peers.py",
        description="Time optc against CPython, numba.njit, Pythran and NumPy experts on corpus kernels.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few kernels: a smoke test")
    parser.add_argument("--kernels", help="comma-separated benchmark kernels (default: all; --quick: a few)")
    parser.add_argument("--threads", type=int, help="threads for Numba and BLAS (default: all cores)")
    parser.add_argument(
        "--repeats", type=int, help="interleaved rounds per kernel (default 7, 3 with --quick)"
    )
    parser.add_argument("--no-pythran", action="store_true", help="leave Pythran out even if installed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for peers.md, .json, .png")
    args = parser.parse_args(argv)
    known = {e.kernel for e in BENCHMARK}
    if args.kernels:
        wanted = [k.strip() for k in args.kernels.split(",") if k.strip()]
        unknown = [k for k in wanted if k not in known]
        if unknown:
            parser.error(
                f"not benchmark kernels: {', '.join(unknown)} (they are: {', '.join(sorted(known))})"
            )
        args.kernels = wanted
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_arguments(argv)
    run.ensure_thread_environment(args.threads, argv, Path(__file__))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    rounds = args.repeats or (3 if args.quick else 7)
    min_batch = 0.002 if args.quick else 0.02
    budget = QUICK_CPYTHON_BUDGET if args.quick else CPYTHON_BUDGET
    names = args.kernels or (list(QUICK_KERNELS) if args.quick else [e.kernel for e in BENCHMARK])
    entries = [e for e in BENCHMARK if e.kernel in names]
    use_pythran = not args.no_pythran and pythran_version() is not None
    why_no_pythran = (
        "--no-pythran" if args.no_pythran else "pythran is not installed (pip install 'optc[bench]')"
    )

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="optc-peers-") as tmp:
        for entry in entries:
            print(f"{entry.kernel} ...", file=sys.stderr, flush=True)
            rows.append(
                bench_one(
                    entry,
                    Path(tmp),
                    quick=args.quick,
                    rounds=rounds,
                    min_batch=min_batch,
                    budget=budget,
                    use_pythran=use_pythran,
                    threads=args.threads,
                )
            )

    means = geomeans(rows)
    report: dict[str, Any] = {
        "command": shlex.join(["python", "bench/peers.py", *argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hardware": run.hardware(),
        "load_average": " ".join(f"{x:.2f}" for x in load) if load else "unknown",
        "versions": {**run.versions(), "pythran": pythran_version()},
        "threads": run.thread_settings(args.threads),
        "quick": args.quick,
        "rounds": rounds,
        "min_batch_seconds": min_batch,
        "cpython_budget": budget,
        "pythran": {
            "version": pythran_version(),
            "used": use_pythran,
            "why": "" if use_pythran else why_no_pythran,
            "flags": list(PYTHRAN_FLAGS),
        },
        "targets": {**TARGETS, "worst_vs_njit": WORST_VS_NJIT},
        "rows": [row_json(r) for r in rows],
        "geomean": means,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(report, rows, means)
    (args.out / "peers.md").write_text(text, encoding="utf-8")
    (args.out / "peers.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    title = "optc and its peers: speed-up over plain numba.njit" + (" (--quick)" if args.quick else "")
    why_no_chart = chart(rows, args.out / "peers.png", title)
    print(text)
    print(
        f"wrote {args.out / 'peers.md'}, peers.json"
        + (f"; {why_no_chart}" if why_no_chart else ", peers.png"),
        file=sys.stderr,
    )
    errors = [r for r in rows if r.error]
    for r in errors:
        print(f"bench/peers.py: {r.kernel}: {r.error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
