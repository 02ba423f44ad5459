"""Loop rewrites: interchange, LICM, scalar replacement, fusion, distribution, peeling,
unroll-and-jam and tiling.

What
    `loops.interchange` swaps two perfectly nested `for` loops; applied repeatedly it reaches
    every legal permutation of a nest. `loops.licm` hoists loads (and +, -, * of them) that do
    not change inside a loop into a temporary just before it. `loops.scalar-replace` keeps an
    array element that a loop updates at a fixed index in a local variable, storing it once
    after the loop. `loops.fuse` merges two adjacent loops over the same range in any block (a
    loop body, a branch, the kernel body itself) into one; applied again, a run of loops fuses.
    `loops.fuse-shifted` fuses two such loops that plain fusion may not by running the second
    one or two iterations behind the first: the first s iterations of the first loop, then
    `for i in range(lo + s, hi): B1; B2[i - s]`, then the last s iterations of the second.
    `loops.distribute` splits a loop whose body is several statements into two loops over the
    same range (applied again, into one loop a statement group); a float scalar one part's nest
    sets and the next part reads is expanded into an array at the split (`t_i = np.empty(n)`,
    `t_i[i] = t` after the first part, `t_i[i]` read in the second). Scalars set to a literal
    at the top of the body (`t = 0.0; u = 0.0`) are first moved down to their first use when that
    passes a loop, so each accumulator's start can go with its own (distributed) inner loop. `loops.peel` runs the
    first or last iteration of a loop on its own when an `if` tests the loop variable against
    that boundary (`i == 0`, `i > 0`, `i == n - 1`, `i < n - 1`), so the remaining loop has no
    branch. `loops.unroll-jam` unrolls the outer loop of a 2-deep nest, or the middle loop of a
    3-deep one, by 2 or 4 and jams the copies into one inner loop, with a remainder loop; the
    loads each copy leaves invariant in the inner loop are hoisted before it. `loops.tile` tiles
    a 2- or 3-deep nest with tile sizes 32 and 64 (one variant each; the cost model ranks them),
    clipping each tile with `min(ii + T, n)`.
Why faster
    Interchange makes the innermost loop walk memory with unit stride (C order), so it uses
    whole cache lines and vectorizes: naive i-j-k gemm becomes i-k-j. LICM and scalar
    replacement take loads and stores out of the innermost loop and, because the compiler no
    longer has to assume that a store may change the hoisted value, let LLVM vectorize it.
    Fusion reads data the first loop just wrote (or both read) while it is still in cache or a
    register; shifted fusion does so for two stencil sweeps (a into b, b back into a): one pass
    over memory a time step instead of two (1.12-1.28x by hand on a 1-D Jacobi, n = 2e6). Distribution separates a recurrence from statements that could vectorize, or
    lets one part be interchanged or run in parallel alone; with an expanded scalar, a row dot
    feeding a column update (`t = A[i] . x; y += A[i] * t`) becomes two matrix-vector products
    the idioms pass hands to BLAS. Peeling removes a branch from every
    iteration, which lets the loop vectorize. Unroll-and-jam reuses an element that does not
    depend on the outer loop (`out[j]` in a column sum) from a register across the jammed
    copies: 1.4x on a 2000 x 2000 column sum (Numba); jamming k in i-k-j gemm keeps C[i, j] in
    a register across the copies (bench/results/loop_variants.md: small gains, 1.04-1.11x at
    n = 300-800, on a loaded 2-core machine). Top-level fusion of elementwise passes: 1.17-1.9x
    there (the second loop reads what the first wrote while it is in a register). Tiling keeps a tile of both arrays in
    cache when no loop order streams them all, as in a transpose or `A @ B.T` (1.06-1.09x on
    the corpus' gemm_nt, int_matmul and rbf_kernel32).
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
    Fusion and distribution: the same range (same variable, same bound terms, not assigned in
    the bodies), no break / continue / return / while, pure calls only, no scalar shared by the
    two parts, and every array dependence between an access of the first part at iteration i
    and one of the second at iteration i' has a known distance i' - i >= 0 (subscripts affine
    and provably non-negative, arrays distinct or guarded parameters). Shifted fusion: the same,
    except that every such distance i' - i is a known constant >= -s, for the least s in 1..2;
    step 1; the loop variable is not read after the loops (it ends s iterations later). Scalar expansion: the
    loop is `range(0, n)` with n a size, the scalar a float local of a kernel with no float32
    data, planned by `analysis._expansion_candidates`, set on every iteration before any read,
    and not assigned by the second part (which then reads exactly the value stored). Moving a
    start `u = c` down: c is a literal (evaluating it later cannot raise or read a changed name),
    the statements passed neither read nor assign u and cannot leave the body early. Peeling: step 1, the
    test is `v OP e` with v's coefficient +-1 and e - bound a known constant, constant on every
    iteration but the peeled one; the loop variable is not read after the loop and the body
    assigns neither it nor a name in the bounds; the peeled copy is guarded by `lo < hi`.
    Unroll-and-jam: exactly interchange's condition for the unrolled loop (jamming runs the
    unrolled iterations of one inner iteration together), step 1; the main loop stops at
    `max(lo, hi - (hi - lo) % U)`, so it never runs past hi and the remainder covers the rest; the
    middle loop of a 3-deep nest: the same for the 2-deep nest it heads (its outer loop's
    variable held fixed), which assigns neither that variable nor its range.
    Tiling: a perfect nest, step 1, rectangular bounds, no carried scalar, nothing assigned read
    after it, and fully permutable: no lexicographically positive direction vector has `>` in
    a tiled dimension.
Refuses when
    A dependence would be reversed (e.g. `u[i-1, j+1]` read while writing `u[i, j]`), bounds are
    triangular, a scalar accumulates across the swapped loops, a loop variable or temporary is
    read after the nest, a subscript is not affine, or a hoisted load could be out of bounds;
    scalar replacement of a float32 element updated with a float64 (the scalar would sum in
    float64 and round once; the original rounds at every store) or of an int element updated
    with a float (the original truncates at every store). Fusion of `b[i] = ...` with a loop
    reading `b[i + 1]`; distribution of statements in a dependence cycle (`a[i] = c[i-1]`,
    `c[i] = a[i]`) or sharing a scalar; peeling for a test that is not at a boundary
    (`i == n // 2`); unroll-and-jam of a nest with a carried scalar, of the outer loop of a 3-deep
    nest, of a body with an `if` (measured 2x slower on a NaN-skipping column mean) or where no
    access is shared by the copies or the inner loop is strided, and of a middle loop whose copies
    share only loads (k-i-j gemm's `B[k, j]`: streaming them again costs little); tiling when some loop order already makes every access unit-stride
    or invariant (measured: a 32-tiled gemm ran 3.6x slower than i-k-j, a tiled column sum 1.8x
    slower) or a dependence runs backwards in a tiled dimension. Tiling
    and unroll-and-jam apply once, to a top-level statement's nest; the loops they generate are
    not interchanged or distributed again.
Float safety
    Exact: every floating-point operation runs with the same operands in the same order;
    interchange, fusion, distribution, unroll-and-jam and tiling never reorder the updates of a
    single element (the dependence tests guarantee it), and peeling runs the same iterations
    with the branch each would have taken, so results are bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from optcompiler.analysis import (
    KernelFacts,
    _dim_constraint,
    accesses,
    affine,
    all_names,
    array_dtype,
    arrays_read,
    arrays_written,
    carried_scalars,
    contains_loop,
    direction_vectors,
    expr_kind,
    has_early_exit,
    index_parts,
    interchange_legal,
    is_invariant,
    is_pure_expr,
    load_in_bounds,
    loop_nest,
    loop_var,
    names_assigned,
    names_read,
    nonnegative,
    replace_subterm,
    upward_exposed,
)
from optcompiler.ir import Term, const, seq, var
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, ENode, Id, Rewrite, rule

NAME = "loops"
PREVIEW = False
WHY = {
    "loops.interchange": "loop interchange: no dependence changes direction, each element's updates keep their order",
    "loops.licm": "invariant loads hoisted: the loop writes neither them nor an overlapping array, subscripts in bounds",
    "loops.scalar-replace": "element kept in a scalar: only accessed at one invariant, in-bounds subscript in the loop",
    "loops.fuse": "loop fusion: same range, no dependence from a later iteration of the first loop to the second",
    "loops.fuse-shifted": "loop fusion, the second loop s iterations behind: no dependence reaches further back",
    "loops.distribute": "loop distribution: no dependence runs from the later statements back to the earlier ones",
    "loops.peel": "boundary iteration peeled: the test on the loop variable is constant on every other iteration",
    "loops.unroll-jam": "unroll-and-jam: the unrolled loop may be interchanged inward (no dependence changes direction)",
    "loops.tile": "tiling: the nest is fully permutable (no dependence runs backwards in a tiled dimension)",
}

_HOISTABLE_OPS = frozenset({"index", "var", "const", "add", "sub", "mul", "neg", "tuple"})


def loop_term(egraph: EGraph, id: Id) -> Term | None:
    """The smallest `for` term in class `id`, rebuilt from representatives of its children."""
    for node in egraph.nodes(id):
        if node.op == "for":
            return Term("for", tuple(egraph.extract_term(c) for c in node.children), node.value)
    return None


def _loops_of_body(egraph: EGraph, body: Id) -> list[Term]:
    """Each `for` node of the single statement of block class `body`, children by representative."""
    out: list[Term] = []
    for node in egraph.nodes(body):
        if node.op == "seq" and len(node.children) == 1:
            for inner in egraph.nodes(node.children[0]):
                if inner.op == "for":
                    out.append(
                        Term("for", tuple(egraph.extract_term(c) for c in inner.children), inner.value)
                    )
    return out


def _matched_loop(egraph: EGraph, subst: dict[str, Id], prefix: str = "") -> Term:
    names = ("v", "lo", "hi", "st", "body")
    return Term("for", tuple(egraph.extract_term(subst[prefix + n]) for n in names), "range")


def rules(ctx: PassContext) -> list[Rewrite]:
    # loops that tiling and unroll-and-jam generate: interchange leaves them alone, or the
    # permutations of a 6-deep tiled nest would fill the e-graph (their order was chosen already)
    generated: set[Term] = set()

    def interchange_ok(egraph: EGraph, id: Id, subst: dict[str, Id]) -> bool:
        inner = _matched_loop(egraph, subst, "b")
        outer = Term(
            "for",
            (*(egraph.extract_term(subst["a" + n]) for n in ("v", "lo", "hi", "st")), seq(inner)),
            "range",
        )
        if generated and (inner in generated or egraph.extract_term(id) in generated):
            return False
        return interchange_legal(outer, ctx.facts)

    def licm(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        loop = _matched_loop(egraph, subst)
        return _inherit(loop, once("licm", loop, lambda: hoist_invariants(loop, ctx)))

    whole: list[Term] = []

    def scalar_replace(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        if not whole:  # allocations are top-level statements no rule rewrites: any variant will do
            whole.append(egraph.extract_term(ctx.root))
        loop = _matched_loop(egraph, subst)
        return _inherit(loop, once("scalar-replace", loop, lambda: replace_scalars(loop, ctx, whole[0])))

    # the runner asks every rule again on every iteration: the dependence tests run once a loop
    memo: dict[tuple[str, Term], Term | None] = {}

    def once(key: str, loop: Term, make: Callable[[], Term | None]) -> Term | None:
        if (key, loop) not in memo:
            memo[key, loop] = make()
        return memo[key, loop]

    fused: dict[tuple[Term, Term], Term | None] = {}

    def fuse(egraph: EGraph, id: Id, subst: dict[str, Id]) -> list[Term]:
        """Every block of the class (a loop body, a branch, the kernel body itself) with one
        adjacent pair of loops fused: applied again, a run of loops fuses pair by pair."""
        out: list[Term] = []
        blocks = [n for n in egraph.nodes(id) if n.op == "seq" and len(n.children) >= 2]
        for node in blocks[:_MAX_BLOCKS]:
            loops = [loop_term(egraph, c) for c in node.children]
            for k in range(len(loops) - 1):
                pair = (loops[k], loops[k + 1])
                if pair[0] is None or pair[1] is None:
                    continue
                if pair not in fused:
                    fused[pair] = fuse_pair(pair[0], pair[1], ctx.facts)  # type: ignore[arg-type]
                if fused[pair] is not None:
                    stmts = [egraph.extract_term(c) for c in node.children]
                    out.append(seq(*stmts[:k], fused[pair], *stmts[k + 2 :]))  # type: ignore[arg-type]
        return out

    shifted: dict[tuple[Term, Term], list[Term]] = {}

    def fuse_shift(egraph: EGraph, id: Id, subst: dict[str, Id]) -> list[Term]:
        """Every block of the class with one adjacent pair of loops that plain fusion refuses
        fused with the second loop running `s` iterations behind the first (`fuse_shifted`), in
        the peeled form: the form with tests in the loop measured slower (no vectorization, a
        branch an iteration: 1.03x vs 1.19x at n = 2e6, 0.66x vs 0.78x at 1e5, 1-D Jacobi)."""
        out: list[Term] = []
        blocks = [n for n in egraph.nodes(id) if n.op == "seq" and len(n.children) >= 2]
        for node in blocks[:_MAX_BLOCKS]:
            loops = [loop_term(egraph, c) for c in node.children]
            for k in range(len(loops) - 1):
                first, second = loops[k], loops[k + 1]
                if first is None or second is None or first in generated or second in generated:
                    continue
                if (first, second) not in shifted:
                    forms = [fuse_shifted(first, second, ctx.facts, peeled=True)]
                    shifted[first, second] = [f for f in forms if f is not None]
                    for made in shifted[first, second]:  # not split, fused or interchanged again
                        generated.update(t for t in made.walk() if t.op == "for")
                if shifted[first, second]:
                    stmts = [egraph.extract_term(c) for c in node.children]
                    for made in shifted[first, second]:
                        out.append(seq(*stmts[:k], made, *stmts[k + 2 :]))
        return out

    def fission(egraph: EGraph, id: Id, subst: dict[str, Id]) -> list[Term]:
        """The loop distributed over its body, and over each other block its body class holds: an
        inner loop distributed first (`for i: for j: C[i, j] *= b; for k: ...` -> two j loops)
        is a body of several statements the outer loop can be distributed over in turn."""
        first = _matched_loop(egraph, subst)
        blocks = [n for n in egraph.nodes(subst["body"]) if n.op == "seq" and len(n.children) >= 2]
        bodies = [first.args[4]]
        bodies += [
            Term("seq", tuple(egraph.extract_term(c) for c in n.children)) for n in blocks[:_MAX_BLOCKS]
        ]
        spliced = [body for n in blocks[:_MAX_BLOCKS] for body in _spliced(egraph, n)]
        bodies += [sunk for sunk in map(sink_scalar_inits, bodies + spliced) if sunk is not None]
        out: list[Term] = []
        for body in dict.fromkeys(bodies):
            loop = Term("for", (*first.args[:4], body), first.value)
            if loop in generated:  # would only undo the jam of unroll-and-jam
                continue
            if any(s.op == "for" and s.args[:4] in split_headers for s in body.args):
                continue  # would only split a jammed middle loop from its remainder (and fusion join them)
            found = once("distribute", loop, lambda loop=loop: next(iter(distribute(loop, ctx.facts)), None))
            if found is not None:
                out.append(found)
        return out

    def peeling(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        loop = _matched_loop(egraph, subst)
        return once("peel", loop, lambda: peel(loop, ctx.facts))

    def _inherit(loop: Term, result: Term | None) -> Term | None:
        """A loop made from a generated one (its invariants hoisted) is generated too."""
        if result is not None and loop in generated:
            generated.update(t for t in result.walk() if t.op == "for")
        return result

    split_headers: set[tuple[Term, ...]] = set()  # ranges of unroll-and-jam's main and remainder loops

    def _remember(result: Term | None) -> Term | None:
        if result is not None:
            generated.update(t for t in result.walk() if t.op == "for")
            split_headers.update(
                t.args[:4]
                for t in result.walk()
                if t.op == "for" and any(b.op == "call" and b.args[0] == var("max") for b in t.args[1:3])
            )
        return result

    def unroller(factor: int):
        def apply(egraph: EGraph, id: Id, subst: dict[str, Id]) -> list[Term]:
            if not ctx.top_level(egraph, id) or "max" in ctx.names:  # once, on a statement's outer loop
                return []
            loop = _matched_loop(egraph, subst)
            out = [once(f"unroll{factor}", loop, lambda: unroll_and_jam(loop, factor, ctx.facts, ctx))]
            # the middle loop of a 3-deep nest, in each order of the two inner loops the class holds
            # (interchange put i-k-j gemm's k-j beside the j-k written)
            for middle in _loops_of_body(egraph, subst["body"]):
                nest = _for(loop_var(loop), *loop.args[1:4], middle)
                out.append(
                    once(
                        f"unroll-middle{factor}",
                        nest,
                        lambda nest=nest: unroll_and_jam_middle(nest, factor, ctx.facts, ctx),  # type: ignore[misc]
                    )
                )
            return [_remember(t) for t in out if t is not None]  # type: ignore[misc]

        return apply

    def tiler(size: int):
        def apply(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
            if not ctx.top_level(egraph, id) or "min" in ctx.names:  # `min` must be the builtin
                return None
            loop = _matched_loop(egraph, subst)
            return _remember(once(f"tile{size}", loop, lambda: tile(loop, size, ctx.facts, ctx.names)))

        return apply

    loop = "(for:range ?v ?lo ?hi ?st ?body)"
    return [
        rule(
            "loops.interchange",
            "(for:range ?av ?alo ?ahi ?ast (seq (for:range ?bv ?blo ?bhi ?bst ?bbody)))",
            "(for:range ?bv ?blo ?bhi ?bst (seq (for:range ?av ?alo ?ahi ?ast ?bbody)))",
            when=interchange_ok,
        ),
        rule("loops.licm", loop, licm),
        rule("loops.scalar-replace", loop, scalar_replace),
        rule("loops.fuse", "(seq ...)", fuse),
        rule("loops.fuse-shifted", "(seq ...)", fuse_shift),
        rule("loops.distribute", loop, fission),
        rule("loops.peel", loop, peeling),
        *(rule("loops.unroll-jam", loop, unroller(u)) for u in UNROLL_FACTORS),
        *(rule("loops.tile", loop, tiler(t)) for t in TILE_SIZES),
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


# ---- shared helpers for the reordering rules ---------------------------------------------------------


def _for(v: str, lo: Term, hi: Term, step: Term, body: Term) -> Term:
    return Term("for", (var(v), lo, hi, step, body if body.op == "seq" else seq(body)), "range")


def _bounds(loop: Term) -> Term:
    return Term("tuple", loop.args[1:4])


def _has_exit(term: Term) -> bool:
    """break, return or continue anywhere: splitting or merging loop bodies would change which
    statements a `continue` skips."""
    return any(t.op in ("break", "return", "continue", "while") for t in term.walk())


def _bounds_unchanged(bounds: Term, body: Term, facts: KernelFacts) -> bool:
    """`body` changes nothing `bounds` read: the rewrites evaluate a range at another time (after
    the first loop, or once per tile) than the original does."""
    if names_assigned(body) & names_read(bounds):
        return False
    written = arrays_written(body)
    return not any(r == w or facts.may_alias(r, w) for r in arrays_read(bounds) for w in written)


def _nested_loop_vars(term: Term) -> tuple[str, ...]:
    seen: list[str] = []
    for t in term.walk():
        if t.op == "for" and str(t.args[0].value) not in seen:
            seen.append(str(t.args[0].value))
    return tuple(seen)


def _no_backward_dependence(first: Term, second: Term, v: str, facts: KernelFacts) -> bool:
    """Every dependence between an access of `first` at iteration i and one of `second` at
    iteration i' has i' >= i (distance on `v` known and non-negative).

    That is the legality of fusing `for v: first` with a following `for v: second` and of
    distributing `for v: first; second` into two loops: both keep every pair with i' >= i in
    order and would reverse a pair with i' < i. Inner loop variables are free (their loops are
    different loops on both sides); a subscript that is not affine, a negative one (Python wraps
    it) or an unguardable alias makes the distance unknown, and unknown is refused.
    """
    if v in facts.unordered:
        return False  # which iteration runs first is not known
    loop_vars = (v, *_nested_loop_vars(seq(first, second)))
    variant = names_assigned(first) | names_assigned(second) | set(loop_vars)
    for a in accesses(first):
        for b in accesses(second):
            if not (a.is_write or b.is_write):
                continue
            if a.array != b.array:
                if facts.may_alias(a.array, b.array) and not (
                    a.array in facts.arg_types and b.array in facts.arg_types
                ):
                    return False  # a local view of a parameter: overlap cannot be guarded
                continue
            if len(a.indices) != len(b.indices):
                return False
            distance = _v_distance(a.indices, b.indices, v, loop_vars, variant, facts)
            if distance == "independent":
                continue
            if isinstance(distance, int) and v in facts.descending:
                distance = -distance  # a loop stepping down runs its higher values first
            if distance is None or distance < 0:
                return False
    return True


def _v_distance(
    fa_parts: tuple[Term, ...],
    fb_parts: tuple[Term, ...],
    v: str,
    loop_vars: tuple[str, ...],
    variant: set[str],
    facts: KernelFacts,
) -> int | str | None:
    """(iteration of b) − (iteration of a) on `v` for accesses naming one element, 'independent'
    when they never do, None when unknown."""
    known: int | None = None
    for fa, fb in zip(fa_parts, fb_parts, strict=True):
        f = affine(fa, loop_vars, variant)
        g = affine(fb, loop_vars, variant)
        if not (nonnegative(fa, facts) and nonnegative(fb, facts)):
            f = g = None
        independent, dist = _dim_constraint(f, g)
        if independent:
            return "independent"
        if dist is not None and v in dist:
            if known is not None and known != dist[v]:
                return "independent"
            known = dist[v]
    return known


def _scalars_separate(first: Term, second: Term) -> bool:
    """No scalar flows between the two parts: neither reads or writes a name the other assigns,
    except an inner loop's variable that each part reads only inside loops binding it (the `j` of
    two row loops: each loop sets it before any read, and the last loop run leaves the same value)."""
    a1, a2 = names_assigned(first), names_assigned(second)
    shared = (a1 & (a2 | names_read(second))) | (a2 & names_read(first))
    return all(_loop_private(first, n) and _loop_private(second, n) for n in sorted(shared))


def _loop_private(term: Term, name: str, bound: bool = False) -> bool:
    """`name` is assigned in `term` only as a `for` variable and read only inside such loops."""
    if term.op == "var":
        return bound or term.value != name
    if term.op in ("assign", "augassign") and name in names_assigned(term):
        return False
    if term.op == "for":
        header = all(_loop_private(a, name, bound) for a in term.args[1:4])
        return header and _loop_private(term.args[4], name, bound or term.args[0].value == name)
    return all(_loop_private(a, name, bound) for a in term.args)


# ---- fusion ------------------------------------------------------------------------------------------------

_MAX_BLOCKS = 8  # seq nodes of one class that fusion looks at: the e-graph grows by pairs, not by subsets


def fuse_adjacent(loop: Term, facts: KernelFacts) -> Term | None:
    """`for v: ...; for w in R: B1; for w in R: B2; ...` → one `for w in R: B1; B2` in `loop`'s body,
    for the first adjacent pair that may be fused."""
    body = loop.args[4]
    stmts = body.args if body.op == "seq" else (body,)
    for k in range(len(stmts) - 1):
        fused = fuse_pair(stmts[k], stmts[k + 1], facts)
        if fused is not None:
            new_body = seq(*stmts[:k], fused, *stmts[k + 2 :])
            return Term("for", (*loop.args[:4], new_body), loop.value)
    return None


def fuse_pair(l1: Term, l2: Term, facts: KernelFacts) -> Term | None:
    """Fuse two loops over the same range and variable, or None when a dependence forbids it."""
    if l1.op != "for" or l2.op != "for" or l1.value != "range" or l2.value != "range":
        return None
    if l1.args[:4] != l2.args[:4]:  # same variable, same range (the same terms)
        return None
    v = loop_var(l1)
    b1, b2 = l1.args[4], l2.args[4]
    bound_names = names_read(_bounds(l1))
    if v in bound_names or (names_assigned(b1) | names_assigned(b2)) & (bound_names | {v}):
        return None  # the second range would be evaluated with other values
    if _has_exit(b1) or _has_exit(b2) or not (is_pure_expr(b1) and is_pure_expr(b2)):
        return None
    if not _bounds_unchanged(_bounds(l1), seq(b1, b2), facts):
        return None
    if not _scalars_separate(b1, b2) or not _no_backward_dependence(b1, b2, v, facts):
        return None
    return _for(v, *l1.args[1:4], seq(b1, b2))


_MAX_SHIFT = 2  # iterations the second loop may run behind the first: a 5-point stencil's reach


def fuse_shifted(l1: Term, l2: Term, facts: KernelFacts, peeled: bool = False) -> Term | None:
    """Fuse two loops over one range `range(lo, hi)` with the second `s` iterations behind:

        for v in range(lo, hi + s):
            if v < hi: B1                  # iteration v of the first loop
            if v >= lo + s: B2[v - s]      # iteration v - s of the second

    for the least s in 1.._MAX_SHIFT that keeps every dependence in order: B1 at iteration i runs
    before B2 at j exactly when i <= j + s, so every pair of accesses to one element (one a
    write) from B1 at i and B2 at j must have i - j <= s, with i - j a known constant. Plain
    fusion (s = 0) is `fuse_pair`'s. Two time-stepped sweeps (`b[i] = f(a[i - 1 : i + 2])`, then
    `a[i] = g(b[i - 1 : i + 2])`) fuse with s = 1: one pass over memory instead of two. Each body
    runs its iterations in the original order and none when the range is empty; v itself ends
    elsewhere, so it may not be read after the loops.

    `peeled`: the same operations in the same order with the first and last s iterations on
    their own and no test in the loop: `if lo + k < hi: B1[lo + k]` for k < s, the loop over
    `range(lo + s, hi)` running `B1; B2[v - s]`, then `if hi - k >= lo: B2[hi - k]` for k = s..1.
    By hand on a 1-D Jacobi at n = 2e6 (2-core VM): the tested loop 1.12x, the peeled one 1.28x."""
    if l1.op != "for" or l2.op != "for" or l1.value != "range" or l2.value != "range":
        return None
    if l1.args[:4] != l2.args[:4] or l1.args[3] != const(1):
        return None
    v = loop_var(l1)
    lo, hi = l1.args[1], l1.args[2]
    b1, b2 = l1.args[4], l2.args[4]
    bound_names = names_read(_bounds(l1))
    if v in bound_names or (names_assigned(b1) | names_assigned(b2)) & (bound_names | {v}):
        return None
    if v in facts.escaping.get(v, frozenset()):
        return None  # the loop variable is read after the loops: it would end s iterations later
    if _has_exit(b1) or _has_exit(b2) or not (is_pure_expr(b1) and is_pure_expr(b2)):
        return None
    if not _bounds_unchanged(_bounds(l1), seq(b1, b2), facts) or not _scalars_separate(b1, b2):
        return None
    if _no_backward_dependence(b1, b2, v, facts):
        return None  # plain fusion is legal: `loops.fuse` makes it
    shift = _shift_needed(b1, b2, v, facts)
    if shift is None or not 1 <= shift <= _MAX_SHIFT:
        return None
    behind = _fold_subscripts(_substitute_var(b2, v, _plus(var(v), -shift)))
    if peeled:
        head = [
            _when(Term("lt", (_plus(lo, k), hi)), _fold_subscripts(_substitute_var(b1, v, _plus(lo, k))))
            for k in range(shift)
        ]
        tail = [
            _when(Term("ge", (_plus(hi, -k), lo)), _fold_subscripts(_substitute_var(b2, v, _plus(hi, -k))))
            for k in range(shift, 0, -1)
        ]
        return seq(*head, _for(v, _plus(lo, shift), hi, const(1), seq(b1, behind)), *tail)
    tested = seq(_when(Term("lt", (var(v), hi)), b1), _when(Term("ge", (var(v), _plus(lo, shift))), behind))
    return _for(v, lo, _plus(hi, shift), const(1), tested)


def _when(test: Term, body: Term) -> Term:
    return Term("if", (test, body if body.op == "seq" else seq(body), seq()))


def _plus(term: Term, k: int) -> Term:
    """`term + k` for an integer (a range bound), constants folded."""
    if k == 0:
        return term
    return _fold_int(Term("add", (term, const(k))) if k > 0 else Term("sub", (term, const(-k))))


def _shift_needed(first: Term, second: Term, v: str, facts: KernelFacts) -> int | None:
    """The largest i - j over pairs of accesses to one element (one a write) from `first` at
    iteration i and `second` at j; 0 when none; None when some distance is unknown."""
    if v in facts.unordered or v in facts.descending:
        return None
    loop_vars = (v, *_nested_loop_vars(seq(first, second)))
    variant = names_assigned(first) | names_assigned(second) | set(loop_vars)
    need = 0
    for a in accesses(first):
        for b in accesses(second):
            if not (a.is_write or b.is_write):
                continue
            if a.array != b.array:
                if facts.may_alias(a.array, b.array) and not (
                    a.array in facts.arg_types and b.array in facts.arg_types
                ):
                    return None
                continue
            if len(a.indices) != len(b.indices):
                return None
            distance = _v_distance(a.indices, b.indices, v, loop_vars, variant, facts)
            if distance == "independent":
                continue
            if not isinstance(distance, int):
                return None
            need = max(need, -distance)  # distance = j - i
    return need


def _substitute_var(term: Term, name: str, value: Term) -> Term:
    """`term` with every read of variable `name` replaced by `value` (no loop in it binds `name`)."""
    if term.op == "var" and term.value == name:
        return value
    if not term.args:
        return term
    return Term(term.op, tuple(_substitute_var(a, name, value) for a in term.args), term.value)


# ---- fission -------------------------------------------------------------------------------------------------

_MAX_FISSION_STMTS = 6


def distribute(loop: Term, facts: KernelFacts) -> list[Term]:
    """`for v: S1..Sk` → `for v: S1..Sp; for v: Sp+1..Sk` for every split point p that no
    dependence crosses backwards (applied again to the parts, it reaches every distribution)."""
    body = loop.args[4]
    if loop.value != "range" or body.op != "seq" or not 2 <= len(body.args) <= _MAX_FISSION_STMTS:
        return []
    v = loop_var(loop)
    bound_names = names_read(_bounds(loop))
    if names_assigned(body) & (bound_names | {v}) or _has_exit(body) or not is_pure_expr(body):
        return []
    if not _bounds_unchanged(_bounds(loop), body, facts):
        return []
    out = []
    for p in range(1, len(body.args)):
        first, second = seq(*body.args[:p]), seq(*body.args[p:])
        allocations: tuple[Term, ...] = ()
        if not _scalars_separate(first, second):
            expanded = expand_scalars(loop, first, second, facts)
            if expanded is None:
                continue
            allocations, first, second = expanded
        if _scalars_separate(first, second) and _no_backward_dependence(first, second, v, facts):
            out.append(seq(*allocations, _for(v, *loop.args[1:4], first), _for(v, *loop.args[1:4], second)))
    return out


def _spliced(egraph: EGraph, block: ENode) -> list[Term]:
    """`block` with one statement replaced by a block of several that its class also holds (an
    inner loop distributed into two loops), flattened: an outer loop can only be distributed
    between statements of its own body, so the inner split must be part of that body."""
    statements = [egraph.extract_term(c) for c in block.children]
    out = []
    for k, child in enumerate(block.children):
        inner = next((n for n in egraph.nodes(child) if n.op == "seq" and len(n.children) >= 2), None)
        if inner is not None:
            parts = [egraph.extract_term(c) for c in inner.children]
            out.append(seq(*statements[:k], *parts, *statements[k + 1 :]))
    return out


def sink_scalar_inits(body: Term) -> Term | None:
    """`body` with each scalar set to a constant (`u = 0.0`) moved down to just before the first
    statement that uses it, when that passes a loop (which distribution could then split off;
    passing straight-line statements only reorders them); None when nothing moves.

    Accumulators are often all set at the top of a body (`t = 0.0; u = 0.0`) and used by loops
    that distribution could separate only if each part held its own start. Moving `u = c` past
    statements that neither read nor assign u changes nothing they compute (they do not see u),
    nor what any later statement reads (u holds c when the first one using it runs, as before).
    The value is a literal, so evaluating it later cannot raise or read something changed; no
    statement passed may leave the body early (break, continue, return), which could skip it."""
    if body.op != "seq" or len(body.args) < 3:
        return None
    statements = list(body.args)
    moved = False
    for k in range(len(statements) - 2, -1, -1):
        stmt = statements[k]
        if not _literal_start(stmt):
            continue
        name = str(stmt.args[0].value)
        m = k + 1
        while m < len(statements) and not _uses(statements[m], name) and not _has_exit(statements[m]):
            m += 1
        passed = statements[k + 1 : m]
        if m < len(statements) and any(map(contains_loop, passed)):  # onto a use, past a loop
            statements.insert(m - 1, statements.pop(k))
            moved = True
    return seq(*statements) if moved else None


def _literal_start(stmt: Term) -> bool:
    """`u = 0.0`: a plain name set to a literal."""
    return stmt.op == "assign" and stmt.args[0].op == "var" and _literal(stmt.args[1])


def _literal(term: Term) -> bool:
    """A number, possibly negated: evaluating it has no effect and reads nothing."""
    if term.op == "neg":
        return _literal(term.args[0])
    return term.op == "const" and isinstance(term.value, int | float) and not isinstance(term.value, bool)


def _uses(statement: Term, name: str) -> bool:
    return name in names_read(statement) or name in names_assigned(statement)


def expand_scalars(
    loop: Term, first: Term, second: Term, facts: KernelFacts
) -> tuple[tuple[Term, ...], Term, Term] | None:
    """Scalar expansion at a split point: every scalar `first` sets and `second` reads becomes an
    element per iteration (`t_i[i] = t` after `first`, `t_i[i]` for `t` in `second`), with the
    allocations to run before the loops; None unless each one is a planned expansion
    (`KernelFacts.expansions`) of this loop that holds here.

    Holds when the loop is `range(0, n)` over the planned array's length and `second` does not
    assign the scalar: the first loop runs `first` exactly as before (distribution's own tests
    keep `second` from changing what `first` reads), so after `first` in iteration i the scalar
    holds what the original's `second` read in iteration i, which is what is stored. What it holds
    after the loops is unchanged too. The store reads the scalar earlier than `second` did, so it
    must be bound there: every iteration sets it before any read (not upward exposed in the body).
    A loop that already holds the array is not expanded again."""
    v, lo, hi, step, body = loop.args
    flowing = sorted((names_assigned(first) & names_read(second)) - names_assigned(second))
    if not flowing or not (lo == const(0) and step == const(1)):
        return None
    if not contains_loop(first):
        return None  # only a nest is worth separating (see `analysis._expansion_candidates`)
    exposed = upward_exposed(body)
    names = all_names(loop)
    allocations, stores = [], []
    for name in flowing:
        plan = facts.expansions.get(name)
        if plan is None or name in exposed:
            return None
        array, loop_v, alloc = plan
        if loop_v != v.value or alloc.args[1] != hi or array in names:
            return None
        element = Term("index", (var(array), v))
        allocations.append(Term("assign", (var(array), alloc)))
        stores.append(Term("assign", (element, var(name))))
        second = replace_subterm(second, var(name), element)
    return tuple(allocations), seq(first, *stores), second


# ---- peeling ---------------------------------------------------------------------------------------------------

_FLIP = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le", "eq": "eq", "ne": "ne"}
_HOLDS = {
    "lt": lambda o, d: o < d,
    "le": lambda o, d: o <= d,
    "gt": lambda o, d: o > d,
    "ge": lambda o, d: o >= d,
    "eq": lambda o, d: o == d,
    "ne": lambda o, d: o != d,
}


def peel(loop: Term, facts: KernelFacts) -> Term | None:
    """Peel the first and/or the last iteration of `for v in range(lo, hi)` when `if` tests on v
    against a bound are constant on every other iteration: one rewrite a loop, both ends at once,
    so that a stencil with four boundary tests grows the e-graph linearly, not by combinations."""
    if loop.value != "range" or loop.args[3] != const(1):
        return None
    v, lo, hi, _, body = loop.args
    name = str(v.value)
    if names_assigned(body) & (names_read(_bounds(loop)) | {name}) or not is_pure_expr(body):
        return None
    if _has_exit(body):
        return None  # a peeled copy is not in a loop: break and continue would mean something else
    if name in facts.escaping.get(name, frozenset()):
        return None  # the loop variable's final value is read after the loop
    if not _bounds_unchanged(_bounds(loop), body, facts):
        return None
    variant = names_assigned(body)
    first: dict[Term, tuple[bool, bool]] = {}
    last: dict[Term, tuple[bool, bool]] = {}
    for cond in _loop_tests(body, name):
        at_first = _boundary_values(cond, name, lo, hi, "first", variant)
        at_last = _boundary_values(cond, name, lo, hi, "last", variant)
        if at_first is not None:
            first[cond] = at_first
        elif at_last is not None:
            last[cond] = at_last
    if not first and not last:
        return None
    steady = _decide_all(body, {c: s for c, (_, s) in (first | last).items()})
    if not steady.args:
        return None
    parts: list[Term] = []
    start, stop = lo, hi
    if first:
        # the last tests stay: when the loop runs once, its first iteration is also its last
        edge = _fold_subscripts(
            _substitute(_decide_all(body, {c: e for c, (e, _) in first.items()}), {v: lo})
        )
        if edge.args:
            parts.append(Term("if", (Term("lt", (lo, hi)), edge, seq())))
        start = _plus1(lo)
    if last:
        stop = _minus1(hi)
    parts.append(_for(name, start, stop, const(1), steady))
    if last:
        # an iteration after the first one: the first tests take their steady value
        decided = {c: e for c, (e, _) in last.items()} | {c: s for c, (_, s) in first.items()}
        edge = _fold_subscripts(_substitute(_decide_all(body, decided), {v: stop}))
        if edge.args:
            parts.append(Term("if", (Term("lt", (start, hi)), edge, seq())))
    return seq(*parts)


def _fold_subscripts(term: Term) -> Term:
    """`u[0 + 1]` → `u[1]`, `u[n - 1 - 1]` → `u[n - 2]` inside subscripts only: a subscript is an
    integer (arbitrary precision in Python), where regrouping constants is exact; elsewhere the
    same text could be float arithmetic, where it is not."""
    if term.op == "index":
        parts = tuple(_fold_int(p) for p in index_parts(term))
        index = parts[0] if term.args[1].op != "tuple" else Term("tuple", parts)
        return Term("index", (_fold_subscripts(term.args[0]), index))
    if not term.args:
        return term
    return Term(term.op, tuple(_fold_subscripts(a) for a in term.args), term.value)


def _fold_int(t: Term) -> Term:
    if t.op not in ("add", "sub"):
        return t  # not inside calls: `int(x + 1 + 2)` may be float arithmetic
    args = tuple(_fold_int(a) for a in t.args)
    t = Term(t.op, args, t.value) if args != t.args else t
    a, b = t.args
    sign = 1 if t.op == "add" else -1
    if _int(a) is not None and _int(b) is not None:
        return const(_int(a) + sign * _int(b))
    if _int(b) is not None and a.op in ("add", "sub") and _int(a.args[1]) is not None:
        total = (1 if a.op == "add" else -1) * _int(a.args[1]) + sign * _int(b)
        if total == 0:
            return a.args[0]
        return Term("add" if total > 0 else "sub", (a.args[0], const(abs(total))))
    return t


def _int(t: Term) -> int | None:
    return t.value if t.op == "const" and type(t.value) is int else None


def _decide_all(body: Term, values: dict[Term, bool]) -> Term:
    for cond, value in values.items():
        body = _decide(body, cond, value)
    return body


def _plus1(t: Term) -> Term:
    return const(t.value + 1) if t.op == "const" and type(t.value) is int else Term("add", (t, const(1)))


def _minus1(t: Term) -> Term:
    if t.op == "const" and type(t.value) is int:
        return const(t.value - 1)
    if t.op == "add" and t.args[1] == const(1):
        return t.args[0]
    return Term("sub", (t, const(1)))


def _loop_tests(body: Term, name: str) -> list[Term]:
    """The comparisons that `if` statements in `body` test directly and that read `name`."""
    tests: list[Term] = []
    for t in body.walk():
        if (
            t.op == "if"
            and t.args[0].op in _FLIP
            and name in names_read(t.args[0])
            and t.args[0] not in tests
        ):
            tests.append(t.args[0])
    return tests


def _boundary_values(
    cond: Term, name: str, lo: Term, hi: Term, end: str, variant: set[str]
) -> tuple[bool, bool] | None:
    """(value at the peeled iteration, value on all the others) of `cond`, or None when it is not
    constant on the others or does not differ at the edge."""
    a, b = cond.args
    diff = affine(Term("sub", (a, b)), (name,), variant)
    if diff is None or diff.coeff(name) not in (1, -1):
        return None
    op = cond.op
    if diff.coeff(name) == 1:  # v + rest OP 0  <=>  v OP -rest
        rest = Term("sub", (Term("sub", (a, b)), var(name)))
        edge = lo if end == "first" else hi
        delta_form = affine(Term("add", (rest, edge)), (name,), variant)  # -(t - edge)
        sign = -1
    else:  # -v + rest OP 0  <=>  v OP' rest
        rest = Term("add", (Term("sub", (a, b)), var(name)))
        op = _FLIP[op]
        edge = lo if end == "first" else hi
        delta_form = affine(Term("sub", (rest, edge)), (name,), variant)
        sign = 1
    if delta_form is None or delta_form.coeffs or delta_form.symbolic:
        return None
    delta = sign * delta_form.const  # cond <=> (v - edge) OP delta
    holds = _HOLDS[op]
    if end == "first":  # offsets 0 (peeled), 1, 2, ...: constant from 1 on iff so at 1 and far away
        at_edge, steady, far = holds(0, delta), holds(1, delta), holds(abs(delta) + 2, delta)
    else:  # offsets -1 (peeled), -2, -3, ...
        at_edge, steady, far = holds(-1, delta), holds(-2, delta), holds(-abs(delta) - 3, delta)
    if steady != far or at_edge == steady:
        return None
    if op in ("eq", "ne") and (delta >= 1 if end == "first" else delta <= -2):
        return None  # v == edge + delta also holds on a steady iteration
    return at_edge, steady


def _decide(term: Term, cond: Term, value: bool) -> Term:
    """`term` with every `if cond:` replaced by the branch `value` selects."""
    if term.op == "if" and term.args[0] == cond:
        return _decide(term.args[1] if value else term.args[2], cond, value)
    if term.op == "seq":
        return seq(*(_decide(s, cond, value) for s in term.args))
    if term.op in ("for", "if", "while"):
        args = tuple(_decide(a, cond, value) if a.op == "seq" else a for a in term.args)
        return Term(term.op, args, term.value)
    return term


# ---- unroll-and-jam -------------------------------------------------------------------------------------------

UNROLL_FACTORS = (2, 4)


def unroll_and_jam(
    loop: Term, factor: int, facts: KernelFacts, ctx: PassContext | None = None
) -> Term | None:
    """`for i in range(lo, hi): for j: B(i)` → `for i in range(lo, e, U): for j: B(i)..B(i+U-1)`
    and a remainder `for i in range(e, hi): for j: B(i)`, e = max(lo, hi - (hi - lo) % U).

    With `ctx`, the loads LICM would hoist out of the inner loop are hoisted out of the jammed
    one in each copy (`A[i, k]` ... `A[i, k + 3]`): LICM alone cannot, since it does not know that
    k + 3 stays below hi in the main loop, and Numba cannot either when the stores might alias
    them (parameters)."""
    if loop.value != "range" or loop.args[3] != const(1) or not interchange_legal(loop, facts):
        return None
    v, lo, hi, _, body = loop.args
    inner = body.args[0] if body.op == "seq" and len(body.args) == 1 else body
    if inner.op != "for" or names_assigned(inner) & names_read(_bounds(loop)):
        return None
    if not _bounds_unchanged(Term("tuple", (_bounds(loop), _bounds(inner))), inner.args[4], facts):
        return None
    inner_body = inner.args[4]
    if not any(str(v.value) not in names_read(Term("tuple", acc.indices)) for acc in accesses(inner_body)):
        return None  # no access shared by the jammed copies: nothing is reused from registers
    if _has_exit(inner_body):
        return None  # a `continue` in one jammed copy would skip the copies after it
    if any(t.op in ("for", "while") for t in inner_body.walk()):
        return None  # 2-deep nests only: a jammed 3-deep nest multiplies the e-graph (see report)
    if any(t.op == "if" for t in inner_body.walk()):
        return None  # branches, not loads, bound a branchy body: jamming made a NaN-skipping column mean 2x slower
    if not _streams(inner_body, loop_var(inner), (loop_var(loop), loop_var(inner))):
        return None  # jamming a strided inner loop: the order itself is what costs
    copies = [
        _substitute(inner_body, {v: Term("add", (v, const(u)))}) if u else inner_body for u in range(factor)
    ]
    hoisted: list[Term] = []
    if ctx is not None:
        found: list[Term] = []
        _find_invariants(inner_body, inner, ctx, found, in_target=False)
        temps: dict[Term, Term] = {}
        for u in range(factor):
            shifted = {e: _substitute(e, {v: Term("add", (v, const(u)))}) if u else e for e in found}
            for e in shifted.values():
                if e not in temps:
                    temps[e] = var(ctx.fresh_name(e))
                    hoisted.append(Term("assign", (temps[e], e)))
            copies[u] = _substitute(copies[u], {e: temps[e] for e in shifted.values()})
    span = hi if lo == const(0) else Term("sub", (hi, lo))
    end = Term("call", (var("max"), lo, Term("sub", (hi, Term("mod", (span, const(factor)))))))
    main = _for(
        str(v.value),
        lo,
        end,
        const(factor),
        seq(*hoisted, Term("for", (*inner.args[:4], seq(*copies)), inner.value)),
    )
    rest = _for(str(v.value), end, hi, const(1), body)
    return seq(main, rest)


def unroll_and_jam_middle(
    loop: Term, factor: int, facts: KernelFacts, ctx: PassContext | None = None
) -> Term | None:
    """The middle loop of a perfect 3-deep nest: `for i: for k: for j: B` → `for i:` and, in its
    body, `unroll_and_jam(for k: for j: B)`. i-k-j gemm keeps `C[i, j]` in a register across the
    jammed k copies (one load and store for U updates, in the same k order)."""
    if loop.value != "range":
        return None
    body = loop.args[4]
    middle = body.args[0] if body.op == "seq" and len(body.args) == 1 else body
    if middle.op != "for" or middle.value != "range":
        return None
    if names_assigned(middle) & (names_read(_bounds(loop)) | {loop_var(loop)}):
        return None  # the outer loop's range or variable would change under the rewrite
    k = loop_var(middle)
    inner = middle.args[4].args[0] if middle.args[4].op == "seq" and len(middle.args[4].args) == 1 else None
    if inner is None or inner.op != "for":
        return None
    if not any(acc.is_write and k not in names_read(Term("tuple", acc.indices)) for acc in accesses(inner)):
        return None  # only loads are shared (k-i-j's B[k, j]): streaming them again costs little
    jammed = unroll_and_jam(middle, factor, facts, ctx)
    if jammed is None:
        return None
    return _for(loop_var(loop), *loop.args[1:4], jammed)


# ---- tiling -------------------------------------------------------------------------------------------------------

TILE_SIZES = (32, 64)


def tile(loop: Term, size: int, facts: KernelFacts, taken: frozenset[str]) -> Term | None:
    """Tile the 2 or 3 outermost loops of a perfect, fully permutable nest by `size`:
    `for ii in range(lo, hi, T): ... for i in range(ii, min(ii + T, hi)): ...`."""
    nest = loop_nest(loop)[:3]
    if len(nest) < 2 or any(lp.value != "range" or lp.args[3] != const(1) for lp in nest):
        return None
    names = [loop_var(lp) for lp in nest]
    body = nest[-1].args[4]
    bound_names = set().union(*(names_read(_bounds(lp)) for lp in nest))
    if bound_names & set(names) or names_assigned(body) & (bound_names | set(names)):
        return None  # not rectangular, or the body changes a bound
    if _has_exit(body) or not is_pure_expr(body) or carried_scalars(body):
        return None
    if not _bounds_unchanged(Term("tuple", tuple(_bounds(lp) for lp in nest)), body, facts):
        return None
    assigned = names_assigned(loop)
    if any(assigned & facts.escaping.get(n, frozenset()) for n in names):
        return None
    vectors = direction_vectors(body, (*names, *_nested_loop_vars(body)), facts)
    if vectors is None:
        return None
    depth = len(nest)
    if any(">" in vec[:depth] for vec in vectors if _lex_nonnegative(vec)):
        return None  # not fully permutable: some dependence runs backwards in a tiled dimension
    if any(_streams(body, n, names) for n in names):
        return None  # some loop order already streams whole lines: tiles would only add overhead
    tile_names = _tile_names(names, taken | all_names(loop))
    out = body
    for lp, t in zip(reversed(nest), reversed(tile_names), strict=True):
        hi = lp.args[2]
        upper = Term("call", (var("min"), Term("add", (var(t), const(size))), hi))
        out = _for(loop_var(lp), var(t), upper, const(1), out)
    for lp, t in zip(reversed(nest), reversed(tile_names), strict=True):
        out = _for(t, lp.args[1], lp.args[2], const(size), out)
    return out


def _streams(body: Term, v: str, loop_vars: Sequence[str]) -> bool:
    """With `v` innermost, no access walks a row-major array across rows: v never sits before a
    last subscript that moves with some other loop (`B[v, j]`; `rgb[i, v, 0]` is contiguous enough).

    Then interchange already gives a nest that uses whole cache lines, and tiling only shortens
    the vectorized loop: measured with Numba at n = 1000, a 32-tiled gemm ran 782 ms against
    215 ms for i-k-j with the A[i, k] load hoisted, and a tiled column sum 1.8x slower than
    i-j. Tiling pays where no order streams, e.g. a transpose (`B[j, i] = A[i, j]`).
    """
    others = (set(loop_vars) | set(_nested_loop_vars(body))) - {v}
    for acc in accesses(body):
        last = names_read(acc.indices[-1])
        if any(v in names_read(p) for p in acc.indices[:-1]) and (last - {v}) & others:
            return False
    return True


def _tile_names(names: list[str], taken: frozenset[str] | set[str]) -> list[str]:
    out = []
    for n in names:
        candidate, k = n + n, 0
        while candidate in taken or candidate in out:
            k += 1
            candidate = f"{n}_tile{k}"
        out.append(candidate)
    return out


def _lex_nonnegative(vec: tuple[str, ...]) -> bool:
    for d in vec:
        if d != "=":
            return d == "<"
    return True
