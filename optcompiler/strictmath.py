"""CPython's `math` raises where Numba's returns nan or inf: compiled variants call checked helpers.

`math.sqrt(-1.0)` raises ValueError in CPython; under `numba.njit` it returns nan, so plain njit
turns a program that stops with an error into one that goes on computing with nan. optc's
compiled variants must compute what the original computes, errors included: every call of a
`math` function with a domain or range error is lowered, for Numba targets only, to a small
`njit` helper that tests the same condition CPython tests and raises the same exception, then
calls Numba's function. The test is one compare on a value already in a register.

NumPy's functions (`np.sqrt`) return nan with a warning in CPython as in Numba: they are left as
they are. Not covered: `x ** y` (CPython raises OverflowError or returns a complex for Python
floats but not for NumPy scalars, which the IR does not tell apart), two-argument `math.log`,
`math.gamma` and `math.lgamma` poles.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from optcompiler.ir import Term, var


@dataclass(frozen=True)
class Check:
    """When CPython's `math.<name>(x)` raises: `condition` on the argument `x` (domain errors) or,
    with `on_result`, on the result `r` and `x` (range errors: an overflow to inf from a finite x)."""

    condition: str
    error: str
    message: str
    on_result: bool = False


_DOMAIN = "math domain error"
_RANGE = "math range error"
_OVERFLOW = Check("math.isinf(r) and not math.isinf(x)", "OverflowError", _RANGE, on_result=True)

CHECKS: Mapping[str, Check] = {
    "sqrt": Check("x < 0", "ValueError", _DOMAIN),
    "log": Check("x <= 0", "ValueError", _DOMAIN),
    "log2": Check("x <= 0", "ValueError", _DOMAIN),
    "log10": Check("x <= 0", "ValueError", _DOMAIN),
    "log1p": Check("x <= -1", "ValueError", _DOMAIN),
    "acos": Check("x < -1 or x > 1", "ValueError", _DOMAIN),
    "asin": Check("x < -1 or x > 1", "ValueError", _DOMAIN),
    "acosh": Check("x < 1", "ValueError", _DOMAIN),
    "atanh": Check("x <= -1 or x >= 1", "ValueError", _DOMAIN),
    "sin": Check("math.isinf(x)", "ValueError", _DOMAIN),
    "cos": Check("math.isinf(x)", "ValueError", _DOMAIN),
    "tan": Check("math.isinf(x)", "ValueError", _DOMAIN),
    "exp": _OVERFLOW,
    "expm1": _OVERFLOW,
    "cosh": _OVERFLOW,
    "sinh": _OVERFLOW,
    "floor": Check("math.isnan(x)", "ValueError", "cannot convert float NaN to integer"),
    "ceil": Check("math.isnan(x)", "ValueError", "cannot convert float NaN to integer"),
    "trunc": Check("math.isnan(x)", "ValueError", "cannot convert float NaN to integer"),
}
# floor, ceil and trunc of an infinity raise OverflowError too: a second check, below. CPython
# returns an exact big int for finite values beyond int64, which Numba wraps around to a wrong
# one: the helper raises there instead of computing a wrong value (a third check).
_INFINITE_TO_INT = Check("math.isinf(x)", "OverflowError", "cannot convert float infinity to integer")
_BEYOND_INT64 = Check(
    "x >= 9.223372036854775807e18 or x < -9.223372036854775808e18",
    "OverflowError",
    "optc: an integer beyond int64, which compiled code cannot hold",
)


PREFIX = "_optc_math_"
COMMENT = "Numba's math functions return nan or inf where CPython's raise; these raise as CPython does."


def helper_name(func: str) -> str:
    return f"{PREFIX}{func}"


def math_names(prelude: str) -> dict[str, str]:
    """Local name → what it is, from the module's imports: `"math"` for the module (`import math`,
    `import math as m`), a function name for `from math import sqrt [as s]`."""
    names: dict[str, str] = {}
    try:
        tree = ast.parse(prelude)
    except SyntaxError:
        return names
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "math":
                    names[alias.asname or "math"] = "math"
        elif isinstance(node, ast.ImportFrom) and node.module == "math" and node.level == 0:
            for alias in node.names:
                if alias.name in CHECKS:
                    names[alias.asname or alias.name] = alias.name
    return names


def checked_calls(
    body: Term, names: Mapping[str, str], bound: frozenset[str]
) -> tuple[Term, tuple[str, ...]]:
    """`body` with each one-argument call of a checked `math` function routed to its helper, and
    the functions it needed (sorted). `bound` are the kernel's own names (parameters, locals),
    which shadow the imports."""
    used: set[str] = set()

    def func_of(callee: Term) -> str | None:
        if callee.op == "attr" and callee.args[0].op == "var":
            module = callee.args[0].value
            if module not in bound and names.get(str(module)) == "math" and callee.value in CHECKS:
                return str(callee.value)
        if callee.op == "var" and callee.value not in bound:
            func = names.get(str(callee.value))
            if func is not None and func != "math":
                return func
        return None

    def walk(term: Term) -> Term:
        args = tuple(walk(a) for a in term.args)
        if term.op == "call" and len(args) == 2 and (func := func_of(term.args[0])) is not None:
            used.add(func)
            return Term("call", (var(helper_name(func)), args[1]), term.value)
        if args == term.args:
            return term
        return Term(term.op, args, term.value)

    return walk(body), tuple(sorted(used))


def helper_source(func: str) -> str:
    """The `njit` helper that raises as CPython's `math.<func>` does, then calls Numba's."""
    check = CHECKS[func]
    checks = [check] + ([_INFINITE_TO_INT, _BEYOND_INT64] if func in ("floor", "ceil", "trunc") else [])
    lines = [
        "@numba.njit(cache=True, inline='always')",
        f"def {helper_name(func)}(x):",
        f'    """math.{func} with the error CPython raises; Numba\'s returns a value instead."""',
    ]
    tests = [c for c in checks if not c.on_result]
    for c in tests:
        lines += [f"    if {c.condition}:", f'        raise {c.error}("{c.message}")']
    if any(c.on_result for c in checks):
        lines.append(f"    r = math.{func}(x)")
        for c in checks:
            if c.on_result:
                lines += [f"    if {c.condition}:", f'        raise {c.error}("{c.message}")']
        lines.append("    return r")
    else:
        lines.append(f"    return math.{func}(x)")
    return "\n".join(lines) + "\n"
