"""bench/peers.py: its helpers, and a quick run (one kernel, tiny sizes, no Pythran) through the real optimizer.

Nothing here is about speed: on a shared machine timings are noise. The run checks that every
kernel gets a row whose contenders agreed, and that the table, JSON and chart are written.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optcompiler import corpus

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers.py"

_spec = importlib.util.spec_from_file_location("optc_test_peers", PEERS)
peers = importlib.util.module_from_spec(_spec)
sys.modules["optc_test_peers"] = peers
_spec.loader.exec_module(peers)


def test_the_benchmark_set_is_corpus_kernels_of_the_four_categories() -> None:
    names = [e.kernel for e in peers.BENCHMARK]
    assert len(names) == len(set(names)) >= 15
    assert set(names) <= set(corpus.names())
    assert {e.category for e in peers.BENCHMARK} == {peers.LINALG, peers.STENCIL, peers.MINING, peers.DP}
    assert set(peers.QUICK_KERNELS) <= set(names)
    for e in peers.BENCHMARK:
        assert 0 < e.quick < e.size


def test_pythran_source_is_the_kernel_alone_with_its_export_line() -> None:
    kernel = corpus.load("correlation")
    text = peers.pythran_source(kernel.path, "correlation", kernel.inputs(8))
    assert text.splitlines()[0] == "#pythran export correlation(float64[:,:])"
    tree = ast.parse(text)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [f.name for f in functions] == ["correlation"]  # no inputs(), no reference()
    assert functions[0].returns is None and all(a.annotation is None for a in functions[0].args.args)
    assert "EPS = 0.1" in text and "import math" in text and "SIZES" not in text
    namespace: dict = {}
    exec(compile(tree, "pythran_source", "exec"), namespace)  # still the same function
    args = kernel.inputs(8)
    np.testing.assert_array_equal(namespace["correlation"](*args), kernel.function(*args))

    ints = corpus.load("edit_distance")
    line = peers.pythran_source(ints.path, "edit_distance", ints.inputs(10)).splitlines()[0]
    assert line == "#pythran export edit_distance(int64[:], int64[:])"
    heat = corpus.load("heat3d")
    line = peers.pythran_source(heat.path, "heat3d", heat.inputs(6)).splitlines()[0]
    assert line == "#pythran export heat3d(float64[:,:,:], int, float)"


def test_size_profile_names_the_kernels_own_symbols() -> None:
    gemm = corpus.load("gemm")
    A, B = np.zeros((5, 7)), np.zeros((7, 3))
    assert peers.size_profile(gemm.path.read_text(), gemm.path, "gemm", (A, B)) == {"m": 7, "n": 5, "p": 3}
    heat = corpus.load("heat3d")
    profile = peers.size_profile(heat.path.read_text(), heat.path, "heat3d", heat.inputs(6))
    assert profile["steps"] == 4 and {"nx", "ny", "nz"} <= set(profile)


def test_calls_restore_the_arguments_a_kernel_updates() -> None:
    def bump(a: np.ndarray, b: np.ndarray) -> float:
        a += 1.0
        return float(b.sum())

    pristine = (np.zeros(3), np.ones(2))
    call = peers.Call.of(bump, pristine, (0,))
    for _ in range(3):
        value, a = call.outputs()
        assert value == 2.0 and a.tolist() == [1.0, 1.0, 1.0]  # not 2, 3: restored each time
    assert pristine[0].tolist() == [0.0, 0.0, 0.0]  # the pristine inputs are never handed out
    times = peers.time_calls({"x": call, "y": peers.Call.of(bump, pristine, (0,))}, rounds=2, min_batch=0.0)
    assert set(times) == {"x", "y"} and all(t.rounds == 2 and t.min > 0 for t in times.values())


def test_contenders_share_the_arguments_and_may_not_modify_the_others() -> None:
    def reads(a: np.ndarray) -> float:
        return float(a.sum())

    def writes(a: np.ndarray) -> float:
        a[0] = 5.0
        return 0.0

    first = peers.Call.of(reads, (np.zeros(3),), ())
    other = first.sharing(writes)
    assert other.args is first.args and other.fn is writes
    first()
    assert first.untouched() is None
    other()
    assert "modified argument 0" in other.untouched()


def test_disagreement_follows_the_float_policy() -> None:
    x = np.linspace(1.0, 2.0, 5)
    assert peers.disagreement((x * (1 + 1e-12), None), (x, None)) is None
    assert "output 0" in peers.disagreement((x * (1 + 1e-6), None), (x, None))
    x32 = x.astype(np.float32)
    assert peers.disagreement(x32 * np.float32(1 + 1e-6), x32) is None
    assert peers.disagreement(np.int64(7), np.int64(7)) is None
    assert peers.disagreement(np.array([7, 8]), np.array([7, 9])) is not None  # integers: exact
    assert peers.disagreement(None, x) == "returned None"


def test_routes_to_original_does_not_run_the_original(tmp_path: Path) -> None:
    from optcompiler import emit

    original = emit.original_name("k")
    path = tmp_path / "generated.py"
    path.write_text(
        f"RAN = []\n\ndef {original}(x):\n    RAN.append(x)\n    return x\n\n"
        f"def k(x):\n    if x > 0:\n        return x * 2\n    return {original}(x)\n"
    )
    module = peers.run.import_path(path, "optc_test_peers_generated")
    assert peers.routes_to_original(module, "k", (1,)) is False
    assert peers.routes_to_original(module, "k", (-1,)) is True
    assert module.RAN == []
    assert module.k(-1) == -1  # put back


@pytest.mark.slow
def test_quick_run_writes_table_json_and_chart(tmp_path: Path) -> None:
    out = tmp_path / "results"
    kernels = ["mvt"]  # updates its arguments: they are restored and checked too
    proc = subprocess.run(
        [
            sys.executable,
            str(PEERS),
            "--quick",
            "--no-pythran",
            "--repeats",
            "2",
            "--kernels",
            ",".join(kernels),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((out / "peers.json").read_text(encoding="utf-8"))
    assert [row["kernel"] for row in report["rows"]] == kernels
    for row in report["rows"]:
        assert row["error"] is None
        assert {"njit", "numpy"} <= set(row["seconds"]) and "pythran" not in row["seconds"]
        assert row["variant"]
        assert row["cpython_size"] == row["size"]  # tiny sizes fit the quick budget
        assert row["ratios"]["cpython_over_njit"] > 0
    assert report["pythran"]["used"] is False and report["quick"] is True
    assert set(peers.RATIOS) <= set(report["geomean"])
    markdown = (out / "peers.md").read_text(encoding="utf-8")
    assert "**not run**: --no-pythran" in markdown
    assert "Targets (issue 4)" in markdown
    for name in kernels:
        assert f"| {name} |" in markdown
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "peers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_kernels_are_refused() -> None:
    with pytest.raises(SystemExit):
        peers.parse_arguments(["--kernels", "gemm,no_such_kernel"])
