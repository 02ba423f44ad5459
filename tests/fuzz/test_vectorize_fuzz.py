"""The differential fuzzer on the shapes passes/vectorize.py rewrites: reductions of array
expressions (`np.sum(E)`, `E.sum()`) and elementwise loops and 2-deep nests, with their near misses
(two arrays of unproved extents, divisions, float32 and int data, offsets, a read of the array
being written at another element, a loop variable used as a value, partial ranges).

Every extracted variant runs against the original under CPython on the input plans of
tests/fuzz/test_fuzz.py (empty, single-element, special values, aliasing arguments).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TypeVar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzz.test_fuzz import FUZZ, LONG_CASES, STATS, check_kernel

T = TypeVar("T")
QUICK_CASES = 80

ARRAY_TERMS = ("a", "a", "b", "c")
SCALARS = ("s", "2.0", "0.5", "3", "-1.5")
BINARY = (" + ", " - ", " * ", " / ", " * ")


@st.composite
def array_expression_kernels(draw: st.DrawFn) -> str:
    def pick(options: Sequence[T]) -> T:
        return draw(st.sampled_from(list(options)))

    def chance(percent: int) -> bool:
        return draw(st.integers(0, 99)) >= 100 - percent

    dtype = pick(("float64", "float64", "float32", "int64"))
    ndim = 2 if chance(35) else 1
    second = pick(("param", "fresh", "fresh"))  # b: another argument, or a copy-sized fresh array

    def whole(depth: int) -> str:
        """An expression over whole arrays a, b (and c, a fresh array) and scalars."""
        if depth > 2 or chance(30):
            return pick(ARRAY_TERMS) if chance(70) else pick(SCALARS)
        kind = draw(st.integers(0, 5))
        if kind == 0:
            return f"np.{pick(('sqrt', 'abs'))}({whole(depth + 1)})"
        if kind == 1:
            return f"({whole(depth + 1)}) ** 2"
        if kind == 2:
            return f"({whole(depth + 1)} {pick(('>', '<=', '=='))} {pick(SCALARS)})"
        return f"({whole(depth + 1)}{pick(BINARY)}{whole(depth + 1)})"

    subs = ("i", "i", "i + 1", "i - 1") if ndim == 1 else ("i, j", "i, j", "i + 1, j", "j, i")
    loops = (
        ("range(n)", "range(1, n - 1)", "range(n - 1)", "range(0, n, 2)")
        if ndim == 1
        else ("range(n)", "range(1, n - 1)")
    )

    def element(depth: int) -> str:
        """An elementwise expression over a[sub], b[sub] and scalars (sometimes i itself)."""
        if depth > 2 or chance(35):
            if chance(70):
                return f"{pick(('a', 'b', 'a', 'out'))}[{pick(subs)}]"
            return pick((*SCALARS, "i")) if chance(90) else "i"
        kind = draw(st.integers(0, 4))
        if kind == 0:
            return f"np.{pick(('sqrt', 'abs', 'floor'))}({element(depth + 1)})"
        return f"({element(depth + 1)}{pick(BINARY)}{element(depth + 1)})"

    shape = "(n,)" if ndim == 1 else "(n, n)"
    lines = ["import numpy as np", "import numpy.typing as npt", "", ""]
    array_type = f"npt.NDArray[np.{dtype}]"
    params = [f"a: {array_type}", "s: float"]
    if second == "param":
        params.insert(1, f"b: {array_type}")
    params.append(f"out: npt.NDArray[np.{dtype}]")
    lines.append(f"def kernel({', '.join(params)}):")
    lines.append("    n = a.shape[0]")
    if second == "fresh":
        lines.append("    b = np.zeros_like(a) + 1")
    lines.append(f"    c = np.ones({shape})")
    if chance(50):
        call = f"np.sum({whole(0)})" if chance(60) else f"({whole(0)}).sum()"
        lines.append(f"    total = {call}")
        lines.append("    return total")
    else:
        header = pick(loops)
        op = pick((" = ", " = ", " += ", " *= "))
        target = f"out[{pick(subs[:2])}]"
        if ndim == 1:
            lines += [f"    for i in {header}:", f"        {target}{op}{element(0)}"]
        else:
            lines += [
                f"    for i in {header}:",
                f"        for j in {pick(loops)}:",
                f"            {target}{op}{element(0)}",
            ]
        lines.append("    return out")
    return "\n".join(lines) + "\n"


CANONICAL = (
    "import numpy as np\n\n\ndef kernel(a: np.ndarray):\n    return np.sqrt(np.sum(a * a))\n",
    "import numpy as np\n\n\ndef kernel(a: np.ndarray, out: np.ndarray):\n    n, m = a.shape\n"
    "    for i in range(n):\n        for j in range(m):\n            out[i, j] = a[i, j] * 2.0 + 1.0\n",
)


@settings(FUZZ, max_examples=LONG_CASES // 4 or QUICK_CASES)
@given(source=array_expression_kernels())
@example(source=CANONICAL[0])
@example(source=CANONICAL[1])
def test_array_expression_variants_compute_what_the_original_computes(source: str) -> None:
    check_kernel(source, family="vectorize")


def test_the_vectorize_fuzzer_reaches_its_rules() -> None:
    if not STATS["vectorize"]:
        pytest.skip("the property test did not run in this session")
    seen = {key.removeprefix("rule ") for key in STATS if key.startswith("rule ")}
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items()) if "vectorize" in k)
    print(f"\nvectorize fuzz statistics: {summary}", file=sys.stderr)
    expected = {"vectorize.slice", "vectorize.slice-2d", "vectorize.loop-sum", "vectorize.loop-count"}
    assert expected <= seen, f"never produced: {sorted(expected - seen)}; {summary}"
