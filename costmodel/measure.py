"""Robust timing of a kernel's candidates at several sizes, recorded for the learned cost model.

    python -m optcompiler.costmodel.measure --kernels gemv,gemm --top-k 3 \\
        --out costmodel/data/<hardware-id>.jsonl.gz

What is measured: for each kernel, the candidates the pipeline would consider (the top-K variants
by the analytic model at each of its sizes, unioned, plus the original), each under every target
available here (a variant with a `prange` also under plain `njit`, where it runs serially: that is
the "is parallel worth it" question; not where that serial program is already a candidate, as it
is when the prange was the only rewrite), at the kernel's sizes (a corpus kernel's `SIZES`, from
cache-resident to memory-bound, its arguments from `inputs(size)`).

How, and why so (the worker's docstring has the details):
  - one fresh worker process per kernel (verify's `_Worker`: killed on a deadline, restarted after
    the candidate that crashed or hung), so no batch inherits another's compiled code or heap;
  - compile time separately, from an explicit `compile()` of the first size's argument types;
  - a warm-up call per size, then min and median of up to N interleaved calls, each on a fresh
    copy of the inputs, within a time budget; the noise estimate (median - min) / min and the
    spread of the repeats are kept, with the load average before and after;
  - NUMBA_NUM_THREADS and the BLAS thread variables fixed for the worker and recorded;
  - each result appended to the records file the moment it arrives; a rerun skips the keys there
    (kernel, candidate, size, threads, hardware), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import os
import pickle
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from optcompiler.costmodel import dataset
from optcompiler.costmodel.dataset import Record, program_text

WORKER = "optcompiler.costmodel._measure_worker"
STARTUP_SECONDS = 60.0  # interpreter, numpy and numba imports, and the inputs module
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Settings:
    """How hard to measure. Defaults fit a shared 2-core machine: ~0.3 s of calls per measurement."""

    repeats: int = 15  # most timed calls per candidate and size
    min_repeats: int = 3  # fewest, even over budget
    budget: float = 0.3  # seconds of timed calls per candidate and size before stopping early
    max_call: float = 2.0  # a warm-up slower than this is the only timing; larger sizes skipped
    timeout: float = 120.0  # longest silence from the worker (one call, one round) before a kill
    threads: int | None = None  # None: every usable core

    def __post_init__(self) -> None:
        if not 1 <= self.min_repeats <= self.repeats:
            raise ValueError(f"need 1 <= min_repeats <= repeats, got {self.min_repeats}, {self.repeats}")
        if self.budget <= 0 or self.max_call <= 0 or self.timeout <= 0:
            raise ValueError("budget, max_call and timeout must be positive")


@dataclass(frozen=True)
class Planned:
    """One candidate to measure: what it is and the source the worker compiles."""

    id: str
    target: str
    derivation: tuple[str, ...]
    source: str  # a complete, decorated `def`
    name: str  # the function's name in `source`
    analytic: Mapping[int, float]  # corpus size -> analytic prediction (seconds)
    candidate: Any  # ir.Candidate, kept for features


@dataclass(frozen=True)
class KernelPlan:
    """A kernel's candidates (the original under njit first: the baseline) and sizes."""

    name: str
    kernel_hash: str
    prelude: str
    inputs_module: str
    inputs_function: str
    sizes: tuple[int, ...]
    bound: Mapping[int, Mapping[str, int]]  # corpus size -> size symbol -> value
    arg_types: Mapping[str, tuple[str, str, int, tuple[str, ...]]]
    candidates: tuple[Planned, ...]


# ---- planning ------------------------------------------------------------------------------------


def candidate_id(body: object, target: str, fastmath: Sequence[str] = ()) -> str:
    """Stable across runs and machines: the IR's s-expression and the target, hashed."""
    text = f"{body!r}|{target}|{','.join(sorted(fastmath))}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def bind_sizes(arg_types: Mapping[str, Any], params: Sequence[str], args: Sequence[object]) -> dict[str, int]:
    """Size symbol -> value, read off real arguments: array dimensions by their symbols, and int
    parameters that are size symbols (loop bounds). A dimension no name binds (`_`) takes the
    largest such dimension."""
    import numpy as np

    sizes: dict[str, int] = {}
    for name, value in zip(params, args, strict=True):
        at = arg_types.get(name)
        if at is None:
            continue
        if at.kind == "array" and isinstance(value, np.ndarray):
            for symbol, extent in zip(at.dims, value.shape, strict=False):
                symbol = symbol or "_"
                if symbol == "_":
                    sizes["_"] = max(sizes.get("_", 0), int(extent))
                else:
                    sizes.setdefault(symbol, int(extent))
        elif at.kind == "int" and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            sizes.setdefault(name, int(value))
    return sizes


def plan_corpus_kernel(name: str, top_k: int, size_indices: Sequence[int] | None = None) -> KernelPlan:
    """The candidates and sizes of one corpus kernel. Raises Unsupported/ValueError when the
    kernel cannot be lifted or has no loops (nothing to rank)."""
    from optcompiler import corpus

    ck = corpus.load(name)
    sizes = (
        ck.sizes if size_indices is None else tuple(ck.sizes[i] for i in size_indices if i < len(ck.sizes))
    )
    return plan_kernel(
        ck.path.read_text(encoding="utf-8"),
        str(ck.path),
        name,
        ck.inputs,
        ck.module.__name__,
        "inputs",
        sizes,
        top_k,
    )


def plan_kernel(
    source: str,
    path: str,
    name: str,
    make_inputs: Callable[[int], Sequence[object]],
    inputs_module: str,
    inputs_function: str,
    sizes: Sequence[int],
    top_k: int,
) -> KernelPlan:
    """Lift `name` from `source`, explore it, and pick the candidates to measure at `sizes`."""
    from optcompiler import frontend
    from optcompiler.analysis import analyze, contains_loop
    from optcompiler.config import Config
    from optcompiler.costmodel.analytic import estimate_seconds
    from optcompiler.costmodel.hardware import detect
    from optcompiler.ir import Candidate, Target
    from optcompiler.pipeline import explore, module_prelude, rank, variant_source

    kernel = frontend.lift_function(source, path, name)
    if not contains_loop(kernel.body):
        raise ValueError(f"{path}:{kernel.line}: {name} has no loops: nothing to rank")
    facts = analyze(kernel)
    params = [p.name for p in kernel.params]
    bound: dict[int, dict[str, int]] = {}
    for size in sizes:
        args = make_inputs(size)
        bound[size] = bind_sizes(facts.arg_types, params, args)
        del args
    hardware = detect()
    chosen: dict[str, Candidate] = {}
    original = Candidate(_original_variant(kernel), Target("njit"))
    chosen[candidate_id(original.variant.body, "njit")] = original
    for size in sizes:
        config = Config(sizes=tuple(sorted(bound[size].items())), top_k=max(top_k, 1))
        variants, _ = explore(kernel, facts, config)
        measurable = [
            c for c, _ in rank(variants, facts, config, hardware) if c.target.name in MEASURED_TARGETS
        ]
        for candidate in measurable[:top_k]:
            for target in _targets(candidate):
                c = Candidate(candidate.variant, target)
                chosen.setdefault(candidate_id(c.variant.body, target.name, target.fastmath), c)
    module = frontend.parse(source, path)
    planned: list[Planned] = []
    programs: set[str] = set()
    for cid, c in chosen.items():
        fname = f"_optc_measure_{len(planned)}"
        text = variant_source(kernel, c, name=fname)
        if program_text(text) in programs:  # a prange variant under njit that is another's twin
            continue
        programs.add(program_text(text))
        analytic = {
            size: estimate_seconds(c.variant.body, c.target, facts.arg_types, bound[size], hardware)
            for size in sizes
        }
        planned.append(
            Planned(
                id=cid,
                target=c.target.name,
                derivation=c.variant.derivation,
                source=text,
                name=fname,
                analytic=analytic,
                candidate=c,
            )
        )
    return KernelPlan(
        name=name,
        kernel_hash=hashlib.sha256(kernel.source.encode()).hexdigest()[:12],
        prelude="import numba\n" + module_prelude(module, kernel),
        inputs_module=inputs_module,
        inputs_function=inputs_function,
        sizes=tuple(sizes),
        bound=bound,
        arg_types={n: (t.kind, t.dtype, t.ndim, tuple(t.dims)) for n, t in facts.arg_types.items()},
        candidates=tuple(planned),
    )


_BLAS_CALL = re.compile(
    r"(?<![\w.])(?:np|numpy)\.(?:dot|vdot|inner|matmul|linalg\.\w+)\(|\.dot\(|[\w\])]\s*@=?\s*[\w(\[-]"
)


def calls_blas(source: str) -> bool:
    """Whether a candidate's source hands work to BLAS (`@`, `np.dot`, `np.linalg`, ...), decorator
    lines aside."""
    lines = (line.split("#", 1)[0] for line in source.splitlines() if not line.lstrip().startswith("@"))
    return any(_BLAS_CALL.search(line) for line in lines)


def batches(plan: KernelPlan) -> list[frozenset[int]]:
    """Which candidates are timed together in one worker: those that call BLAS apart from the
    others. A multithreaded BLAS keeps its threads spinning for a while after each call, and a
    prange region started then waits for cores: on the 16-core host a 10 us parallel loop took
    ~3.8 ms right after a matrix-vector product (bench/parallel_probe.py). Interleaved in one
    process, the BLAS candidates made every parallel one look ~10-100x slower than it runs alone."""
    everything = frozenset(range(len(plan.candidates)))
    blas = frozenset(i for i, c in enumerate(plan.candidates) if calls_blas(c.source))
    return [everything - blas, blas] if blas and blas != everything else [everything]


# Targets a worker can time: the pipeline also ranks plain-NumPy candidates (target "numpy") and CUDA
# lowerings, which no worker here runs yet, so calibration measures the top njit candidates only.
MEASURED_TARGETS = frozenset({"njit", "njit-parallel"})


def _original_variant(kernel: Any) -> Any:
    from optcompiler.ir import Variant

    return Variant(kernel.name, kernel.body, ())


def _targets(candidate: Any) -> list[Any]:
    """A prange variant runs under njit-parallel and, serially, under njit; others under njit."""
    from optcompiler.ir import Target

    if candidate.target.parallel:
        return [candidate.target, Target("njit", candidate.target.fastmath)]
    return [candidate.target]


# ---- running a batch -------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import llvmlite
    import numba
    import numpy

    from optcompiler import __version__

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "optc": __version__,
    }


def measure_plan(
    plan: KernelPlan,
    out: Path,
    settings: Settings = Settings(),
    done: set[tuple[str, str, int, int, str]] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> list[Record]:
    """Measure what `done` lacks of `plan` in fresh worker processes; append each record to `out`
    as it arrives and return them."""
    from optcompiler import verify
    from optcompiler.costmodel.features import llvm_features
    from optcompiler.costmodel.hardware import detect

    hardware = detect()
    threads = settings.threads or hardware.cores
    done = done or set()
    pending: dict[int, list[int]] = {}
    for size in plan.sizes:
        todo = [
            i
            for i, c in enumerate(plan.candidates)
            if (plan.name, c.id, size, threads, hardware.id) not in done
        ]
        if todo:
            pending[size] = todo
    if not pending:
        return []
    common = {
        "threads": threads,
        "hardware_id": hardware.id,
        "hardware": dataclasses.asdict(hardware),
        "versions": versions(),
        "kernel_hash": plan.kernel_hash,
        "arg_types": plan.arg_types,
        "batch": f"{plan.name}-{int(time.time())}-{os.getpid()}",
    }
    written: list[Record] = []
    compiled: dict[int, float] = {}
    llvm: dict[int, dict[str, float]] = {}
    excluded: set[int] = set()

    def record(index: int, size: int, status: str, **fields: Any) -> None:
        c = plan.candidates[index]
        times = tuple(float(t) for t in fields.pop("times", ()) or ())
        r = Record(
            kernel=plan.name,
            candidate_id=c.id,
            target=c.target,
            derivation=c.derivation,
            size=size,
            sizes=dict(plan.bound[size]),
            status=status,  # type: ignore[arg-type]
            seconds_min=min(times) if times else None,
            seconds_median=_median(times) if times else None,
            times=times,
            compile_seconds=compiled.get(index),
            source=c.source,
            llvm=llvm.get(index, {}),
            analytic_seconds=c.analytic.get(size),
            measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **common,
            **fields,
        )
        dataset.append(out, [r])
        written.append(r)
        pending[size] = [i for i in pending.get(size, []) if i != index]
        if not pending[size]:
            del pending[size]

    def drop_later(index: int, after: int, why: str) -> None:
        excluded.add(index)
        for size in sorted(pending):
            if size > after and index in pending[size]:
                record(index, size, "skipped", error=why)

    env = {v: str(threads) for v in THREAD_VARIABLES}

    def left(batch: frozenset[int]) -> dict[int, list[int]]:
        """What this batch still has to measure, by size."""
        return {s: kept for s, ix in pending.items() if (kept := [i for i in ix if i in batch])}

    def serve(worker: Any, batch: frozenset[int], folder: Path) -> None:
        """Read one worker's events until it finishes or dies, recording as they come."""
        current: tuple[str, int, int] | None = None  # ("warm", index, size) | ("round", -1, size)
        ready = False
        while True:
            wait = settings.timeout + (0 if ready else STARTUP_SECONDS)
            event = worker.next_event(time.monotonic() + wait)
            if event == "timeout" or event is None:
                timed_out = event == "timeout"
                if timed_out:
                    worker.kill()
                why = f"timed out after {wait:g}s" if timed_out else worker.finish()
                status = "timeout" if timed_out else "runtime_error"
                if current is None:
                    for size, ix in sorted(left(batch).items()):
                        for i in ix:
                            record(i, size, status, error=f"worker: {why}")
                elif current[0] == "warm":
                    _, i, size = current
                    if i in pending.get(size, []):
                        record(i, size, status, error=why)
                    drop_later(i, size, f"{status} at size {size}")
                else:
                    size = current[2]
                    for i in left(batch).get(size, []):
                        record(i, size, status, error=f"during timed rounds: {why}")
                break
            assert isinstance(event, dict)
            kind = event["event"]
            if kind == "ready":
                ready = True
            elif kind == "compiled":
                i = int(event["index"])
                if "error" in event:
                    excluded.add(i)
                    for size in sorted(pending):
                        if i in pending[size]:
                            record(i, size, "compile_error", error=str(event["error"]))
                else:
                    compiled.setdefault(i, float(event["seconds"]))
                    if i not in llvm:
                        llvm[i] = _read_llvm(folder / f"llvm-{i}.ll", llvm_features)
            elif kind == "size":
                current = ("round", -1, int(event["size"]))
                if on_event:
                    on_event(f"size {event['size']}")
            elif kind == "warm":
                current = ("warm", int(event["index"]), int(event["size"]))
            elif kind == "round":
                current = ("round", -1, int(event["size"]))
            elif kind == "result":
                i, size = int(event["index"]), int(event["size"])
                status = str(event["status"])
                if i not in pending.get(size, []):
                    continue  # already settled here (skipped after a failure)
                record(
                    i,
                    size,
                    status,
                    times=event.get("times", ()),
                    warmup_seconds=event.get("warmup"),
                    agrees=event.get("agrees"),
                    loadavg=tuple(event.get("loadavg") or (0.0, 0.0)),
                    error=str(event.get("error", "")),
                )
                if status == "too_slow":
                    drop_later(i, size, f"too slow at size {size}")
                elif status == "runtime_error":
                    drop_later(i, size, f"raised at size {size}")
            elif kind == "finished":
                # e.g. excluded after a compile error elsewhere
                for size, ix in sorted(left(batch).items()):
                    for i in ix:
                        record(i, size, "skipped", error="not run")
                break

    with tempfile.TemporaryDirectory(prefix="optc-measure-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        entries = _write_modules(folder, plan)
        for batch in batches(plan):
            starts = 0
            while left(batch) and starts <= len(plan.candidates) * len(plan.sizes) + 1:
                spec_path = folder / "spec.pkl"
                spec = {
                    "folder": str(folder),
                    "inputs_module": plan.inputs_module,
                    "inputs_function": plan.inputs_function,
                    "candidates": entries,
                    "warm": _warm_entry(folder, plan),
                    "todo": {s: [i for i in ix if i not in excluded] for s, ix in left(batch).items()},
                    "exclude": sorted(excluded),
                    "repeats": settings.repeats,
                    "min_repeats": settings.min_repeats,
                    "budget": settings.budget,
                    "max_call": settings.max_call,
                    "sys_path": [p or os.getcwd() for p in sys.path],
                }
                with spec_path.open("wb") as f:
                    pickle.dump(spec, f)
                worker = verify._Worker(folder, spec_path, starts, threads, entry=WORKER, extra_env=env)
                starts += 1
                try:
                    serve(worker, batch, folder)
                finally:
                    worker.kill()
    return written


def _median(times: Sequence[float]) -> float:
    import statistics

    return statistics.median(times)


def _read_llvm(path: Path, parse: Callable[[str], dict[str, float]]) -> dict[str, float]:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except OSError:
        return {}


def _warm_entry(folder: Path, plan: KernelPlan) -> dict[str, Any]:
    """A copy of the original's module under another file name, for the worker's warm-up compile."""
    from optcompiler.verify import _module_text

    path = folder / "_optc_measure_warm.py"
    path.write_text(_module_text(plan.prelude, plan.candidates[0].source), encoding="utf-8")
    return {"path": str(path), "module": path.stem, "name": plan.candidates[0].name}


def _write_modules(folder: Path, plan: KernelPlan) -> list[dict[str, Any]]:
    from optcompiler.verify import _module_text

    entries = []
    for i, c in enumerate(plan.candidates):
        path = folder / f"_optc_measure_{i}.py"
        text = _module_text(plan.prelude, c.source)
        path.write_text(text, encoding="utf-8")
        def_line = text.count("\n") - c.source.strip().count("\n")
        entries.append({"path": str(path), "module": path.stem, "name": c.name, "def_line": def_line})
    return entries


# ---- the command line ------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (a plain line per step when stderr is not a terminal)."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total, self.done, self.began = total, 0, time.monotonic()
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def show(self, what: str) -> None:
        width = 30
        filled = int(width * self.done / max(1, self.total))
        elapsed = time.monotonic() - self.began
        line = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} kernels {elapsed:5.0f}s  {what}"
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def step(self, what: str) -> None:
        self.done += 1
        self.show(what)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def default_out() -> Path:
    from optcompiler.costmodel.hardware import detect

    return Path("costmodel") / "data" / f"{detect().id}.jsonl.gz"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m optcompiler.costmodel.measure",
        description="Measure corpus kernels' candidates at their sizes; append records (resumable).",
    )
    p.add_argument("--kernels", default="all", help="comma-separated corpus kernel names, or 'all'")
    p.add_argument(
        "--sizes",
        default="all",
        help="indices into each kernel's SIZES (comma-separated, e.g. 0,1,2,3), or 'all'",
    )
    p.add_argument("--top-k", type=int, default=3, help="variants per size by the analytic model")
    p.add_argument("--out", type=Path, default=None, help="records file (.jsonl or .jsonl.gz)")
    p.add_argument("--repeats", type=int, default=Settings.repeats)
    p.add_argument("--min-repeats", type=int, default=Settings.min_repeats)
    p.add_argument(
        "--budget", type=float, default=Settings.budget, help="seconds of timed calls per measurement"
    )
    p.add_argument("--max-call", type=float, default=Settings.max_call)
    p.add_argument("--timeout", type=float, default=Settings.timeout)
    p.add_argument("--threads", type=int, default=None, help="NUMBA_NUM_THREADS (default: all usable cores)")
    p.add_argument("--retry-failed", action="store_true", help="measure again what failed before")
    p.add_argument("--budget-minutes", type=float, default=None, help="stop starting kernels after this")
    return p.parse_args(argv)


def _kernel_names(text: str) -> list[str]:
    from optcompiler import corpus

    known = corpus.names()
    if text == "all":
        return known
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown corpus kernel(s) {', '.join(unknown)}")
    return names


def _size_indices(text: str) -> list[int] | None:
    if text == "all":
        return None
    try:
        indices = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise SystemExit(f"error: --sizes takes indices like 0,1,2,3 or 'all', got {text!r}") from None
    if not indices or any(i < 0 for i in indices):
        raise SystemExit(f"error: --sizes takes non-negative indices, got {text!r}")
    return indices


def run(
    names: Iterable[str],
    out: Path,
    top_k: int,
    settings: Settings,
    size_indices: Sequence[int] | None = None,
    retry_failed: bool = False,
    deadline: float = math.inf,
) -> list[Record]:
    """Measure corpus kernels into `out`, skipping what it already holds."""
    from optcompiler.errors import Unsupported

    names = list(names)
    done = dataset.done_keys(out, retry_failed=retry_failed)
    progress = Progress(len(names))
    written: list[Record] = []
    try:
        for name in names:
            if time.monotonic() > deadline:
                progress.show("budget spent; rerun to resume")
                break
            progress.show(f"{name}: planning")
            try:
                plan = plan_corpus_kernel(name, top_k, size_indices)
            except (Unsupported, ValueError) as exc:
                progress.step(f"{name}: skipped ({exc})")
                continue
            except Exception as exc:  # a bug planning one kernel must not stop the others
                progress.step(f"{name}: skipped (internal error while planning: {type(exc).__name__}: {exc})")
                continue
            records = measure_plan(
                plan, out, settings, done, on_event=lambda what, n=name: progress.show(f"{n}: {what}")
            )
            written.extend(records)
            timed = sum(r.timed for r in records)
            progress.step(f"{name}: {len(records)} records, {timed} timed, {len(plan.candidates)} candidates")
    finally:
        progress.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings(
            repeats=args.repeats,
            min_repeats=args.min_repeats,
            budget=args.budget,
            max_call=args.max_call,
            timeout=args.timeout,
            threads=args.threads,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.top_k < 1:
        print("error: --top-k must be at least 1", file=sys.stderr)
        return 2
    names = _kernel_names(args.kernels)
    out = args.out or default_out()
    deadline = time.monotonic() + args.budget_minutes * 60 if args.budget_minutes else math.inf
    try:
        records = run(
            names, out, args.top_k, settings, _size_indices(args.sizes), args.retry_failed, deadline
        )
    except dataset.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    timed = sum(r.timed for r in records)
    print(f"{len(records)} records ({timed} timed) appended to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
