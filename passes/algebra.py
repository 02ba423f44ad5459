"""Float-safe algebraic simplification and constant folding.

What
    `x ** 2 → x * x`; `x / c → x * (1/c)` for a power-of-two constant c; `x * 1.0 → x`,
    `x - 0.0 → x` and `-(-x) → x` on floats; folding of constant int/float arithmetic.
    (No commutativity: it multiplies the variants extraction must sort through, 2^k for k
    additions, while gaining nothing Numba's own LLVM pipeline does not.)
    Opt-in only (`--fastmath`): `x - x → 0.0` and `x * 0.0 → 0.0`.
Why faster
    `pow` is a libm call (tens of cycles) where a multiply is one; division is 4-10x slower
    than multiplication and blocks some vectorization; folded constants cost nothing.
Legal when
    The operand's kind is known from the analyses (int or float scalar, or a float array for
    elementwise rules) and the operand is pure, since `x * x` evaluates x twice.
Refuses when
    `x ** 0.5 → sqrt(x)` (differs for -0.0 and -inf), `x + 0.0 → x` (wrong for -0.0),
    `x / 3.0 → x * (1/3.0)` (1/3 is rounded), anything on operands of unknown kind, folding
    that would divide by zero, overflow int64, or produce inf/nan. `x * 1.0 → x`, `x - 0.0 → x`
    and `-(-x) → x` when x is written (an assignment target or a loop variable): the rewrite
    merges the expression into x's e-class, and extraction could then print it where Python
    needs a name or subscript (`a[i] * 1.0 = a[i]`).
Float safety
    Every default rule is exact in IEEE-754 double and single precision except
    `algebra.square-float`: x*x is the correctly rounded square but CPython's `x ** 2` calls the C
    library's pow, which on glibc differs from it in the last bit for about 1 value in 1,500
    (found by the differential fuzzer), so on floats that rule is tagged `reassoc` (verified
    within the float policy's tolerance, refused under --strict-fp; Numba itself compiles `x ** 2`
    as x*x). Multiplying by an exact power-of-two reciprocal rounds
    identically to dividing (barring subnormal results of the reciprocal, which the constant
    check excludes); x*1.0, x-0.0 and -(-x) return x bit for bit, signed zeros and NaN
    included. The two fastmath rules change results for NaN/inf
    (and the sign of zero) and are tagged `fastmath`, so they fire only on opt-in.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from optcompiler.analysis import is_pure_expr
from optcompiler.ir import Term, const
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, Id, Rewrite, rule

NAME = "algebra"
PREVIEW = False
WHY = {
    "algebra.square": "x**2 -> x*x on integers: exact",
    "algebra.square-float": "x**2 -> x*x on floats: CPython's pow can differ from x*x in the last bit",
    "algebra.div-pow2": "division by a power of two -> multiplication by its exact reciprocal",
    "algebra.mul-one": "x*1.0 -> x: exact for every float, signed zeros and NaN included",
    "algebra.one-mul": "1.0*x -> x: exact for every float, signed zeros and NaN included",
    "algebra.sub-zero": "x-0.0 -> x: exact for every float, signed zeros and NaN included",
    "algebra.double-neg": "-(-x) -> x: exact",
    "algebra.sub-self": "x-x -> 0.0 (fastmath: wrong for inf and NaN)",
    "algebra.mul-zero": "x*0.0 -> 0.0 (fastmath: wrong for inf, NaN and negative x)",
}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_FOLDABLE: dict[str, Callable[[object, object], object]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
}


def rules(ctx: PassContext) -> list[Rewrite]:
    def kind_is(
        *kinds: str, var: str = "x", pure: bool = False, to_operand: bool = False
    ) -> Callable[[EGraph, Id, dict[str, Id]], bool]:
        def when(egraph: EGraph, id: Id, subst: dict[str, Id]) -> bool:
            if ctx.kind(egraph, subst[var]) not in kinds:
                return False
            if to_operand and is_location(egraph, subst[var]):
                return False
            return not pure or is_pure_expr(egraph.extract_term(subst[var]))

        return when

    def div_by_power_of_two(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        if ctx.kind(egraph, subst["x"]) not in ("int", "float", "array"):
            return None
        c = egraph.extract_term(subst["c"])
        if c.op != "const" or isinstance(c.value, bool) or not isinstance(c.value, (int, float)):
            return None
        value = float(c.value)
        if value == 0.0 or not math.isfinite(value):
            return None
        mantissa, exponent = math.frexp(abs(value))
        if (
            mantissa != 0.5 or not -1021 <= exponent - 1 <= 1022
        ):  # exact power of two with a normal reciprocal
            return None
        return Term("mul", (egraph.extract_term(subst["x"]), const(1.0 / value)))

    def fold(op: str) -> Callable[[EGraph, Id, dict[str, Id]], Term | None]:
        def apply(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
            a, b = egraph.extract_term(subst["a"]), egraph.extract_term(subst["b"])
            return fold_constants(op, a, b)

        return apply

    rewrites = [
        rule("algebra.square", "(pow ?x 2)", "(mul ?x ?x)", when=kind_is("int", pure=True)),
        rule(
            "algebra.square-float",
            "(pow ?x 2)",
            "(mul ?x ?x)",
            when=kind_is("float", "array", pure=True),
            safety="reassoc",
        ),
        rule("algebra.div-pow2", "(truediv ?x ?c)", div_by_power_of_two),
        rule("algebra.mul-one", "(mul ?x 1.0)", "?x", when=kind_is("float", to_operand=True)),
        rule("algebra.one-mul", "(mul 1.0 ?x)", "?x", when=kind_is("float", to_operand=True)),
        rule("algebra.sub-zero", "(sub ?x 0.0)", "?x", when=kind_is("float", to_operand=True)),
        rule("algebra.double-neg", "(neg (neg ?x))", "?x", when=kind_is("int", "float", to_operand=True)),
        rule("algebra.sub-self", "(sub ?x ?x)", "0.0", when=kind_is("float", pure=True), safety="fastmath"),
        rule("algebra.mul-zero", "(mul ?x 0.0)", "0.0", when=kind_is("float", pure=True), safety="fastmath"),
    ]
    rewrites += [rule(f"algebra.fold-{op}", f"({op} ?a ?b)", fold(op)) for op in _FOLDABLE]
    return rewrites


def is_location(egraph: EGraph, id: Id) -> bool:
    """Is class `id` written to: an assignment target (or an element of a tuple target) or a loop
    variable? A rule whose right side is its operand (`x * 1.0 -> x`) merges the whole expression
    into the operand's class; were that class a location, extraction could write the expression
    where Python needs a name or subscript (`a[i] * 1.0 = ...`, `for -(-i) in ...`)."""
    cls = egraph.find(id)
    for other in egraph.class_ids():
        for node in egraph.nodes(other):
            if node.op not in ("assign", "augassign", "for"):
                continue
            target = egraph.find(node.children[0])
            if target == cls:
                return True
            if node.op == "assign" and any(
                egraph.find(c) == cls for t in egraph.nodes(target) if t.op == "tuple" for c in t.children
            ):
                return True
    return False


def fold_constants(op: str, a: Term, b: Term) -> Term | None:
    """What CPython computes for `a op b` on two numeric constants, when it is safe to inline."""
    if a.op != "const" or b.op != "const":
        return None
    x, y = a.value, b.value
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
        return None
    try:
        result = _FOLDABLE[op](x, y)
    except (ZeroDivisionError, OverflowError):
        return None
    if isinstance(result, float) and not math.isfinite(result):
        return None
    if isinstance(result, int) and not INT64_MIN <= result <= INT64_MAX:
        return None
    return const(result)  # type: ignore[arg-type]
