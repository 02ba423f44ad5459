"""Differential fuzzing of the bounds guard: when `analysis.bounds_guard` says every subscript is
covered and its conditions hold for the arguments, the original never indexes out of range.

The emitted variant of such a call runs without `boundscheck`, so one subscript the guard wrongly
calls in range reads or writes outside an array. Kernels here are random loop nests whose ranges
lean on each other (triangular `range(i + 1, n)`, descending `range(n - 1, i, -1)`, empty at one
end), reading subscripts one off either edge, some under an `if` that tests the loop variables.
Each runs under CPython on arrays of random small shapes (0 to 6 each way, mismatched on
purpose); wherever the guard is complete and its conditions hold, no IndexError may occur.
"""

from __future__ import annotations

import sys
import textwrap
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optcompiler import frontend
from optcompiler.analysis import analyze, bounds_guard

from .test_fuzz import LONG_CASES

QUICK_CASES = 300
SHAPES = ((0, 0, 0), (1, 1, 1), (2, 3, 1), (3, 2, 4), (4, 4, 4), (5, 3, 6), (6, 6, 2), (3, 5, 5))
GUARD_FUZZ = settings(
    max_examples=LONG_CASES or QUICK_CASES,
    deadline=None,
    derandomize=not LONG_CASES,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
STATS: Counter[str] = Counter()

RANGES = (  # {S}: a size, {o} / {p}: enclosing loop variables (p the outer one), {c}: 0..2
    "range({S})",
    "range({S} - 1, -1, -1)",
    "range({o} + {c}, {S})",
    "range({o}, {S} - {c})",
    "range({o})",
    "range({o} - {c}, {S})",
    "range({S} - 1, {o}, -1)",
    "range({S} - {c}, {o} - 1, -1)",
    "range({o} + 1, {p})",
    "range({p}, {o} + {c})",
    "range(0, {S} - {c}, 2)",
)
OFFSETS = ("{v}", "{v} + 1", "{v} - 1", "{v} + 2", "{S} - 1 - {v}", "{v} - {w}", "{w} - {v} - 1")


@st.composite
def guard_kernels(draw: st.DrawFn) -> str:
    """A kernel over t (2-D), x (1-D) and w, a fresh n×n table, summing subscripted reads."""
    depth = draw(st.integers(2, 3))
    names = ("i", "j", "k")[:depth]
    lines = ["n = t.shape[0]", "m = x.shape[0]", "w = np.zeros((n, n))", "acc = 0.0"]
    indent = ""
    for level, v in enumerate(names):
        outer = names[:level]
        options = [r for r in RANGES if ("{o}" not in r or outer) and ("{p}" not in r or len(outer) > 1)]
        header = draw(st.sampled_from(options)).format(
            S=draw(st.sampled_from(("n", "m"))),
            o=outer[-1] if outer else "",
            p=outer[0] if outer else "",
            c=draw(st.integers(0, 2)),
        )
        lines.append(f"{indent}for {v} in {header}:")
        indent += "    "
    for _ in range(draw(st.integers(1, 3))):
        read = _read(draw, names)
        if draw(st.booleans()) and len(names) > 1:
            a, b = draw(st.permutations(names))[:2]
            lines.append(f"{indent}if {a} < {b} - {draw(st.integers(0, 1))}:")
            lines.append(f"{indent}    acc += {read}")
        else:
            lines.append(f"{indent}acc += {read}")
    body = textwrap.indent("\n".join([*lines, "return acc"]), "    ")
    return f"import numpy as np\n\n\ndef kernel(t: np.ndarray, x: np.ndarray):\n{body}\n"


def _read(draw: st.DrawFn, names: tuple[str, ...]) -> str:
    def subscript() -> str:
        v, w = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        return draw(st.sampled_from(OFFSETS)).format(v=v, w=w, S=draw(st.sampled_from(("n", "m"))))

    array = draw(st.sampled_from(("t", "w", "x")))
    if array == "x":
        return f"x[{subscript()}]"
    return f"{array}[{subscript()}, {subscript()}]"


def _holds(conditions: tuple[str, ...], t: np.ndarray, x: np.ndarray) -> bool:
    return all(eval(c, {}, {"t": t, "x": x}) for c in conditions)


@GUARD_FUZZ
@given(source=guard_kernels())
def test_a_complete_guard_that_holds_means_no_subscript_leaves_its_array(source: str) -> None:
    kernel = frontend.lift_function(source, "<guard fuzz>", "kernel")
    guard = bounds_guard(kernel.body, [p.name for p in kernel.params], analyze(kernel))
    STATS["kernels"] += 1
    if not guard.complete:
        return
    STATS["complete"] += 1
    namespace: dict[str, object] = {"np": np}
    exec(compile(source, "<guard fuzz>", "exec"), namespace)
    rng = np.random.default_rng(len(source))
    for rows, cols, length in SHAPES:
        t, x = rng.standard_normal((rows, cols)), rng.standard_normal(length)
        if not _holds(guard.conditions, t, x):
            continue
        STATS["calls the guard lets through"] += 1
        try:
            namespace["kernel"](t, x)  # type: ignore[operator]
        except IndexError as exc:
            raise AssertionError(
                f"guard {guard.conditions} holds for t{t.shape}, x{x.shape}, yet: {exc}\n{source}"
            ) from exc


def test_the_guard_fuzzer_reaches_proved_kernels() -> None:
    """A fuzzer whose kernels the guard never covers tests nothing."""
    if not STATS["kernels"]:
        return
    print(f"\nguard fuzz statistics: {dict(STATS)}", file=sys.stderr)
    assert STATS["complete"] >= 0.2 * STATS["kernels"], dict(STATS)
    assert STATS["calls the guard lets through"] >= STATS["complete"], dict(STATS)
