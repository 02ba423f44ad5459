"""The subprocess side of `costmodel.measure`: compile candidates, time them at each size.

A fresh process per batch (one kernel's candidates), started through `verify._Worker`, so one
candidate that crashes or hangs costs only a restart, and every batch starts with the same cold
state: nothing compiled, no caches from other kernels' runs. It imports numpy, numba and the
verification worker's helpers (inputs in their layout, comparison), not the compiler.

Protocol: `main([SPEC, START])`; SPEC is a pickle written by the parent (START is unused: the
parent rewrites the spec's `todo` before a restart). Events, one `@@optc@@ {json}` line each:
  ready                                   inputs module imported
  compiled   index, seconds | error       one per candidate (compile time for the first size's types)
  size       size, loadavg                a size begins
  warm       index, size                  candidate's first call at this size begins
  round      size, n                      an interleaved round of timed calls finished
  result     index, size, status, ...     one per (candidate, size) in `todo`
  finished
The candidate's LLVM IR is written to `llvm-<index>.ll` in the spec's folder.

Timing, per size: inputs are built once (`inputs(size)`); every call gets a fresh copy (outside
the timed region). Each candidate is first called once (the warm-up: page faults, lazy
initialisation; its result is compared with the baseline's), then, when its calls are short,
again for up to 0.1 s untimed (`_settle`). Candidates whose warm-up took more
than `max_call` seconds keep that one timing (`too_slow`) and are not run at larger sizes. The
others are then timed in interleaved rounds, each round calling every candidate once in a rotated
order, so load from other processes falls on all of them alike; rounds stop at `repeats`, or at
`min_repeats` once `budget` seconds per candidate are spent.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from optcompiler._verify_worker import (
    PROTOCOL_PREFIX,
    Case,
    Policy,
    _protocol_stream,
    compare,
    first_line,
    fresh_inputs,
    layout_of,
    load_function,
)

# Loose on purpose: this is a sanity flag on timing data, not the verification that gates
# emission; long reassociated sums at the largest sizes drift more than verify's 1e-9.
AGREEMENT = Policy(strict=False, rtol64=1e-6, rtol32=1e-3)


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return -1.0


def main(argv: Sequence[str]) -> int:
    spec_path = argv[0]
    out = _protocol_stream()
    faulthandler.enable()

    def emit(**event: object) -> None:
        out.write(PROTOCOL_PREFIX + json.dumps(event) + "\n")
        out.flush()

    with open(spec_path, "rb") as f:
        spec: dict[str, Any] = pickle.load(f)
    sys.path.extend(p for p in spec["sys_path"] if p not in sys.path)
    module = importlib.import_module(spec["inputs_module"])
    make_inputs: Callable[[int], tuple[Any, ...]] = getattr(module, spec["inputs_function"])
    emit(event="ready")

    todo: dict[int, list[int]] = {int(s): list(ix) for s, ix in spec["todo"].items()}
    sizes = sorted(todo)
    if not sizes:
        emit(event="finished")
        return 0
    candidates: list[dict[str, Any]] = spec["candidates"]
    excluded = set(spec["exclude"])  # crashed or hung in an earlier worker: never run again
    baseline = {0} - excluded  # the original under njit: its results are what others must agree with
    wanted = sorted({i for ix in todo.values() for i in ix} - excluded | baseline)
    funcs: dict[int, Callable[..., Any]] = {}
    first = make_inputs(sizes[0])
    _warm_compiler(spec.get("warm"), first)
    for i in wanted:
        cand = candidates[i]
        began = time.perf_counter()
        try:
            func = load_function(cand["path"], cand["module"], cand["name"])
            signature = _signature(first)
            func.compile(signature)  # type: ignore[attr-defined]
            seconds = time.perf_counter() - began
            with open(os.path.join(spec["folder"], f"llvm-{i}.ll"), "w", encoding="utf-8") as f:
                f.write(_llvm_text(func, signature))
        except Exception as exc:
            emit(event="compiled", index=i, error=first_line(exc, cand.get("def_line", 0)))
            continue
        funcs[i] = func
        emit(event="compiled", index=i, seconds=seconds)
    del first

    dropped: set[int] = set()  # too slow at a smaller size
    for size in sizes:
        load_before = _loadavg()
        emit(event="size", size=size, loadavg=load_before)
        values = make_inputs(size)
        case = Case(f"size {size}", tuple(values), tuple(layout_of(v) for v in values))
        active = [i for i in todo[size] if i in funcs and i not in dropped and i not in excluded]
        order = [0, *[i for i in active if i != 0]] if 0 in funcs else active
        warm: dict[int, float] = {}
        agrees: dict[int, bool | None] = {}
        expected: tuple[object, tuple[object, ...]] | None = None
        results: dict[int, dict[str, Any]] = {}
        for i in order:
            emit(event="warm", index=i, size=size)
            inputs = fresh_inputs(case)
            began = time.perf_counter()
            try:
                got = funcs[i](*inputs)
            except Exception as exc:
                results[i] = {"status": "runtime_error", "error": first_line(exc)}
                dropped.add(i)  # it would raise again at larger sizes
                continue
            warm[i] = time.perf_counter() - began
            if i == 0:
                expected = (got, tuple(inputs))
                agrees[i] = True
            else:
                agrees[i] = _agrees(expected, got, inputs)
            if warm[i] > spec["max_call"]:
                dropped.add(i)
                results[i] = {"status": "too_slow", "times": [warm[i]]}
            del got, inputs
            if i not in results:
                _settle(funcs[i], case)
        expected = None
        timed = [i for i in active if i in warm and i not in results]
        times: dict[int, list[float]] = {i: [] for i in timed}
        started = time.perf_counter()
        rounds = 0
        while timed:
            for k in range(len(timed)):
                i = timed[(rounds + k) % len(timed)]
                inputs = fresh_inputs(case)
                began = time.perf_counter()
                funcs[i](*inputs)
                times[i].append(time.perf_counter() - began)
                del inputs
            rounds += 1
            emit(event="round", size=size, n=rounds)
            spent = time.perf_counter() - started
            if rounds >= spec["repeats"] or (
                rounds >= spec["min_repeats"] and spent > spec["budget"] * len(timed)
            ):
                break
        load_after = _loadavg()
        for i in timed:
            results[i] = {"status": "ok", "times": times[i]}
        for i in active:
            result = results.get(i, {"status": "runtime_error", "error": "no result"})
            emit(
                event="result",
                index=i,
                size=size,
                warmup=warm.get(i),
                agrees=agrees.get(i),
                loadavg=[load_before, load_after],
                **result,
            )
        del case, values
    emit(event="finished")
    return 0


SETTLE_CALL = 0.02  # calls this short are repeated before timing, for up to
SETTLE_SECONDS = 0.1  # this long a candidate and size


def _settle(func: Callable[..., Any], case: Case) -> None:
    """More untimed calls of a short one after its warm-up: in a fresh process the first prange
    calls at the first size ran ~100-1000x slower than later ones (the thread pool and the cores
    coming up), and with only a few timed calls that start-up was sometimes all that got timed."""
    began = time.perf_counter()
    while True:
        inputs = fresh_inputs(case)
        call = time.perf_counter()
        func(*inputs)
        now = time.perf_counter()
        if now - call > SETTLE_CALL or now - began > SETTLE_SECONDS:
            return


def _warm_compiler(warm: dict[str, Any] | None, values: Sequence[object]) -> None:
    """Compile a copy of the original (its own file, so nothing comes from numba's disk cache) before
    timing any compile: the first compile in a process also pays for numba's initialisation and
    the typing of every function the kernel uses, which would otherwise be charged to whichever
    candidate came first."""
    if warm is None:
        return
    try:
        load_function(warm["path"], warm["module"], warm["name"]).compile(_signature(values))  # type: ignore[attr-defined]
    except Exception:
        pass  # the original's own compile will report the error


def _signature(values: Sequence[object]) -> tuple[Any, ...]:
    import numba

    return tuple(numba.typeof(v) for v in values)


def _llvm_text(func: Any, signature: tuple[Any, ...]) -> str:
    """The optimized LLVM IR of the compiled signature; parallel kernels' gufuncs included when
    numba keeps them as separate libraries (they hold the loop bodies)."""
    try:
        text = func.inspect_llvm(signature)
    except Exception:
        text = next(iter(func.inspect_llvm().values()), "")
    return str(text)


def _agrees(
    expected: tuple[object, tuple[object, ...]] | None, got: object, inputs: list[object]
) -> bool | None:
    if expected is None:
        return None
    result, after = expected
    if compare(result, got, AGREEMENT) is not None:
        return False
    return all(compare(want, have, AGREEMENT) is None for want, have in zip(after, inputs, strict=True))


if __name__ == "__main__":
    from optcompiler.costmodel._measure_worker import main as _main

    sys.exit(_main(sys.argv[1:]))
