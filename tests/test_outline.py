"""Partial compilation: snapshot fixtures `tests/outline/<case>/input.py` → `expected.py`.

Each case outlines every function that does not lift as a whole (`outline.plan_regions` and
`outline.outline`, no rewriting), compares the result with `expected.py`, and runs both modules
under CPython on the same inputs (arrays of several sizes with negative values, copies for each
side), comparing return values, mutated arguments and raised exceptions. Regenerate the snapshots
with OPTC_UPDATE_FIXTURES=1.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
from pathlib import Path

import numpy as np
import pytest

from optcompiler import frontend, outline, pipeline
from optcompiler.config import Config
from optcompiler.errors import Unsupported
from optcompiler.ir import lift

HERE = Path(__file__).parent / "outline"
CASES = sorted(p.parent for p in HERE.glob("*/input.py"))
UPDATE = os.environ.get("OPTC_UPDATE_FIXTURES") == "1"


def outline_file(source: str, path: str) -> tuple[str, dict[str, list[str]]]:
    module = frontend.parse(source, path)
    taken = {name for stmt in module.body for name in frontend.bound_names(stmt)}
    reasons: dict[str, list[str]] = {}
    for site in frontend.find_kernels(module, path):
        try:
            lift(site.node, path, module, site.line)
            continue
        except Unsupported:
            pass
        regions, refusals = outline.plan_regions(site.node, module, path, site.line, taken)
        reasons[site.name] = refusals
        module = outline.outline(module, site.node, regions)
    return module.code, reasons


def _inputs(func) -> list[dict[str, object]]:
    rng = np.random.default_rng(3)
    sets = []
    for n in (0, 1, 2, 5, 17):
        args: dict[str, object] = {}
        for name, param in inspect.signature(func).parameters.items():
            annotation = str(param.annotation)
            if "list" in annotation:
                args[name] = []
            else:
                args[name] = np.round(
                    rng.standard_normal((n, max(n, 1))) if name == "A" else rng.standard_normal(n), 1
                )
        sets.append(args)
    return sets


def _run(func, args: dict[str, object]) -> tuple[object, dict[str, object]]:
    fresh = {k: (v.copy() if isinstance(v, (np.ndarray, list)) else v) for k, v in args.items()}
    try:
        return func(**fresh), fresh
    except Exception as exc:  # the same exception type must come out of both
        return type(exc), fresh


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outline_fixture(case: Path) -> None:
    source = (case / "input.py").read_text()
    output, _ = outline_file(source, str(case / "input.py"))
    expected = case / "expected.py"
    if UPDATE or not expected.exists():
        expected.write_text(output)
    assert output == expected.read_text()
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    exec(compile(source, "input.py", "exec"), before)
    exec(compile(output, "expected.py", "exec"), after)
    for name in (n for n, v in before.items() if inspect.isfunction(v) and not n.startswith("_")):
        for args in _inputs(before[name]):
            want, want_args = _run(before[name], args)
            got, got_args = _run(after[name], args)
            assert _same(got, want), (name, args, got, want)
            assert _same(got_args, want_args), (name, args)


def test_refusals_say_why() -> None:
    _, reasons = outline_file((HERE / "maybe_unbound" / "input.py").read_text(), "maybe_unbound.py")
    assert reasons["last_value"] == [
        "the loop at lines 6-7 assigns `last` only on some paths and it is read after the loop"
    ]
    _, reasons = outline_file((HERE / "unsupported_inside" / "input.py").read_text(), "inside.py")
    assert reasons["tally"] == []  # nothing in it lifts: no region to offer


def test_pipeline_compiles_the_loop_of_a_function_njit_cannot_compile(tmp_path: Path) -> None:
    source = (HERE / "unsupported_before" / "input.py").read_text()
    config = Config(sizes=(("m", 300), ("n", 300)), verify_timeout=120)
    result = pipeline.optimize_source(source, "rows.py", config)
    by_name = {r.kernel: r for r in result.kernels}
    assert isinstance(by_name["_normalize_rows_region1"], pipeline.Emitted)
    reason = by_name["normalize_rows"].reason  # type: ignore[union-attr]
    assert reason.startswith(
        "partly compiled: raise statement (line 7) cannot be compiled; compiled lines 8-12 as"
    )
    assert reason.endswith(
        "(to compile all of it: validate the arguments in a caller before the kernel runs)"
    )
    out = tmp_path / "rows_fast.py"  # a real file: the emitted code asks Numba to cache
    out.write_text(result.output)
    spec = importlib.util.spec_from_file_location("rows_fast", out)
    assert spec is not None and spec.loader is not None
    fast = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fast)
    A = np.random.default_rng(0).standard_normal((7, 5))
    np.testing.assert_allclose(fast.normalize_rows(A), (A * A).sum(axis=1), rtol=1e-12)
    with pytest.raises(ValueError, match="expected a matrix"):
        fast.normalize_rows(np.zeros(3))


def test_every_construct_outside_the_subset_says_what_to_change() -> None:
    from optcompiler import ir
    from optcompiler.errors import unblock_hint

    constructs = {
        *ir._STATEMENTS_UNSUPPORTED.values(),
        *ir._EXPRESSIONS_UNSUPPORTED.values(),
        *ir._COMPARE_UNSUPPORTED.values(),
    } - {
        "match statement",
        "type alias statement",
        "t-string",
        "Ellipsis (...)",
        "complex literal",
        "starred expression",
    }
    missing = sorted(c for c in constructs if unblock_hint(c) is None)
    assert not missing, f"no hint for {missing}"
    message = Unsupported("lambda", 4).explain()
    assert (
        message == "lambda is outside the kernel subset optc rewrites; define a module-level function instead"
    )
