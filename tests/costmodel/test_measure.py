"""Measurement: real Numba compiles of a tiny kernel's candidates in worker processes, records
with the fields the learned model needs, resumption, and the ways a candidate can fail."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from optcompiler.costmodel import dataset, measure
from optcompiler.costmodel.hardware import detect
from optcompiler.ir import ArgType

TINY = """\
import numpy as np


def scale_sum(x):
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += x[i] * 2.0
    return s


def inputs(size):
    rng = np.random.default_rng(size)
    return (rng.standard_normal(size),)
"""

FAST = measure.Settings(repeats=4, min_repeats=2, budget=0.01, max_call=5.0, timeout=60.0, threads=1)


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "mod"
    folder.mkdir()
    path = folder / "optc_tiny_kernel.py"
    path.write_text(TINY)
    monkeypatch.syspath_prepend(str(folder))  # the worker imports `inputs` from the same sys.path
    module = importlib.import_module("optc_tiny_kernel")
    yield path, module
    sys.modules.pop("optc_tiny_kernel", None)


def _plan(tiny, sizes=(8, 64), top_k=2) -> measure.KernelPlan:
    path, module = tiny
    return measure.plan_kernel(
        path.read_text(), str(path), "scale_sum", module.inputs, "optc_tiny_kernel", "inputs", sizes, top_k
    )


def _extra(plan: measure.KernelPlan, body: str, name: str = "_optc_bad") -> measure.KernelPlan:
    """The plan with one more hand-written candidate (a numba.njit function named `name`)."""
    source = f"@numba.njit\ndef {name}(x):\n{body}"
    bad = dataclasses.replace(
        plan.candidates[0], id=f"bad-{name}", source=source, name=name, derivation=("test.bad",)
    )
    return dataclasses.replace(plan, candidates=(*plan.candidates, bad))


def test_bind_sizes_reads_symbols_off_real_arguments() -> None:
    types = {
        "A": ArgType("array", "float64", 2, ("n", "m")),
        "idx": ArgType("array", "int64", 1, ("_",)),
        "x": ArgType("array", "float64", 1, ("_",)),
        "steps": ArgType("int", "int64"),
        "alpha": ArgType("float", "float64"),
    }
    args = (np.zeros((3, 5)), np.zeros(7, dtype=np.int64), np.zeros(4), 9, 0.5)
    sizes = measure.bind_sizes(types, ["A", "idx", "x", "steps", "alpha"], args)
    assert sizes == {"n": 3, "m": 5, "_": 7, "steps": 9}


def test_candidate_id_is_stable_and_names_the_target() -> None:
    assert measure.candidate_id("(seq)", "njit") == measure.candidate_id("(seq)", "njit")
    assert measure.candidate_id("(seq)", "njit") != measure.candidate_id("(seq)", "njit-parallel")
    assert measure.candidate_id("(seq)", "njit", ("nnan",)) != measure.candidate_id("(seq)", "njit")


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="min_repeats"):
        measure.Settings(repeats=2, min_repeats=3)
    with pytest.raises(ValueError, match="positive"):
        measure.Settings(budget=0)


def test_plan_puts_the_original_first_and_binds_sizes(tiny) -> None:
    plan = _plan(tiny)
    assert plan.candidates[0].derivation == () and plan.candidates[0].target == "njit"
    assert plan.bound == {8: {"n": 8}, 64: {"n": 64}} or plan.bound == {8: {"_": 8}, 64: {"_": 64}}
    assert len({c.id for c in plan.candidates}) == len(plan.candidates)
    for c in plan.candidates:
        assert c.source.lstrip().startswith("@numba.njit") and f"def {c.name}(" in c.source
        assert set(c.analytic) == {8, 64} and all(s > 0 for s in c.analytic.values())
    # a prange variant is also measured serially, unless that serial program is a candidate already
    # (here the prange was the only rewrite: serially it is the original, measured once)
    serial = {dataset.program_text(c.source) for c in plan.candidates if c.target == "njit"}
    assert len(serial) == sum(c.target == "njit" for c in plan.candidates)
    for c in plan.candidates:
        if c.target == "njit-parallel":
            twin = c.source.replace(", parallel=True", "")
            assert dataset.program_text(twin) in serial


def test_measure_records_every_candidate_at_every_size_and_resumes(tiny, tmp_path: Path) -> None:
    plan = _plan(tiny)
    out = tmp_path / "records.jsonl.gz"
    records = measure.measure_plan(plan, out, FAST)
    assert len(records) == len(plan.candidates) * 2
    assert list(dataset.read(out)) == records
    hardware = detect()
    for r in records:
        assert r.status == "ok", r.error
        assert r.kernel == "scale_sum" and r.size in (8, 64)
        assert FAST.min_repeats <= len(r.times) <= FAST.repeats
        assert 0 < r.seconds_min <= r.seconds_median
        assert r.seconds_min == min(r.times)
        assert r.warmup_seconds is not None and r.warmup_seconds > 0
        assert r.compile_seconds is not None and r.compile_seconds > 0
        assert r.agrees is True
        assert r.threads == 1 and r.hardware_id == hardware.id and r.hardware["cores"] == hardware.cores
        assert set(r.versions) == {"python", "numpy", "numba", "llvmlite", "optc"}
        assert r.llvm["llvm_instructions"] > 0 and r.llvm["llvm_float_arith"] > 0
        assert r.analytic_seconds is not None and r.analytic_seconds > 0
        assert r.arg_types["x"][0] == "array"
        assert len(r.loadavg) == 2
    # one compile time per candidate, shared by its sizes
    by_candidate = {}
    for r in records:
        by_candidate.setdefault(r.candidate_id, set()).add(r.compile_seconds)
    assert all(len(v) == 1 for v in by_candidate.values())
    # resumable: nothing left to measure
    done = dataset.done_keys(out)
    assert measure.measure_plan(plan, out, FAST, done) == []
    # a new size measures only that size
    bigger = dataclasses.replace(plan, sizes=(*plan.sizes, 128), bound={**plan.bound, 128: {"n": 128}})
    more = measure.measure_plan(bigger, out, FAST, done)
    assert {r.size for r in more} == {128} and len(more) == len(plan.candidates)


def test_failures_are_recorded_and_do_not_stop_the_others(tiny, tmp_path: Path) -> None:
    plan = _plan(tiny, sizes=(8, 16, 32), top_k=1)
    raises = "    if x.shape[0] >= 10:\n        raise ValueError('too big')\n    return x[0] + 1.0\n"
    plan = _extra(plan, raises, "_optc_raises")
    plan = _extra(plan, "    return undefined_name(x)\n", "_optc_no_compile")
    plan = _extra(
        plan, "    s = 0.0\n    for i in range(x.shape[0]):\n        s += x[i]\n    return s\n", "_optc_wrong"
    )
    out = tmp_path / "r.jsonl"
    records = measure.measure_plan(plan, out, FAST)
    by = {(r.candidate_id, r.size): r for r in records}
    assert len(by) == len(plan.candidates) * 3
    assert all(by[(plan.candidates[0].id, s)].status == "ok" for s in (8, 16, 32))
    assert by[("bad-_optc_raises", 8)].status == "ok"
    assert by[("bad-_optc_raises", 8)].agrees is False  # x[0] + 1 is not the kernel's sum
    assert by[("bad-_optc_raises", 16)].status == "runtime_error"
    assert "ValueError: too big" in by[("bad-_optc_raises", 16)].error
    assert by[("bad-_optc_raises", 32)].status == "skipped"
    assert all(by[("bad-_optc_no_compile", s)].status == "compile_error" for s in (8, 16, 32))
    assert "undefined_name" in by[("bad-_optc_no_compile", 8)].error
    assert by[("bad-_optc_wrong", 16)].status == "ok" and by[("bad-_optc_wrong", 16)].agrees is False


def test_too_slow_calls_keep_one_timing_and_skip_larger_sizes(tiny, tmp_path: Path) -> None:
    plan = _plan(tiny, sizes=(8, 16), top_k=1)
    records = measure.measure_plan(plan, tmp_path / "r.jsonl", dataclasses.replace(FAST, max_call=1e-9))
    by_size = {r.size: r for r in records if r.candidate_id == plan.candidates[0].id}
    assert by_size[8].status == "too_slow" and len(by_size[8].times) == 1
    assert by_size[8].seconds_min == by_size[8].warmup_seconds
    assert by_size[16].status == "skipped" and by_size[16].seconds_min is None


@pytest.mark.slow
def test_a_hanging_candidate_is_killed_and_the_rest_measured(tiny, tmp_path: Path) -> None:
    plan = _plan(tiny, sizes=(8, 16), top_k=1)
    plan = _extra(
        plan, "    s = 0\n    while s >= 0:\n        s = (s + 1) % 7\n    return float(s)\n", "_optc_hang"
    )
    settings = dataclasses.replace(FAST, timeout=5.0)
    records = measure.measure_plan(plan, tmp_path / "r.jsonl", settings)
    by = {(r.candidate_id, r.size): r for r in records}
    assert by[("bad-_optc_hang", 8)].status == "timeout"
    assert by[("bad-_optc_hang", 16)].status == "skipped"
    assert by[(plan.candidates[0].id, 8)].status == "ok"  # measured by the restarted worker
    assert by[(plan.candidates[0].id, 16)].status == "ok"


def test_cli_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="unknown corpus kernel"):
        measure.main(["--kernels", "no_such_kernel"])
    assert measure.main(["--kernels", "gemv", "--top-k", "0"]) == 2
    assert measure.main(["--kernels", "gemv", "--repeats", "2", "--min-repeats", "3"]) == 2
    assert "min_repeats" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--sizes takes indices"):
        measure.main(["--kernels", "gemv", "--sizes", "big", "--out", "/nonexistent/x.jsonl"])


def test_blas_candidates_are_timed_apart_from_the_others() -> None:
    """A multithreaded BLAS leaves its threads spinning after a call; a prange region timed next to
    it waits for cores. So candidates that call BLAS get a worker of their own."""
    assert measure.calls_blas("    y = A @ x\n") and measure.calls_blas("    s = np.dot(a, b)\n")
    assert measure.calls_blas("    G = (X @ Y.T)\n") and measure.calls_blas("    n = np.linalg.norm(x)\n")
    assert not measure.calls_blas("@numba.njit(cache=True, parallel=True)\ndef f(x):\n    return x  # a@b\n")
    sources = ["    s += x[i] * y[i]\n", "    s = x @ y\n", "    for i in numba.prange(n):\n"]
    plan = SimpleNamespace(candidates=[SimpleNamespace(source=s) for s in sources])
    assert measure.batches(plan) == [frozenset({0, 2}), frozenset({1})]  # type: ignore[arg-type]
    plan.candidates.pop(1)
    assert measure.batches(plan) == [frozenset({0, 1})]  # type: ignore[arg-type]
