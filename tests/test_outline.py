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
from collections import Counter
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


# ---- a region Numba rejects is tried again as smaller regions ------------------------------------------


def _rejected_plan() -> tuple[str, object, object, list[outline.Region]]:
    """The regions `smaller_regions` offers, level by level, for `row_levels` (its i loop calls a
    plain Python function Numba cannot compile)."""
    source = (HERE / "numba_rejects" / "input.py").read_text()
    module = frontend.parse(source, "levels.py")
    (site,) = [s for s in frontend.find_kernels(module, "levels.py") if s.name == "row_levels"]
    taken: set[str] = set()
    levels = []
    regions, _ = outline.plan_regions(site.node, module, "levels.py", site.line, taken)
    while regions:
        levels.append(regions)
        regions, _ = outline.smaller_regions(site.node, module, "levels.py", site.line, regions[0], taken)
    return source, module, site, levels


def test_smaller_regions_reach_the_loops_inside_a_rejected_one() -> None:
    source, module, site, levels = _rejected_plan()
    spans = [[(r.first_line, r.last_line, r.block) for r in regions] for regions in levels]
    assert spans == [
        [(14, 20, ())],  # the statements after the check: whole
        [(16, 20, ())],  # the i loop on its own
        [(17, 20, (3,))],  # the i loop's body
        [(18, 19, (3,))],  # the j loop on its own: no call of the Python function left in it
    ]
    inner = levels[-1][0]
    assert (inner.inputs, inner.outputs) == (("A", "i", "m", "power"), ("power",))
    assert outline.range_counters(site.node, inner) == ["i"]  # type: ignore[arg-type]
    # it runs once per row: `calls` of the function times the i loop's trips at the profile
    assert outline.enclosing_trips(site.node, inner, {"n": 7}, 1000) == 7  # type: ignore[arg-type]
    assert outline.enclosing_trips(site.node, inner, {}, 1000) == 1000  # type: ignore[arg-type]
    assert outline.enclosing_trips(site.node, levels[0][0], {"n": 7}, 1000) == 1  # type: ignore[arg-type]
    output = outline.outline(module, site.node, [inner]).code  # type: ignore[arg-type]
    assert f"        power = {inner.name}(A, i, m, power)\n" in output
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    exec(compile(source, "input.py", "exec"), before)
    exec(compile(output, "outlined.py", "exec"), after)
    for args in _inputs(before["row_levels"]):
        want, _ = _run(before["row_levels"], args)
        got, _ = _run(after["row_levels"], args)
        assert _same(got, want), (args, got, want)


def test_a_break_of_an_enclosing_loop_keeps_its_statement_out_of_regions() -> None:
    source = (
        "import numpy as np\n\n\n"
        "def first_negative_row(A: np.ndarray):\n"
        "    print(f'{A.shape}')\n"
        "    row = -1\n"
        "    for i in range(A.shape[0]):\n"
        "        if A[i, 0] < 0:\n"
        "            for j in range(A.shape[1]):\n"
        "                A[i, j] = 0.0\n"
        "            row = i\n"
        "            break\n"
        "    return row\n"
    )
    module = frontend.parse(source, "rows.py")
    (site,) = frontend.find_kernels(module, "rows.py")
    regions, _ = outline.plan_regions(site.node, module, "rows.py", site.line, set())
    assert [(r.first_line, r.last_line) for r in regions] == [(6, 12)]
    smaller, _ = outline.smaller_regions(site.node, module, "rows.py", site.line, regions[0], set())
    smaller, _ = outline.smaller_regions(site.node, module, "rows.py", site.line, smaller[0], set())
    assert smaller == []  # the `if` holds the outer loop's `break`: moving it into a helper would not do


def test_pipeline_retries_a_region_numba_rejects_as_smaller_regions(tmp_path: Path) -> None:
    source = (HERE / "numba_rejects" / "input.py").read_text()
    config = Config(sizes=(("m", 200), ("n", 200)), max_verify=2)
    result = pipeline.optimize_source(source, "levels.py", config)
    by_name = {r.kernel: r for r in result.kernels}
    reason = by_name["row_levels"].reason  # type: ignore[union-attr]
    assert reason.startswith("partly compiled: "), reason
    assert "; compiled lines 18-19 as _row_levels_region" in reason
    assert (
        "; Numba rejects lines 14-20 as a whole (numba compile error: TypingError: Untyped global name"
        in reason
    )
    helpers = [r for r in result.kernels if isinstance(r, pipeline.Emitted)]
    assert [h.line for h in helpers] == [18]
    out = tmp_path / "levels_fast.py"
    out.write_text(result.output)
    spec = importlib.util.spec_from_file_location("levels_fast", out)
    assert spec is not None and spec.loader is not None
    fast = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fast)
    before: dict[str, object] = {}
    exec(compile(source, "input.py", "exec"), before)
    A = np.random.default_rng(5).standard_normal((9, 13))
    np.testing.assert_allclose(fast.row_levels(A), before["row_levels"](A), rtol=1e-12)  # type: ignore[operator]


# ---- one parse per file, however many functions are partly compiled --------------------------------------


def test_partly_compiling_many_functions_parses_the_file_once(monkeypatch: pytest.MonkeyPatch) -> None:
    functions = 30
    source = "import numpy as np\n" + "".join(
        f"\n\ndef f{k}(x: np.ndarray):\n"
        f"    print(f'f{k}: {{x.shape}}')\n"
        f"    s = 0.0\n"
        f"    for i in range(x.shape[0]):\n"
        f"        s += x[i] * {k + 1}.0\n"
        f"    return s\n"
        for k in range(functions)
    )
    counts: Counter[str] = Counter()
    for owner, name in ((frontend, "parse"), (frontend, "find_kernels"), (outline.cst, "parse_statement")):
        real = getattr(owner, name)

        def counting(*args: object, _real=real, _name=name, **kwargs: object) -> object:
            counts[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)
    config = Config(verify=False, target="cpu", time_limit=0.05, iter_limit=2, node_limit=300, top_k=2)
    result = pipeline.optimize_source(source, "big.py", config)
    assert sum(isinstance(k, pipeline.Emitted) for k in result.kernels) == functions
    assert counts["parse"] == 1 and counts["find_kernels"] == 1
    # helpers are built from their own statements: a fixed number of small parses per region
    assert counts["parse_statement"] <= 4 * functions + 5
