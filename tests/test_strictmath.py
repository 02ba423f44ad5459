"""The checked `math` helpers raise exactly where CPython's `math` does, and compute the same values."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numba
import pytest

from optcompiler import strictmath
from optcompiler.ir import Term, const, var

EDGES = (
    -math.inf,
    -710.0,
    -2.0,
    -1.0,
    -0.5,
    -0.0,
    0.0,
    0.5,
    1.0,
    2.0,
    710.0,
    1e308,
    math.inf,
    math.nan,
    3,
    -3,
)


def _outcome(func, x):
    try:
        return ("value", func(x))
    except (ValueError, OverflowError) as error:
        return ("raises", type(error).__name__, str(error))


@pytest.mark.parametrize("name", sorted(strictmath.CHECKS))
def test_each_helper_matches_cpython_on_edge_values(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"helper_{name}.py"  # njit(cache=True) needs a real file
    path.write_text("import math\nimport numba\n\n\n" + strictmath.helper_source(name))
    spec = importlib.util.spec_from_file_location(f"optc_test_helper_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    helper = getattr(module, strictmath.helper_name(name))
    reference = getattr(math, name)
    for x in EDGES:
        want, got = _outcome(reference, x), _outcome(helper, x)
        if name in ("floor", "ceil", "trunc") and math.isfinite(x) and abs(x) >= 2.0**63:
            # CPython's exact big int has no int64 form: an error, never a wrapped-around value
            assert got[:2] == ("raises", "OverflowError"), (name, x, got)
            continue
        if want[0] == "value" and got[0] == "value" and math.isnan(want[1]):
            assert math.isnan(got[1]), (name, x, got)
        else:
            assert got == want, (name, x)


def test_plain_numba_differs_which_is_why_the_helpers_exist() -> None:
    assert math.isnan(numba.njit(lambda x: math.sqrt(x))(-1.0))
    with pytest.raises(ValueError):
        math.sqrt(-1.0)


def test_imports_name_the_math_module_and_its_functions() -> None:
    prelude = "import math\nimport math as m\nfrom math import sqrt, log as ln, pi\nimport numpy as np\n"
    assert strictmath.math_names(prelude) == {"math": "math", "m": "math", "sqrt": "sqrt", "ln": "log"}
    assert strictmath.math_names("def broken(:\n") == {}


def _call(callee: Term, *args: Term) -> Term:
    return Term("call", (callee, *args))


def test_calls_are_routed_unless_a_local_name_shadows_the_import() -> None:
    names = {"math": "math", "ln": "log"}
    sqrt_x = _call(Term("attr", (var("math"),), "sqrt"), var("x"))
    ln_x = _call(var("ln"), var("x"))
    hypot = _call(Term("attr", (var("math"),), "hypot"), var("x"), const(1.0))  # no domain error
    body = Term("seq", (Term("return", (Term("tuple", (sqrt_x, ln_x, hypot)),)),))
    routed, used = strictmath.checked_calls(body, names, frozenset({"x"}))
    assert used == ("log", "sqrt")
    assert _call(var("_optc_math_sqrt"), var("x")) in routed.walk()
    assert _call(var("_optc_math_log"), var("x")) in routed.walk()
    assert hypot in routed.walk()
    same, none = strictmath.checked_calls(body, names, frozenset({"x", "ln", "math"}))
    assert (same, none) == (body, ())
