"""`optc trace`: probes, the profile file, crashes, threads, and `--optimize` on a multi-file program."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from optcompiler import trace

SAMPLE = Path(__file__).parent / "samples" / "trace_program"


def _optc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "optcompiler.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture
def program(tmp_path: Path) -> Path:
    folder = tmp_path / "prog"
    shutil.copytree(SAMPLE, folder)
    return folder


# ---- instrumenting ---------------------------------------------------------------------------------


def test_instrument_wraps_undecorated_top_level_functions_only() -> None:
    source = textwrap.dedent(
        """
        import functools

        def plain(x):
            def inner(y):
                return y
            return inner(x) + 1

        @functools.lru_cache
        def cached(x):
            return x

        class Box:
            def method(self):
                return 1
        """
    )
    wrapped: list[str] = []
    namespace = {"__optc_probe__": lambda f: wrapped.append(f.__name__) or f}
    exec(trace.instrument(source, "<test>"), namespace)
    assert wrapped == ["plain"]
    assert namespace["plain"](1) == 2


def test_instrumented_code_keeps_line_numbers_in_tracebacks() -> None:
    source = "def boom():\n    x = 1\n    raise ValueError(x)\n"
    namespace = {"__optc_probe__": lambda f: f}
    exec(trace.instrument(source, "boom.py"), namespace)
    with pytest.raises(ValueError) as info:
        namespace["boom"]()
    assert info.traceback[-1].lineno + 1 == 3  # pytest's linenos are 0-based


# ---- recording -----------------------------------------------------------------------------------------


def _probed(recorder: trace.Recorder, source: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__optc_probe__": recorder.probe, "np": np}
    exec(trace.instrument(textwrap.dedent(source), str(recorder.root / "mod.py")), namespace)
    return namespace


def test_self_time_excludes_probed_callees_and_threads_are_counted(tmp_path: Path) -> None:
    recorder = trace.Recorder(tmp_path)
    ns = _probed(
        recorder,
        """
        import time

        def child():
            time.sleep(0.05)

        def parent():
            child()
            time.sleep(0.02)
        """,
    )
    ns["parent"]()
    worker = threading.Thread(target=ns["child"])
    worker.start()
    worker.join()
    profile = recorder.profile({"wall_seconds": 1.0}, None)
    by_name = {f["name"]: f for f in profile["functions"]}
    assert by_name["child"]["calls"] == 2
    assert by_name["parent"]["inclusive_seconds"] >= 0.07
    assert 0.015 <= by_name["parent"]["self_seconds"] < 0.05
    assert [f["name"] for f in profile["functions"]] == ["child", "parent"]  # hottest self time first


def test_signatures_shapes_and_samples_are_taken_before_the_call_mutates(tmp_path: Path) -> None:
    recorder = trace.Recorder(tmp_path)
    ns = _probed(
        recorder,
        """
        def scale(a, k):
            for i in range(a.shape[0]):
                a[i] *= k
        """,
    )
    a = np.arange(4.0)
    ns["scale"](a, 3)
    ns["scale"](np.ones((2, 2), dtype=np.float32).T, 2.5)
    profile = recorder.profile({"wall_seconds": 1.0}, tmp_path / "samples")
    (fn,) = profile["functions"]
    sigs = {
        (s["args"][0]["dtype"], s["args"][0]["layout"], s["args"][1]["kind"]): s for s in fn["signatures"]
    }
    assert set(sigs) == {("float64", "C", "int"), ("float32", "F", "float")}
    first = sigs[("float64", "C", "int")]
    assert first["shapes"] == [{"shapes": [[4], []], "calls": 1}]
    sample = trace.load_sample(tmp_path / first["samples"][0], first)
    np.testing.assert_array_equal(sample["a"], np.arange(4.0))  # not the scaled values
    assert sample["k"] == 3 and type(sample["k"]) is int


def test_sample_budget_and_no_samples(tmp_path: Path) -> None:
    small = trace.Recorder(tmp_path, budget_bytes=1000)
    ns = _probed(small, "def f(a):\n    return a.sum()\n")
    ns["f"](np.zeros(10))  # 80 bytes: within a quarter of the budget
    ns["f"](np.zeros(1000))  # 8000 bytes: over it
    assert small.used_bytes == 80
    off = trace.Recorder(tmp_path, samples=False, budget_bytes=0)
    ns = _probed(off, "def f(a):\n    return a.sum()\n")
    ns["f"](np.zeros(10))
    profile = off.profile({"wall_seconds": 1.0}, None)
    assert profile["functions"][0]["signatures"][0]["samples"] == [] and off.used_bytes == 0


def test_amdahl_and_type_hints() -> None:
    rows = [trace.Row("k.py", "a", 0.5, "", 10.0), trace.Row("k.py", "b", 0.2, "", None)]
    assert trace.amdahl(rows) == pytest.approx(1 / (0.5 + 0.05))
    # a 2 s run whose kernels shrink to 1.1 s, plus 0.5 s of start-up
    assert trace.amdahl(rows, wall=2.0, startup=0.5) == pytest.approx(2.0 / (1.1 + 0.5))
    overlapping = [trace.Row("k.py", "a", 0.8, "", 2.0), trace.Row("k.py", "b", 0.8, "", 2.0)]  # threads
    assert trace.amdahl(overlapping) == pytest.approx(2.0)
    assert trace.type_hint({"kind": "array", "dtype": "float32", "ndim": 2}) == "float32[:, :]"
    assert trace.type_hint({"kind": "int", "dtype": "int64"}) == "int64"
    assert trace.type_hint({"kind": "object"}) is None


# ---- the command -------------------------------------------------------------------------------------


def test_trace_runs_a_multi_file_program_with_argv_files_and_threads(program: Path) -> None:
    plain = subprocess.run(
        [sys.executable, "main.py", "40"], cwd=program, capture_output=True, text=True, check=True
    )
    traced = _optc("trace", "main.py", "40", cwd=program)
    assert traced.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout  # the program sees its argv and behaves the same
    profile = json.loads((program / ".optc" / "profile.json").read_text())
    assert profile["format"] == "optc-profile" and profile["version"] == 1
    by_name = {f["name"]: f for f in profile["functions"]}
    assert {"pairwise_dist", "relax", "row_norms", "make_points", "main"} <= set(by_name)
    assert by_name["relax"]["calls"] == 4 and by_name["row_norms"]["calls"] == 1  # row_norms ran in a thread
    sig = by_name["pairwise_dist"]["signatures"][0]
    assert sig["args"] == [{"name": "X", "kind": "array", "dtype": "float64", "ndim": 2, "layout": "C"}]
    assert sig["shapes"][0]["shapes"] == [[40, 3]]
    sample = trace.load_sample(program / ".optc" / sig["samples"][0], sig)
    assert sample["X"].shape == (40, 3)
    assert not list(program.glob("__pycache__/*optc*")), "instrumented bytecode must not be cached"


def test_a_crashing_program_reports_its_traceback_and_keeps_the_partial_profile(program: Path) -> None:
    result = _optc("trace", "main.py", "-5", cwd=program)
    assert result.returncode == 1
    assert "ValueError: size must be non-negative" in result.stderr and "main.py" in result.stderr
    profile = json.loads((program / ".optc" / "profile.json").read_text())
    assert "ValueError" in profile["program"]["error"] and profile["program"]["exit_code"] == 1
    assert any(f["name"] == "main" for f in profile["functions"])


def test_trace_module_mode_and_no_samples(program: Path) -> None:
    (program / "pkg").mkdir()
    (program / "pkg" / "__init__.py").write_text("")
    (program / "pkg" / "__main__.py").write_text(
        "import sys\nfrom kernels import row_norms\nimport numpy as np\n\n"
        "def run(n):\n    return row_norms(np.ones((n, n)))\n\nprint(run(int(sys.argv[1])).sum())\n"
    )
    result = _optc("trace", "--no-samples", "-m", "pkg", "6", cwd=program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "36.0"
    profile = json.loads((program / ".optc" / "profile.json").read_text())
    names = {f["name"] for f in profile["functions"]}
    assert {"run", "row_norms"} <= names
    assert profile["samples"]["enabled"] is False
    assert not (program / ".optc" / "samples").exists() or not list((program / ".optc" / "samples").iterdir())


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    result = _optc("trace", "nope.py", cwd=tmp_path)
    assert result.returncode == 2 and "nope.py: no such file" in result.stderr


@pytest.mark.slow
def test_trace_optimize_speeds_up_hot_kernels_verified_on_recorded_inputs(
    program: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 60-point run is too short to pay for importing Numba; this test is about what gets written
    result = _optc(
        "trace", "--optimize", "--ignore-startup", "--min-share", "0.02", "main.py", "60", cwd=program
    )
    assert result.returncode == 0, result.stderr
    assert "predicted whole-program speed-up (Amdahl" in result.stdout
    assert "kernels.py:pairwise_dist" in result.stdout
    optimized = program / ".optc" / "optimized" / "kernels.py"
    text = optimized.read_text()
    assert text.startswith("# Generated by optc") and "def pairwise_dist(" in text
    assert list(optimized.parent.glob("__pycache__/kernels._pairwise_dist_v1-*.nbi")), "cache not warmed"
    assert (program / "kernels.py").read_text() == (SAMPLE / "kernels.py").read_text()  # input untouched
    # the optimized module computes what the original does on the recorded inputs
    profile = json.loads((program / ".optc" / "profile.json").read_text())
    spec = importlib.util.spec_from_file_location("kernels", optimized)  # its cache entries name `kernels`
    assert spec is not None and spec.loader is not None
    fast = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "kernels", fast)
    spec.loader.exec_module(fast)
    ns: dict[str, object] = {}
    exec(compile((SAMPLE / "kernels.py").read_text(), "kernels.py", "exec"), ns)
    for fn in profile["functions"]:
        if fn["file"] != "kernels.py":
            continue
        sig = fn["signatures"][0]
        for sample_file in sig["samples"]:
            sample = trace.load_sample(program / ".optc" / sample_file, sig)
            want_args = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in sample.items()}
            got_args = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in sample.items()}
            want = ns[fn["name"]](**want_args)
            got = getattr(fast, fn["name"])(**got_args)
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=1e-12)
            for name in want_args:
                np.testing.assert_allclose(got_args[name], want_args[name], rtol=1e-12)


@pytest.mark.slow
def test_a_run_too_short_to_pay_for_numba_writes_nothing(
    program: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = _optc("trace", "--optimize", "--min-share", "0.02", "main.py", "30", cwd=program)
    assert tiny.returncode == 0, tiny.stderr
    assert "less than loading compiled code costs" in tiny.stdout  # each kernel ran for microseconds
    assert not (program / ".optc" / "optimized").exists()
    traced = _optc("trace", "main.py", "200", cwd=program)
    assert traced.returncode == 0, traced.stderr
    said: list[str] = []
    monkeypatch.chdir(program)
    rows = trace.optimize_profile(
        program / ".optc" / "profile.json", min_share=0.02, say=said.append, startup=1000.0
    )
    assert any(r.speedup for r in rows)  # optimized and measured, yet:
    assert any(
        line.startswith("optc: nothing written: a run like the traced one would save") for line in said
    )
    assert not (program / ".optc" / "optimized").exists()
