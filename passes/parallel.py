"""Parallel loops: run the iterations of a top-level loop on all cores with numba's `prange`.

What
    `for i in range(...)` at the top level of a kernel becomes `for i in numba.prange(...)`;
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
    any other way, the subscripts are not affine (`hist[idx[i]] += 1`), or the loop is nested:
    numba only parallelises the outermost prange.
Float safety
    Integer reductions are exact. A float reduction is summed in per-thread partials: a
    reassociation, tagged `reassoc`, allowed by the default float policy (verified with a
    tolerance) and refused under `--strict-fp`. Loops without reductions are exact.
"""

from __future__ import annotations

from optcompiler.analysis import parallel_plan
from optcompiler.ir import Term
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, Id, Rewrite, rule

NAME = "parallel"
PREVIEW = False
WHY = {
    "parallel.prange": "prange: no iteration reads or writes an element another iteration writes",
    "parallel.prange-reduction": "prange with a reduction: iterations independent except a +=/*= reduction (reassociates)",
}


def rules(ctx: PassContext) -> list[Rewrite]:
    def parallel_ok(reductions_allowed: bool) -> object:
        def when(egraph: EGraph, id: Id, subst: dict[str, Id]) -> bool:
            if not ctx.top_level(egraph, id):
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
