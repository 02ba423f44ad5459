"""bench/run.py: its checking and timing helpers, and (slow) a whole quick run through the real optimizer.

No assertion here is about speed: timings on a shared 2-core machine are noise. The quick run only
checks that every example kernel gets a row, that all contenders agreed, and what got written.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"

_spec = importlib.util.spec_from_file_location("optc_test_bench", RUN)
bench = importlib.util.module_from_spec(_spec)
sys.modules["optc_test_bench"] = bench
_spec.loader.exec_module(bench)


def _example_names() -> list[str]:
    return [
        name for name, _ in bench.public_functions(bench.import_path(bench.EXAMPLES, "optc_test_bench_ex"))
    ]


# ---- helpers ---------------------------------------------------------------------------------------------


def test_disagreement_is_norm_wise_and_checks_shape_and_dtype() -> None:
    want = np.array([1.0, 1e-12, -2.0])
    assert bench.disagreement(want * (1 + 1e-12), want) is None
    assert (
        bench.disagreement(want + np.array([0.0, 1e-12, 0.0]), want) is None
    )  # near-zero entry, tiny absolute error
    assert "differs" in bench.disagreement(want * (1 + 1e-6), want)
    assert "shape" in bench.disagreement(want[:2], want)
    assert "dtype" in bench.disagreement(want.astype(np.float32), want)
    assert bench.disagreement(3.0, np.float64(3.0)) is None


def test_geomean() -> None:
    assert bench.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert bench.geomean([]) is None


def test_interleaved_timing_reports_every_contender() -> None:
    contenders = [bench.Contender("a", sum, ([1, 2, 3],)), bench.Contender("b", max, ([1, 2, 3],))]
    times = bench.time_interleaved(contenders, rounds=3, min_batch=0.0005)
    assert set(times) == {"a", "b"}
    for timing in times.values():
        assert timing.rounds == 3
        assert timing.calls_per_round >= 1
        assert 0 < timing.min <= timing.median


def test_cases_are_deterministic_and_cover_the_examples() -> None:
    for name in _example_names():
        case = bench.CASES[name]
        first, second = case.arguments(name, case.quick_small), case.arguments(name, case.quick_small)
        for a, b in zip(first, second, strict=True):
            assert np.array_equal(a, b)
        assert case.quick_small < case.quick_size and case.small < case.size


def _kernel_names(name: str) -> tuple[set[str], set[str]]:
    """An example kernel's int parameters, and the local names it binds from `.shape`."""
    tree = ast.parse(bench.EXAMPLES.read_text(encoding="utf-8"))
    (function,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    ints = {
        a.arg for a in function.args.args if isinstance(a.annotation, ast.Name) and a.annotation.id == "int"
    }
    from_shape = {
        target.id
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and "shape" in {a.attr for a in ast.walk(node.value) if isinstance(a, ast.Attribute)}
        for target in ast.walk(node.targets[0])
        if isinstance(target, ast.Name)
    }
    return ints, from_shape


def test_each_kernel_is_told_its_own_size_symbols_at_the_benchmark_size() -> None:
    for name in _example_names():
        case = bench.CASES[name]
        ints, from_shape = _kernel_names(name)
        profile = case.profile(case.size)
        # every dimension the kernel names, and every int argument, is in its profile ...
        assert from_shape | ints <= set(profile), name
        # ... and nothing else but `_`, the symbol of a dimension nothing names
        assert set(profile) <= from_shape | ints | {"_"}, name
        assert all(profile[s] == case.size for s in from_shape), name
    assert bench.CASES["sum_squares"].profile(7) == {"_": 7}
    assert bench.CASES["moving_average"].profile(100) == {"_": 100, "n": 100, "w": bench.WINDOW}
    quick = bench.benchmark_profiles(quick=True)
    assert quick["gemm"] == {"m": 48, "n": 48, "p": 48}
    assert set(quick) == set(_example_names())


def test_run_optc_passes_the_profiles_in_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    pipeline = types.ModuleType("optcompiler.pipeline")
    pipeline.Emitted = type("Emitted", (), {})
    pipeline.Failed = type("Failed", (), {})

    def optimize_source(source, path, config):
        seen.append(config)
        return types.SimpleNamespace(output=source, kernels=[])

    pipeline.optimize_source = optimize_source
    monkeypatch.setitem(sys.modules, "optcompiler.pipeline", pipeline)
    profiles = {"moving_average": {"w": 16, "n": 2_000_000}, "gemm": {"n": 400}}
    run = bench.run_optc("", bench.EXAMPLES, 2, profiles)
    (config,) = seen
    assert config.threads == 2
    assert config.kernel_sizes == (("gemm", (("n", 400),)), ("moving_average", (("n", 2_000_000), ("w", 16))))
    assert config.sizes_for("moving_average") == {"n": 2_000_000, "w": 16}
    assert run.config["kernel_sizes"] == config.kernel_sizes  # what bench.json records
    bench.run_optc("", bench.EXAMPLES, None)
    assert seen[-1].kernel_sizes == () and seen[-1].threads is None


def test_fallback_probe_sees_calls_routed_to_the_original(tmp_path: Path) -> None:
    emit = pytest.importorskip("optcompiler.emit")
    source = f"""
def {emit.original_name("k")}(x):
    return x + 1


def k(x):
    if isinstance(x, float):
        return x * 1.0 + 1.0  # stands in for the compiled variant
    return {emit.original_name("k")}(x)


def bare(x):
    return x
"""
    path = tmp_path / "generated.py"
    path.write_text(source)
    module = bench.import_path(path, "optc_test_bench_generated")
    probe = bench.FallbackProbe(module)
    assert probe("k", (1.0,)) is False
    assert probe("k", (1,)) is True
    assert probe("bare", (1,)) is None  # no original beside it: cannot tell
    assert module.k(1) == 2  # the original is put back


def test_run_optc_explains_a_missing_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optcompiler.pipeline", None)  # makes the import fail
    with pytest.raises(SystemExit, match="cannot import the optimizer"):
        bench.run_optc("", bench.EXAMPLES, None)


# ---- the whole run -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_run_writes_one_row_per_example_kernel(tmp_path: Path) -> None:
    # Skipped only while the pipeline itself does not import; once it does, this must pass.
    pytest.importorskip("optcompiler.pipeline", exc_type=ImportError)
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--repeats", "2", "--threads", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert [row["kernel"] for row in report["rows"]] == _example_names()
    for row in report["rows"]:
        assert row["error"] is None
        assert row["variant"]
        assert {"cpython_small", "optc_small", "njit", "numpy"} <= set(row["seconds"])
        assert row["ratios"]["speedup_vs_cpython"] > 0
    assert report["quick"] is True
    assert report["optc"]["kernel_sizes"] == bench.benchmark_profiles(quick=True)
    for row in report["rows"]:
        assert row["sizes"]["optc_profile"] == bench.CASES[row["kernel"]].profile(row["sizes"]["n"])
    assert report["threads"]["requested"] == 1
    assert report["threads"]["numba"] == 1
    assert set(report["geomean"]) == {"speedup_vs_cpython", "optc_vs_njit", "optc_vs_numpy"}
    assert {"cpu", "logical_cpus"} <= set(report["hardware"])
    assert {"numpy", "numba", "optc"} <= set(report["versions"])
    assert "--quick" in report["command"]
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    for name in _example_names():
        assert f"| {name} |" in markdown
