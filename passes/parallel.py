"""Parallel loops: run the iterations of the first parallel loop on each path on all cores with `prange`.

What
    `for i in range(...)` becomes `for i in numba.prange(...)` when no loop around it can run in
    parallel: a loop at the top level of a kernel, or one nested only in loops that must run in
    order (each sweep of a time-stepped stencil, `for t: for i: ...`, forks and joins once);
    the variant is compiled with `parallel=True` (target njit-parallel).
Why faster
    Independent iterations spread over the cores; numba privatises scalars assigned in the
    body and combines recognised reductions per thread.
Legal when
    `analysis.parallel_plan` proves every array dependence has distance 0 on the loop (each
    iteration touches its own elements), scalars are private or a reduction (`s += e`,
    `s -= e`, `s *= e`, read nowhere else in the loop), nothing else assigned in the loop is
    read after it, the step is 1, and the body has no early exit or impure call.
Refuses when
    Iterations communicate through an array (`x[i] = x[i - 1] + ...`), a scalar is carried in
    any other way, the subscripts are not affine (`hist[idx[i]] += 1`), or a loop around it
    could itself run in parallel (or already does): numba only parallelises the outermost
    prange, and one region over the outer loop costs one fork-join instead of one per outer
    iteration. Whether a fork-join per outer iteration pays is the cost model's call.
Float safety
    Integer reductions are exact. A float reduction is summed in per-thread partials: a
    reassociation, tagged `reassoc`, allowed by the default float policy (verified with a
    tolerance) and refused under `--strict-fp`. Loops without reductions are exact.
"""

from __future__ import annotations

from optcompiler.analysis import parallel_plan
from optcompiler.ir import Term
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, Id, Rewrite, reaches, rule

# statement e-nodes whose children hold statements: for a `for`, only its body (child 4) runs
# inside it; an `if`'s test and a `while`'s condition are expressions
_STATEMENT_CHILDREN = {"seq": None, "if": slice(1, None), "while": slice(1, None), "for": slice(4, 5)}

NAME = "parallel"
PREVIEW = False
WHY = {
    "parallel.prange": "prange: no iteration reads or writes an element another iteration writes",
    "parallel.prange-reduction": "prange with a reduction: iterations independent except a +=/*= reduction (reassociates)",
}


def rules(ctx: PassContext) -> list[Rewrite]:
    legal: dict[Term, bool] = {}

    def could_run_in_parallel(egraph: EGraph, cls: Id) -> bool:
        """Is some loop of the class already a prange, or could it be one under the float policy?"""
        for node in egraph.nodes(cls):
            if node.op != "for":
                continue
            if node.value == "prange":
                return True
            term = Term("for", tuple(egraph.extract_term(c) for c in node.children), node.value)
            if term not in legal:
                legal[term] = parallel_plan(term, ctx.facts, allow_reassoc=ctx.allow_reassoc) is not None
            if legal[term]:
                return True
        return False

    def parallel_ok(reductions_allowed: bool) -> object:
        def when(egraph: EGraph, id: Id, subst: dict[str, Id]) -> bool:
            if not ctx.top_level(egraph, id) and not _only_under_ordered_loops(
                egraph, ctx.root, id, could_run_in_parallel
            ):
                return False
            loop = Term(
                "for", tuple(egraph.extract_term(subst[n]) for n in ("v", "lo", "hi", "st", "body")), "range"
            )
            plan = parallel_plan(loop, ctx.facts, allow_reassoc=reductions_allowed)
            if plan is None:
                return False
            # a reduction of unknown kind (e.g. an accumulator another rule introduced) may be a float
            has_float_reduction = any(ctx.facts.kind(r) not in ("int", "bool") for r in plan.reductions)
            return has_float_reduction == reductions_allowed

        return when

    lhs = "(for:range ?v ?lo ?hi ?st ?body)"
    rhs = "(for:prange ?v ?lo ?hi ?st ?body)"
    return [
        rule("parallel.prange", lhs, rhs, when=parallel_ok(False)),
        rule("parallel.prange-reduction", lhs, rhs, when=parallel_ok(True), safety="reassoc"),
    ]


def _only_under_ordered_loops(egraph: EGraph, root: Id, target: Id, parallel: object) -> bool:
    """Is every place the statement class `target` occurs in the body (through blocks, branches and
    loop bodies from `root`) inside loops none of which could run in parallel? False when it
    occurs nowhere: a class reached only through an expression is no statement of the body."""
    target = egraph.find(target)
    seen: set[Id] = set()
    found = False

    def visit(cls: Id) -> bool:
        """False when `target` occurs under `cls` below a loop that could run in parallel."""
        nonlocal found
        cls = egraph.find(cls)
        if cls in seen:
            return True
        seen.add(cls)
        for node in egraph.nodes(cls):
            part = _STATEMENT_CHILDREN.get(node.op, ())
            if part == ():
                continue
            children = node.children if part is None else node.children[part]  # type: ignore[index]
            for child in children:
                if node.op == "for" and parallel(egraph, cls):  # type: ignore[operator]
                    if reaches(egraph, child, target):
                        return False
                elif egraph.find(child) == target:
                    found = True
                elif not visit(child):
                    return False
        return True

    return visit(root) and found
