"""Loop rewrites: interchange, loop-invariant code motion, scalar replacement.

What
    `loops.interchange` swaps two perfectly nested `for` loops; applied repeatedly it reaches
    every legal permutation of a nest. `loops.licm` hoists loads (and +, -, * of them) that do
    not change inside a loop into a temporary just before it. `loops.scalar-replace` keeps an
    array element that a loop updates at a fixed index in a local variable, storing it once
    after the loop.
Why faster
    Interchange makes the innermost loop walk memory with unit stride (C order), so it uses
    whole cache lines and vectorizes: naive i-j-k gemm becomes i-k-j. LICM and scalar
    replacement take loads and stores out of the innermost loop and, because the compiler no
    longer has to assume that a store may change the hoisted value, let LLVM vectorize it.
Legal when
    Interchange: dependence direction vectors stay lexicographically non-negative after the
    swap (`analysis.interchange_legal`): rectangular bounds, no early exit, no impure call, no
    carried scalar, nothing assigned in the nest read after it. LICM: the expression reads no
    name the loop assigns, no array the loop writes (array parameters that might alias get a
    run-time overlap guard), and each load's subscripts are loop variables proved to stay in
    the array's bounds, so executing it when the loop runs zero times reads valid memory.
    Scalar replacement: every access to the array in the loop uses the same invariant
    subscripts, the element is in bounds, the loop has no early exit, and the array is float64
    or int64 and every update (`x op= e`, `x = x op e`) keeps a scalar of that dtype one.
Refuses when
    A dependence would be reversed (e.g. `u[i-1, j+1]` read while writing `u[i, j]`), bounds are
    triangular, a scalar accumulates across the swapped loops, a loop variable or temporary is
    read after the nest, a subscript is not affine, or a hoisted load could be out of bounds;
    scalar replacement of a float32 element updated with a float64 (the scalar would sum in
    float64 and round once; the original rounds at every store) or of an int element updated
    with a float (the original truncates at every store).
Float safety
    Exact: every floating-point operation runs with the same operands in the same order;
    interchange never reorders the updates of a single element (the direction-vector test
    guarantees it), so results are bit-identical.
"""

from __future__ import annotations

from optcompiler.analysis import (
    accesses,
    array_dtype,
    expr_kind,
    has_early_exit,
    index_parts,
    interchange_legal,
    is_invariant,
    is_pure_expr,
    load_in_bounds,
    names_assigned,
    names_read,
)
from optcompiler.ir import Term, seq, var
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, Id, Rewrite, rule

NAME = "loops"
PREVIEW = False
WHY = {
    "loops.interchange": "loop interchange: no dependence changes direction, each element's updates keep their order",
    "loops.licm": "invariant loads hoisted: the loop writes neither them nor an overlapping array, subscripts in bounds",
    "loops.scalar-replace": "element kept in a scalar: only accessed at one invariant, in-bounds subscript in the loop",
}

_HOISTABLE_OPS = frozenset({"index", "var", "const", "add", "sub", "mul", "neg", "tuple"})


def loop_term(egraph: EGraph, id: Id) -> Term | None:
    """The smallest `for` term in class `id`, rebuilt from representatives of its children."""
    for node in egraph.nodes(id):
        if node.op == "for":
            return Term("for", tuple(egraph.extract_term(c) for c in node.children), node.value)
    return None


def _matched_loop(egraph: EGraph, subst: dict[str, Id], prefix: str = "") -> Term:
    names = ("v", "lo", "hi", "st", "body")
    return Term("for", tuple(egraph.extract_term(subst[prefix + n]) for n in names), "range")


def rules(ctx: PassContext) -> list[Rewrite]:
    def interchange_ok(egraph: EGraph, id: Id, subst: dict[str, Id]) -> bool:
        inner = _matched_loop(egraph, subst, "b")
        outer = Term(
            "for",
            (*(egraph.extract_term(subst["a" + n]) for n in ("v", "lo", "hi", "st")), seq(inner)),
            "range",
        )
        return interchange_legal(outer, ctx.facts)

    def licm(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        return hoist_invariants(_matched_loop(egraph, subst), ctx)

    whole: list[Term] = []

    def scalar_replace(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        if not whole:  # allocations are top-level statements no rule rewrites: any variant will do
            whole.append(egraph.extract_term(ctx.root))
        return replace_scalars(_matched_loop(egraph, subst), ctx, whole[0])

    return [
        rule(
            "loops.interchange",
            "(for:range ?av ?alo ?ahi ?ast (seq (for:range ?bv ?blo ?bhi ?bst ?bbody)))",
            "(for:range ?bv ?blo ?bhi ?bst (seq (for:range ?av ?alo ?ahi ?ast ?bbody)))",
            when=interchange_ok,
        ),
        rule("loops.licm", "(for:range ?v ?lo ?hi ?st ?body)", licm),
        rule("loops.scalar-replace", "(for:range ?v ?lo ?hi ?st ?body)", scalar_replace),
    ]


# ---- loop-invariant code motion -------------------------------------------------------------------


def hoist_invariants(loop: Term, ctx: PassContext) -> Term | None:
    """`for v: ...e...` → `t = e; for v: ...t...` for every maximal invariant, in-bounds load expression."""
    body = loop.args[4]
    found: list[Term] = []
    _find_invariants(body, loop, ctx, found, in_target=False)
    if not found:
        return None
    mapping = {expr: var(ctx.fresh_name(expr)) for expr in found}
    new_body = _substitute(body, mapping)
    hoisted = [Term("assign", (mapping[e], e)) for e in found]
    return seq(*hoisted, Term("for", (*loop.args[:4], new_body), loop.value))


def _find_invariants(term: Term, loop: Term, ctx: PassContext, found: list[Term], in_target: bool) -> None:
    if term.op in ("assign", "augassign"):
        target, value = term.args
        if target.op == "index":
            for part in index_parts(target):
                _find_invariants(part, loop, ctx, found, in_target=False)
        _find_invariants(value, loop, ctx, found, in_target=False)
        return
    if not in_target and _hoistable(term, loop, ctx):
        if term not in found:
            found.append(term)
        return
    for child in term.args:
        _find_invariants(child, loop, ctx, found, in_target)


def _hoistable(expr: Term, loop: Term, ctx: PassContext) -> bool:
    loads = [t for t in expr.walk() if t.op == "index"]
    if not loads or any(t.op not in _HOISTABLE_OPS for t in expr.walk()):
        return False
    if any(load.args[0].op != "var" or not load_in_bounds(load, ctx.facts) for load in loads):
        return False
    return is_invariant(expr, loop, ctx.facts)


def _substitute(term: Term, mapping: dict[Term, Term]) -> Term:
    if term in mapping:
        return mapping[term]
    if term.op in ("assign", "augassign") and term.args[0].op == "index":
        target, value = term.args
        new_target = Term("index", (target.args[0], _substitute(target.args[1], mapping)))
        return Term(term.op, (new_target, _substitute(value, mapping)), term.value)
    if not term.args:
        return term
    args = tuple(_substitute(a, mapping) for a in term.args)
    return term if args == term.args else Term(term.op, args, term.value)


# ---- scalar replacement ---------------------------------------------------------------------------------


def replace_scalars(loop: Term, ctx: PassContext, kernel_body: Term) -> Term | None:
    """`for v: X[c] += e` → `acc = X[c]; for v: acc += e; X[c] = acc` for an invariant, in-bounds X[c]
    whose updates keep X's dtype (`kernel_body` holds the allocations that tell local dtypes)."""
    body = loop.args[4]
    if has_early_exit(body) or not is_pure_expr(body):
        return None
    changed = names_assigned(body) | {str(loop.args[0].value)}
    by_array: dict[str, set[Term]] = {}
    written: set[str] = set()
    for acc in accesses(body):
        by_array.setdefault(acc.array, set()).add(acc.term)
        if acc.is_write:
            written.add(acc.array)
    for array in sorted(written):
        terms = by_array[array]
        if len(terms) != 1:
            continue
        (element,) = terms
        if names_read(element.args[1]) & changed or not load_in_bounds(element, ctx.facts):
            continue
        if not all(_distinct_or_guarded(array, other, ctx) for other in by_array if other != array):
            continue
        if not _keeps_dtype(body, element, array_dtype(array, kernel_body, ctx.facts), ctx):
            continue
        acc_var = var(ctx.fresh_name(element))
        new_body = _substitute_element(body, element, acc_var)
        return seq(
            Term("assign", (acc_var, element)),
            Term("for", (*loop.args[:4], new_body), loop.value),
            Term("assign", (element, acc_var)),
        )
    return None


# Updates after which a float64 (int64) scalar is still a float64 (int64), whatever the other
# operand's real (integer) type: `acc = X[c]` starts as X's dtype and must stay it, because the
# original rounds (or wraps) to that dtype at every store. A float32 element updated with a
# float64 would accumulate in float64 in the scalar and round once at the end.
_KEEPS = {
    "float64": (
        frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod"}),
        frozenset({"int", "float", "bool"}),
    ),
    "int64": (frozenset({"add", "sub", "mul", "floordiv", "mod"}), frozenset({"int", "bool"})),
}


def _keeps_dtype(body: Term, element: Term, dtype: str | None, ctx: PassContext) -> bool:
    """Every write of `element` in `body` is `element op= e` or `element = element op e` (either
    operand order) with an operator and an operand kind under which a scalar of `dtype` keeps it."""
    if dtype not in _KEEPS:
        return False
    ops, kinds = _KEEPS[dtype]

    def operand_ok(e: Term) -> bool:
        if expr_kind(e, ctx.facts.arg_types, ctx.facts.local_kinds) not in kinds:
            return False
        unsigned = (a for a in names_read(e) if ctx.facts.arg_types.get(a, None) is not None)
        return not any(ctx.facts.arg_types[a].dtype.startswith("uint") for a in unsigned)

    for term in body.walk():
        if term.op == "augassign" and term.args[0] == element:
            if term.value not in ops or not operand_ok(term.args[1]):
                return False
        elif term.op == "assign" and element in term.args[0].walk():
            value = term.args[1]
            if term.args[0] != element or value.op not in ops or len(value.args) != 2:
                return False
            left, right = value.args
            other = right if left == element else left if right == element else None
            if other is None or not operand_ok(other):
                return False
    return True


def _distinct_or_guarded(a: str, b: str, ctx: PassContext) -> bool:
    """Arrays provably distinct, or both parameters (emitted code sends overlapping calls to the original)."""
    return not ctx.facts.may_alias(a, b) or (a in ctx.facts.arg_types and b in ctx.facts.arg_types)


def _substitute_element(term: Term, element: Term, replacement: Term) -> Term:
    if term == element:
        return replacement
    if not term.args:
        return term
    args = tuple(_substitute_element(a, element, replacement) for a in term.args)
    return term if args == term.args else Term(term.op, args, term.value)
