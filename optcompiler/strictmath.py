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

Inside a `prange` loop a helper that raises makes Numba run the loop serially (a parallel loop
may have one exit: "prange or pndindex loop will not be executed in parallel"). Where the
dispatcher may run the original instead (`pipeline.rerunnable`: the kernel writes no argument and
draws no random numbers), calls in such a loop go to flag helpers instead (`parallel_calls`): they
return Numba's value and, where the checked helper would raise, store 1 into a one-byte array the
variant allocates first; after the loop the variant raises ArithmeticError if any iteration did,
and the dispatcher, catching it (`RETRY`), runs the original, which raises as CPython does.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from optcompiler.ir import Term, seq, var


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
COMMENT = (
    "Numba's math functions return nan or inf where CPython's raise; these raise as CPython does"
    " (the _flag ones mark it, in a parallel loop, and the original runs)."
)


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


def _routing(names: Mapping[str, str], bound: frozenset[str]) -> Callable[[Term], str | None]:
    """The checked `math` function a call's callee names, if any (`bound`, the kernel's own names,
    shadow the module's imports)."""

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

    return func_of


def _route(
    body: Term, func_of: Callable[[Term], str | None], helper: Callable[[str, Term], Term]
) -> tuple[Term, set[str]]:
    """`body` with each one-argument call of a checked function replaced by `helper(func, arg)`."""
    used: set[str] = set()

    def walk(term: Term) -> Term:
        args = tuple(walk(a) for a in term.args)
        if term.op == "call" and len(args) == 2 and (func := func_of(term.args[0])) is not None:
            used.add(func)
            return helper(func, args[1])
        if args == term.args:
            return term
        return Term(term.op, args, term.value)

    return walk(body), used


def checked_calls(
    body: Term, names: Mapping[str, str], bound: frozenset[str]
) -> tuple[Term, tuple[str, ...]]:
    """`body` with each one-argument call of a checked `math` function routed to its helper, and
    the functions it needed (sorted). `bound` are the kernel's own names (parameters, locals),
    which shadow the imports."""
    routed, used = _route(
        body, _routing(names, bound), lambda func, arg: Term("call", (var(helper_name(func)), arg))
    )
    return routed, tuple(sorted(used))


FLAGS = "_optc_bad"  # the variant's one-byte array: nonzero once a flag helper met an error
ALLOCATE = f"{PREFIX}flags"
CHECK = f"{PREFIX}flagged"
FLAGGED_ERROR = "ArithmeticError"
# What the dispatcher catches from a variant with flag helpers before running the original: the
# flagged error, and what a loop may meet going on with Numba's nan, inf or wrapped integer after
# a flagged call (ZeroDivisionError and OverflowError are ArithmeticErrors; IndexError from a
# boundscheck on an index computed from it; ValueError from an allocation of a size computed from
# it). Exact for any error: the original, run again, is what CPython does.
RETRY = (FLAGGED_ERROR, "IndexError", "ValueError")


def flag_helper_name(func: str) -> str:
    return f"{PREFIX}{func}_flag"


def parallel_calls(
    body: Term, names: Mapping[str, str], bound: frozenset[str]
) -> tuple[Term, tuple[str, ...]]:
    """`body` with the checked calls in each outermost `prange` loop routed to flag helpers
    (`flag_helper_source`), each such loop followed by the flags' check, and the flags allocated
    first; and the functions flagged (sorted). Unchanged, with (), where no prange loop calls one.
    Only for a kernel the dispatcher may run again as written (`RETRY`)."""
    func_of = _routing(names, bound)
    flagged: set[str] = set()

    def flag_call(func: str, arg: Term) -> Term:
        return Term("call", (var(flag_helper_name(func)), arg, var(FLAGS)))

    def walk(term: Term) -> Term:
        if term.op == "for" and term.value == "prange":
            routed, used = _route(term, func_of, flag_call)
            if not used:
                return term
            flagged.update(used)
            return seq(routed, Term("expr", (Term("call", (var(CHECK), var(FLAGS))),)))
        args = tuple(walk(a) for a in term.args)
        if args == term.args:
            return term
        return (
            seq(*args) if term.op == "seq" else Term(term.op, args, term.value)
        )  # the check joins the block

    routed = walk(body)
    if not flagged:
        return body, ()
    allocate = Term("assign", (var(FLAGS), Term("call", (var(ALLOCATE),))))
    return seq(allocate, routed), tuple(sorted(flagged))


def _checks(func: str) -> list[Check]:
    return [CHECKS[func]] + ([_INFINITE_TO_INT, _BEYOND_INT64] if func in ("floor", "ceil", "trunc") else [])


def _helper(func: str, on_error: Callable[[Check], str]) -> list[str]:
    """The body of a helper of `math.<func>(x)`: each check of `CHECKS` (and the integer
    conversions' for floor, ceil and trunc) followed by `on_error(check)`, in CPython's order."""
    checks = _checks(func)
    lines = []
    for c in checks:
        if not c.on_result:
            lines += [f"    if {c.condition}:", f"        {on_error(c)}"]
    if any(c.on_result for c in checks):
        lines.append(f"    r = math.{func}(x)")
        for c in checks:
            if c.on_result:
                lines += [f"    if {c.condition}:", f"        {on_error(c)}"]
        lines.append("    return r")
    else:
        lines.append(f"    return math.{func}(x)")
    return lines


def helper_source(func: str) -> str:
    """The `njit` helper that raises as CPython's `math.<func>` does, then calls Numba's."""
    lines = [
        "@numba.njit(cache=True, inline='always')",
        f"def {helper_name(func)}(x):",
        f'    """math.{func} with the error CPython raises; Numba\'s returns a value instead."""',
        *_helper(func, lambda c: f'raise {c.error}("{c.message}")'),
    ]
    return "\n".join(lines) + "\n"


def flag_helper_source(func: str) -> str:
    """The `njit` helper that returns Numba's `math.<func>(x)` and marks `bad` where CPython's
    raises: it never raises itself, so a `prange` loop calling it stays parallel. Every marking
    thread stores the same byte, a race without a wrong outcome."""
    lines = [
        "@numba.njit(cache=True, inline='always')",
        f"def {flag_helper_name(func)}(x, bad):",
        f'    """Numba\'s math.{func}; marks `bad` where CPython\'s raises, for the original to run."""',
        *_helper(func, lambda c: "bad[0] = 1"),
    ]
    return "\n".join(lines) + "\n"


FLAGS_SOURCE = f"""@numba.njit(cache=True, inline='always')
def {ALLOCATE}():
    \"\"\"The flags a parallel loop's calls mark (`{flag_helper_name("sqrt")}`): none yet.\"\"\"
    return numpy.zeros(1, numpy.uint8)


@numba.njit(cache=True, inline='always')
def {CHECK}(bad):
    \"\"\"After the loop: raise where CPython would have raised in it; the dispatcher catches it.\"\"\"
    if bad[0]:
        raise {FLAGGED_ERROR}("optc: math error in a parallel loop, re-run as written")
"""


def helpers_source(checked: Sequence[str], flagged: Sequence[str]) -> list[str]:
    """The helpers' `def`s a variant calls, one text each (`emit` writes each text once per module)."""
    flags = [FLAGS_SOURCE, *(flag_helper_source(f) for f in flagged)] if flagged else []
    return [*(helper_source(f) for f in checked), *flags]


def imports(source: str) -> tuple[str, ...]:
    """The imports the helpers in `source` need, for a module that may spell them otherwise
    (`import math as m`, `import numpy as np`): the helpers spell `math` and `numpy` in full."""
    needed = ["import math"] if PREFIX in source else []
    if ALLOCATE in source:
        needed.append("import numpy")
    return tuple(needed)
