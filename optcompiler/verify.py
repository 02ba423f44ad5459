"""Differential testing: a candidate is emitted only if it computes what the original computes.

The original runs under plain CPython (numba's jit switched off while its module is imported):
what it computes with NumPy 2 is the truth. Each candidate runs as written, usually jitted, in a
worker subprocess watched from here, so one that segfaults or hangs fails alone and the next is
checked in a fresh worker. The timeout covers one candidate's import, compilation and runs.

Input sets ("cases"), generated deterministically in the worker from the argument types:
  - every size symbol a different small size, twice (5, 7, 3, ... and 6, 3, 8, ...);
  - all symbols equal: 1, 4, 9, 16, and 0 (empty loops, empty arrays);
  - the two distinct-size cases again with non-contiguous arrays (Fortran order for ndim >= 2,
    a strided view for 1-D), same values;
  - plus the caller's `examples`.
Float arrays hold seeded values in [-1, 1) or [0.5, 2) (alternately, so sqrt, log and division
have valid cases); int arrays values in [0, smallest size), so they can index (CSR kernels); bool
arrays random. An int parameter named like a size symbol gets its size (in a kernel without
arrays every int parameter is a size symbol), other ints 3, floats a seeded value in [0.5, 1.5),
bools True. Cases the original rejects (raises, or runs past its share of the timeout) are
skipped and named in the reason; fewer than two accepted cases fails every candidate.

Comparison, per case, of the return value and of every argument after the call (mutations must
match), each candidate on its own fresh copy of the inputs:
  - tuples, lists and dicts recursively; arrays: same shape and exactly the same dtype (float32
    where float64 was computed is a different program); a returned array must share memory with
    the same arguments as the original's (callers may write to it);
  - Python and NumPy scalars of equal value match, and so do an int and an equal float; a bool
    only matches a bool;
  - ints and bools exactly;
  - floats, strict policy: bit-identical (NaN matches NaN, whatever its payload; 0.0 does not
    match -0.0);
  - floats, default policy: NaN in the same places, ±inf in the same places with the same sign,
    finite values with |got - expected| <= rtol * max(1, max |expected finite values|), rtol =
    rtol64 for float64 and rtol32 for float32/float16 (complex: per part). The error is
    norm-wise, relative to the largest value of the result, because reassociated sums (the
    reordering the default policy allows) err relative to the magnitudes summed, not to each
    element: a cancelling element near 0 is allowed that absolute error.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from optcompiler import strictmath
from optcompiler._verify_worker import PROTOCOL_PREFIX, ArgSpec
from optcompiler.ir import ArgType

# How long the worker may take to start (interpreter, numpy, numba) on top of the time the original
# is given on the cases; the original is cut off per case inside the worker before this.
STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class FloatPolicy:
    strict: bool = False  # True: bit-identical results (NaN == NaN, and signed zeros must match)
    rtol64: float = 1e-9
    rtol32: float = 1e-4


@dataclass(frozen=True)
class CandidateSource:
    id: str  # e.g. "v3@njit"
    source: str  # a complete `def`, possibly decorated (e.g. "@numba.njit(cache=True)")
    name: str  # the function's name in `source`
    # errors on which the emitted dispatcher runs the original instead (`pipeline.retry_errors`)
    retry_original: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifyResult:
    id: str
    ok: bool
    reason: str  # one line: "matched on 7 input sets", "return value differs on case ...", ...
    seconds: float
    cases: int  # input sets compared
    measured: float | None = None  # min run time at the measurement sizes, when asked and passed
    compile_seconds: float | None = None  # import + first call (Numba compiling), when it passed
    # the CPython original's min run time at `measure_original`'s sizes (the same on every result)
    original_measured: float | None = None
    # Numba's one-time start in a process (its first compile of anything), measured with the original
    numba_start: float | None = None
    # the first accepted case `guard` (the dispatcher's shape conditions) refuses, "" for none
    guard_rejects: str = ""


def verify_candidates(
    prelude: str,
    original_source: str,
    original_name: str,
    candidates: Sequence[CandidateSource],
    args: Sequence[tuple[str, ArgType]],
    policy: FloatPolicy = FloatPolicy(),
    timeout: float = 120.0,
    stop_at_first: bool = True,
    examples: Sequence[dict[str, object]] = (),
    threads: int | None = None,
    measure: Mapping[str, int] | None = None,
    repeats: int = 5,
    env: Mapping[str, str] | None = None,
    measure_original: Mapping[str, int] | None = None,
    guard: Sequence[str] = (),
) -> list[VerifyResult]:
    """Check candidates (best first) against the original; one result per candidate tried.

    `prelude` is module-level code the functions need (imports, constants, helpers), run before
    each of them. A candidate's faults (errors, wrong results, crashes, hangs) come back as
    failed results; only wrong calls raise (ValueError, TypeError).

    With `measure` (size symbol -> size), each candidate that passes is also timed on one input
    set of those sizes, already compiled, on a fresh copy per run: `measured` is the minimum of
    `repeats` runs. Candidates run one after another in the same process, so the figures compare.
    `env` adds variables to the worker's environment (`NUMBA_ENABLE_CUDASIM=1` for CUDA lowerings).
    With `measure_original` (sizes), the original is timed under CPython on one input set of those
    sizes (`original_measured`), so compile time can be weighed against the time a call saves.
    `guard` (the dispatcher's shape conditions, source text over the arguments) is evaluated on
    every input set the original accepted: `guard_rejects` names the first it refuses.
    """
    specs = _arg_specs(args)
    _check_call(candidates, specs, examples, timeout)
    if not candidates:
        return []
    with tempfile.TemporaryDirectory(prefix="optc-verify-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        spec_path = _write_spec(
            folder,
            prelude,
            original_source,
            original_name,
            candidates,
            specs,
            policy,
            timeout,
            stop_at_first,
            examples,
            dict(measure) if measure is not None else None,
            repeats,
            dict(measure_original) if measure_original is not None else None,
            guard,
        )
        found: dict[str, float] = {}
        rejects: list[str] = []
        results = _run_workers(
            folder, spec_path, candidates, timeout, stop_at_first, threads, env, found, rejects
        )
        if "original" in found:
            start = found.get("numba_start")
            results = [replace(r, original_measured=found["original"], numba_start=start) for r in results]
        if rejects and rejects[0]:
            results = [replace(r, guard_rejects=rejects[0]) for r in results]
        return results


# ---- checking the call ---------------------------------------------------------------------------------


def _arg_specs(args: Sequence[tuple[str, ArgType]]) -> list[ArgSpec]:
    specs = []
    for name, at in args:
        if at.kind not in ("array", "float", "int", "bool"):
            raise ValueError(f"argument {name}: unknown kind {at.kind!r}")
        try:
            dtype = np.dtype(at.dtype)
        except TypeError as exc:
            raise ValueError(f"argument {name}: unknown dtype {at.dtype!r}") from exc
        if at.kind == "array" and dtype.kind not in "fciub":
            raise ValueError(f"argument {name}: cannot generate arrays of dtype {dtype}")
        if at.kind == "array" and at.ndim < 0:
            raise ValueError(f"argument {name}: negative ndim {at.ndim}")
        specs.append(ArgSpec(name, at.kind, dtype.name, at.ndim if at.kind == "array" else 0, tuple(at.dims)))
    return specs


def _check_call(
    candidates: Sequence[CandidateSource],
    specs: Sequence[ArgSpec],
    examples: Sequence[dict[str, object]],
    timeout: float,
) -> None:
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate argument names in {names}")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    for candidate in candidates:
        if not isinstance(candidate, CandidateSource):
            raise TypeError(f"expected CandidateSource, got {type(candidate).__name__}")
    for i, example in enumerate(examples, start=1):
        if set(example) != set(names):
            raise ValueError(f"example {i} names {sorted(example)}, the function takes {names}")


# ---- files for the worker ------------------------------------------------------------------------------


def _lines_before_def(candidate: CandidateSource) -> int:
    """Lines of helpers ahead of the candidate's decorated `def` in its source (checked math)."""
    lines = _clean(candidate.source).splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(f"def {candidate.name}(")), 0)
    while at > 0 and lines[at - 1].startswith("@"):
        at -= 1
    return at


def _write_spec(
    folder: Path,
    prelude: str,
    original_source: str,
    original_name: str,
    candidates: Sequence[CandidateSource],
    specs: Sequence[ArgSpec],
    policy: FloatPolicy,
    timeout: float,
    stop_at_first: bool,
    examples: Sequence[dict[str, object]],
    measure: dict[str, int] | None = None,
    repeats: int = 5,
    measure_original: dict[str, int] | None = None,
    guard: Sequence[str] = (),
) -> Path:
    """One module file per function, each prelude + `def`: `njit(cache=True)` needs a real file,
    and a candidate that does not even import then fails alone (and may reuse the original's name)."""
    original_path = folder / "_optc_original.py"
    original_path.write_text(_module_text(prelude, original_source), encoding="utf-8")
    entries = []
    for i, candidate in enumerate(candidates):
        path = folder / f"_optc_candidate_{i}.py"
        text = _module_text(prelude, candidate.source)
        path.write_text(text, encoding="utf-8")
        def_line = text.count("\n") - _clean(candidate.source).count("\n") + _lines_before_def(candidate)
        entries.append(
            {
                "path": str(path),
                "module": path.stem,
                "name": candidate.name,
                "def_line": def_line,
                "retry_original": candidate.retry_original,
            }
        )
    spec = {
        "original_path": str(original_path),
        "original_name": original_name,
        "candidates": entries,
        "args": list(specs),
        "arg_names": [s.name for s in specs],
        "examples": [dict(e) for e in examples],
        "policy": asdict(policy),
        "timeout": timeout,
        "stop_at_first": stop_at_first,
        "measure": measure,
        "measure_original": measure_original,
        "guard": list(guard),
        "repeats": repeats,
        "reference_path": str(folder / "reference.pkl"),
        "sys_path": [p or os.getcwd() for p in sys.path],
    }
    spec_path = folder / "spec.pkl"
    with spec_path.open("wb") as f:
        pickle.dump(spec, f)
    return spec_path


def _module_text(prelude: str, function_source: str) -> str:
    """The prelude, the imports a candidate's math helpers spell in full (`strictmath.imports`: the
    module may have imported them as `m` or `np`), and the function."""
    imports = "".join(f"{line}\n" for line in strictmath.imports(function_source))
    return f"{textwrap.dedent(prelude).rstrip()}\n{imports}\n\n{_clean(function_source)}\n"


def _clean(source: str) -> str:
    return textwrap.dedent(source).strip()


# ---- driving workers -----------------------------------------------------------------------------------


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads_env(threads: int | None) -> dict[str, str]:
    """BLAS thread counts for a measuring worker. OpenBLAS threads spin while they wait for each
    other: on a machine other work keeps busy, a BLAS call with one thread per core measures 10x to
    1000x slower than with the cores that are free, and the measured pick would then reject every
    BLAS variant. So: the thread count asked for (`--threads`), else the cores the load average
    leaves idle when the machine is busy; a user's own setting of these variables always stands."""
    if any(name in os.environ for name in _BLAS_THREADS):
        return {}
    if threads is None:
        cores = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0]
        except (OSError, AttributeError):  # not available on this platform
            return {}
        threads = max(1, int(cores - busy + 0.5))
        if threads >= cores:
            return {}
    return {name: str(threads) for name in _BLAS_THREADS}


class _Worker:
    """One worker process and a thread that turns its protocol lines into events on a queue.

    `entry` is the module whose `main([SPEC, START])` runs in it (costmodel.measure reuses this
    machinery with its own worker); `extra_env` adds variables (thread counts of BLAS libraries)."""

    def __init__(
        self,
        folder: Path,
        spec_path: Path,
        start: int,
        threads: int | None = None,
        entry: str = "optcompiler._verify_worker",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.stderr_path = folder / f"worker-{start}.stderr"
        env = {**os.environ, **blas_threads_env(threads), **(extra_env or {})}
        if threads is not None:
            env["NUMBA_NUM_THREADS"] = str(threads)  # prange variants run on the thread count asked for
        env.update(
            NUMBA_CACHE_DIR=str(folder / "numba-cache"),
            NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING="1",
            PYTHONHASHSEED="0",
            PYTHONUNBUFFERED="1",
        )
        command = [
            sys.executable,
            "-c",
            f"import sys; from {entry} import main; sys.exit(main(sys.argv[1:]))",
            str(spec_path),
            str(start),
        ]
        with self.stderr_path.open("wb") as stderr:
            # Its own session, so a kill reaches everything it started and nothing else.
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=folder,
                env=env,
                start_new_session=True,
            )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        prefix = PROTOCOL_PREFIX.encode()
        for line in stream:
            if line.startswith(prefix):
                with contextlib.suppress(ValueError):  # a torn line is no event; the deadline still holds
                    self.events.put(json.loads(line[len(prefix) :]))
        self.events.put(None)  # end of output: the worker has exited (or closed its stdout)

    def next_event(self, deadline: float) -> dict[str, Any] | str | None:
        """The next event; None when the worker ended, "timeout" when the deadline passed first."""
        try:
            return self.events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return "timeout"

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def finish(self) -> str:
        """Wait for the worker to exit; a description of how it did, for a candidate it took down."""
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        if code < 0:
            return f"crashed (signal {-code})"
        tail = self.stderr_tail()
        return f"the worker exited with status {code}" + (f": {tail}" if tail else "")

    def stderr_tail(self) -> str:
        try:
            lines = self.stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""


def _run_workers(
    folder: Path,
    spec_path: Path,
    candidates: Sequence[CandidateSource],
    timeout: float,
    stop_at_first: bool,
    threads: int | None = None,
    env: Mapping[str, str] | None = None,
    found: dict[str, float] | None = None,
    rejects: list[str] | None = None,
) -> list[VerifyResult]:
    """Run workers until every candidate has a verdict, or one passes under `stop_at_first`;
    `found["original"]` gets the original's time when a worker reports it (and `found["numba_start"]`
    Numba's one-time start); `rejects` the first worker's `guard_rejects`."""
    results: list[VerifyResult] = []

    def fail_rest(reason: str) -> list[VerifyResult]:
        results.extend(VerifyResult(c.id, False, reason, 0.0, 0) for c in candidates[len(results) :])
        return results

    while len(results) < len(candidates):
        worker = _Worker(folder, spec_path, len(results), threads, extra_env=env)
        try:
            event = worker.next_event(time.monotonic() + timeout + STARTUP_SECONDS)
            if event == "timeout":
                worker.kill()
                waited = timeout + STARTUP_SECONDS
                return fail_rest(f"the original did not finish on the generated inputs within {waited:g}s")
            if event is None:
                return fail_rest(f"verification worker failed before any candidate: {worker.finish()}")
            assert isinstance(event, dict)
            if event["event"] == "reference_failed":
                return fail_rest(str(event["reason"]))
            if rejects is not None and not rejects:
                rejects.append(str(event.get("guard_rejects") or ""))
            running: int | None = None
            began = time.monotonic()
            while True:
                event = worker.next_event(began + timeout)
                if event == "timeout" or event is None:
                    index = running if running is not None else len(results)
                    if event == "timeout":
                        worker.kill()
                        reason = f"timed out after {timeout:g}s"
                    else:
                        if running is None and len(results) == len(candidates):
                            return results
                        reason = worker.finish()
                    results.append(
                        VerifyResult(candidates[index].id, False, reason, time.monotonic() - began, 0)
                    )
                    break
                assert isinstance(event, dict)
                if event["event"] == "original":
                    if event.get("seconds") is not None and found is not None:
                        found["original"] = float(event["seconds"])
                        if event.get("numba_start") is not None:
                            found["numba_start"] = float(event["numba_start"])
                elif event["event"] == "start":
                    running, began = int(event["index"]), time.monotonic()
                    if running != len(results):
                        raise RuntimeError(
                            f"verification worker started candidate {running}, expected {len(results)}"
                        )
                elif event["event"] == "done":
                    # The worker's own clock: events may arrive here in one batch.
                    ok, seconds = bool(event["ok"]), float(event["seconds"])
                    measured = event.get("measured")
                    compiled = event.get("compile_seconds")
                    result = VerifyResult(
                        candidates[len(results)].id,
                        ok,
                        str(event["reason"]),
                        seconds,
                        int(event["cases"]),
                        float(measured) if measured is not None else None,
                        float(compiled) if compiled is not None else None,
                    )
                    results.append(result)
                    running, began = None, time.monotonic()
                    if ok and stop_at_first:
                        return results
        finally:
            worker.kill()
    return results
