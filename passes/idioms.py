"""Loop idioms → BLAS and array reductions: product nests become one `@`, folds one `x.sum()`.

What
    `idioms.matmul`: a perfect 3-deep nest, loops in any order, whose only statement is
    `C[i, j] += A[i, k] * B[k, j]` (or `C[i, j] = C[i, j] + ...`, either factor order, `-=`
    likewise) becomes `C += A @ B`; an operand read transposed, `A[k, i]` or `B[j, k]`, becomes
    `A.T` or `B.T` (`G[i, j] += X[i, k] * X[j, k]` is `G += X @ X.T`). `idioms.matvec`: a
    2-deep nest of `y[i] += A[i, j] * x[j]` becomes `y += A @ x`, and the transposed
    `y[j] += A[i, j] * x[i]` becomes `y += x @ A`.
    `idioms.dot`: `s += x[i] * y[i]` becomes `s += x @ y` (1-D @ 1-D is `np.dot`).
    Scalar factors in the product scale the result: `C[i, j] += alpha * A[i, k] * B[k, j]`
    becomes `C += alpha * (A @ B)`. The naive form with a scalar accumulator,
    `s = init; for k: s += A[i, k] * B[k, j]; C[i, j] = s` in an i-j nest (or an i loop for a
    matrix-vector product), becomes `C[:n, :p] = init` (sliced where `vectorize` allows) and the
    BLAS update (`accumulator_blas_form`).
    `idioms.sum`: a nest whose only statement is `s += x[i]` (`A[i, j]` in a deeper nest, any
    loop order; `s = s + x[i]`, `s = x[i] + s`, `-=` likewise) becomes `s += x.sum()`.
    `idioms.max`: `m = max(m, x[i])`, `m = max(x[i], m)` or `if x[i] > m: m = x[i]` (`>=`,
    `m < x[i]`) becomes `if n > 0: m = max(m, x.max())`; `idioms.min` likewise with `min`. A
    single loop may start at a constant, `range(1, n)`, and then reads the suffix `x[1:]`.
    Each of these rules replaces the whole nest by that one statement.
    `idioms.gram` keeps the nest and replaces loops inside it: a loop `for p in range(k)`,
    anywhere in the body, whose statements are sums `s += X[a, p] * Y[b, p]` (p in either position
    of each operand; `s = s + ...`, `-=`, either factor order and scalar factors as above), with a
    and b variables of loops of the matched nest, becomes `s += G[a, b]`, and `G = X @ Y.T` (`.T`
    where the subscripts fall the other way) is computed once before the nest. A triangular
    rank-k update `for i: for j in range(i + 1): s = 0.0; for p: s += A[i, p] * A[j, p]` becomes
    `A_AT = A @ A.T` and `s += A_AT[i, j]`; a covariance's `for a: for b in range(a, m): ...
    s += D[r, a] * D[r, b]` reads `DT_D = D.T @ D`. Everything else stays as written: triangular
    bounds, statements around the loop, what the nest does with s. Each such loop gets a product
    (identical ones share it), named after it (`_` appended while that clashes with a name of
    the kernel), so two rewrites that pick one name compute one value.
Why faster
    Numba lowers `@` on float arrays to BLAS (gemm, gemv, dot through scipy's cython_blas):
    blocked for the caches, vectorized with FMA, multithreaded. A compiled triple loop reaches a
    few percent of that; the loop order, tiling and parallelism it would need are BLAS's job.
    The reductions are not BLAS: Numba's `x.sum()`, `x.max()` are sequential loops in memory
    order, measured equal to a loop in memory order (sum: 940 vs 945 us, int64 max: 186 vs 207
    us over 10^6 elements). They win where the nest walks the array out of order (`s += A[i, j]`
    with j outer strides down columns: 10.3 ms vs 3.85 ms for `A.sum()` of a C-ordered
    2000x2000), and they give the ranking an array form to weigh; the pipeline's measured pick
    keeps the loop where they do not pay.
    `idioms.gram` takes the same gemm into nests that are not a product: the triangle of a
    symmetric result, or a product read through other statements. Computing the whole product
    when the nest uses a triangle costs up to twice the flops, still far less time than the loop
    at BLAS speed; the ranking weighs it. `python bench/peers.py --kernels syrk,covariance,
    correlation` at n = 600 on the shared 2-core VM (load 1.8): syrk 12.7 ms against plain njit's
    109 ms and NumPy's `np.tril(A @ A.T)` 9.97 ms (which runs half the flops through dsyrk);
    covariance 33.9 vs 237 vs 17.9 ms; correlation 37.2 vs 226 vs 28.7 ms.
Legal when
    Every loop is `range(0, N, 1)` with N a bare size (a name, `A.shape[d]` or `len(x)`) that
    does not change in the nest. Subscripts are exactly the loop variables, in the pattern's
    positions (a gemm operand's two in either order, read through `.T` when reversed), on
    arrays whose rank is the number of subscripts. Extents: N is *proved* equal to a dimension
    when it is a declared size of it (`n, m = A.shape`, `A.shape[d]`, `len(x)`, a fresh
    allocation's size argument: `KernelFacts.in_bounds`). Every operand dimension that becomes
    a result dimension (i and j of a gemm) is proved, and so is every dimension of the target,
    or else the target is updated through a slice to the extents (`C[:n, :p] += A @ B`) when the
    original evaluates its subscript unconditionally and the dispatcher's bounds guard covers
    it: a C too small for the nest goes to the original, which raises as written, and a larger
    one has only the block the nest writes updated. A scale is a product of numbers and int or
    float names that no iteration changes (not a loop variable, not the target). On the summed dimension (k of a gemm) one operand is proved and the other, if it is
    not, is read through a slice to N (`A @ B[:m]`): exactly the rows the nest reads when it
    reads them in bounds, and a shape mismatch that `@` reports when it would not (see below).
    A sliced product runs under `if n > 0 and p > 0:` (the result's extents): an empty result
    makes the nest read nothing, so it must not make `@` check a short operand either.
    The target is not an operand (the nest would read elements it has already updated;
    `A @ A` or `x @ x` as operands is fine, both are only read). Target and operands may not
    share memory: a fresh local array aliases nothing, and two array parameters are guarded by
    the pipeline (`numpy.may_share_memory` → the original); any other array refuses. Target and
    operands are all float64 or all float32 (a dot's float64 and its target a float scalar),
    the dtypes BLAS takes and for which Numba's `@` types. No loop variable is read after the nest.
    Reductions: the element's subscripts are the loop variables, each once, on an array of that
    rank, and every extent is proved equal to its dimension (`range(n)` with n an int parameter
    would make `x.sum()` read another count, and never raise where the loop does); a single
    loop may start at a constant c >= 0 (a negative start would wrap in a slice), reading
    `x[c:]`. A sum's array is float64 and its accumulator a float (another dtype sums in another
    precision). An extremum's array has an integer dtype, and the accumulator is not an array;
    `x.max()` raises on no element where the nest does nothing, so it runs under the guard that
    the nest reads one (`n > 0`, `n > c`). With those, `max(m, x.max())` is the nest's result
    exactly, type included: Python's `max(a, b)` keeps `a` unless `b > a`, as the loop keeps
    `m` unless `x[i] > m`, and an integer maximum does not depend on the order it is found in.
    `idioms.gram`: the inner loop is `range(0, k, 1)` with k a bare size the nest does not assign,
    and its variable is not read after it. Its statements are sums into different accumulators,
    no term or scale of which reads one of them: each accumulator then ends as its start plus its
    own terms, whatever the others do. The operands are 2-D float64 parameters or fresh
    arrays that the nest neither writes nor rebinds nor hands to a call that is not pure math,
    and no array it writes may share memory with them (a fresh array, or two parameters under
    the pipeline's overlap guard): the product computed before the nest is then what every
    iteration would read. s is a float (`facts.kind`, or every binding of it in the kernel stores
    a float, given the allocations' dtypes); a scale is an int or float no iteration of the inner
    loop changes. a and b are two different variables of loops of the matched nest, not assigned
    in their loops' bodies. The product is computed whether or not the nest reaches the loop, so
    it may neither raise nor be read out of range: on the summed dimension each operand is proved
    to be k long (as above), or its access is covered by the dispatcher's bounds guard, which
    then ensures k <= that length, and it is read through `[:k]` (at least one proved, or k
    proved non-negative: `X[:k]` with k < 0 is not empty). This refines `_slices`: a matmul may
    slice an unguarded operand because its product runs only when the nest runs, which a hoisted
    product cannot know. On the other dimension a (b) is proved to index it in range on every
    loop over a (`KernelFacts.in_bounds`: `range(m)` with m the declared size), or the access is
    covered (a triangular `range(a, m)` against a shape): then `G[a, b]`, whose dimensions are
    exactly the operands' other ones, is in range wherever the original element is, even when
    k is 0 and the original reads no element; so no `if k > 0` guard is needed. A column prefix
    `X[:, :k]` is a strided view, which Numba's `@` copies to a temporary first: the product runs
    on the whole X when `X.shape[1] == k`, tested where it is computed. Memory: the product is a
    new rows x columns array where the loop kept one scalar, so the nest must write an array of
    that shape already (its dimensions' size symbols are the product's, in any order: syrk's C,
    a covariance matrix): the variant then holds at most twice what the original does, and
    never raises a MemoryError the original would not (counting the pairs of 10^5 points with a
    large dot product needs a scalar; their `X @ X.T` would be 80 GB).
Refuses when
    A loop covers part of an extent (`range(1, n - 1)`, `range(n - 1)`), bounds are triangular
    (`range(i)`), a result dimension of an operand is not proved (an int parameter `n`), the
    target's size is neither proved nor guarded, a factor is neither an element nor a scale,
    neither operand's summed dimension is proved (slicing both could hide a short operand),
    the nest holds another statement or is not perfect, a subscript is not a bare loop variable
    (`x[i + 1]`, `x[idx[i]]`), the target is also an operand (`C[i, j] += C[i, k] * B[k, j]`),
    dtypes are integer, mixed or unknown (for a dot, anything but float64), an array is a local
    that is neither a fresh allocation nor a parameter (a view), or the loop is a `prange`.
    Reductions refuse a partial or stepped range, an element read twice or not at all
    (`x[i + 1]`, `x[0]`, `x[i] * 2.0`), an unproved extent, a float32 or integer sum, a float
    extremum, an `if` with an `else` or that stores anything but the element it tested, and
    `max` of three arguments or without the accumulator.
    `idioms.gram` refuses a partial or stepped inner range (`range(1, k)`), a statement in the
    inner loop that is not such a sum, a term that is not two elements times scalars
    (`X[i, p] * X[j, p] + 1.0`), one accumulator summed twice or read by another's term, a
    vector factor `y[p]` (matrix-vector sums of a row loop are loops.distribute's and
    idioms.matvec's, through an expanded scalar), a product of a shape no array the nest writes
    has (or of an unknown row count, a parameter's never declared),
    an operand the nest writes (or might through an alias: a local view, a non-math call), an
    extent the nest assigns, integer, float32 or mixed dtypes, a subscript that is not p or a
    variable of a loop of the matched nest (one bound outside is left to the rewrite of the loop
    that binds it), `X[i, p] * Y[i, p]` (a diagonal: the rest of the product would be wasted), an
    accumulator not shown to be a float, and a row or column of the product neither proved nor
    guarded (a loop over an int parameter `range(n)` whose dot runs under an `if`).
Float safety
    BLAS sums the products in another order (blocked, pairwise within SIMD lanes, FMA-contracted)
    and adds the finished sum to the target instead of accumulating into it (a scale multiplies
    the sum once instead of each product, `alpha * (a*b + c*d)` for `alpha*a*b + alpha*c*d`): a reassociation,
    tagged `reassoc`, allowed by the default float policy (verified norm-wise within rtol 1e-9
    for float64, 1e-4 for float32) and refused under `--strict-fp`. `idioms.gram` likewise:
    `s = 0.0; s += G[a, b]` adds the finished sum to s, `s -= 2.0 * G[i, j]` scales it once, and
    with k = 0 s gains 0.0 (-0.0 becomes 0.0, as with `C += A @ B`); a Gram matrix X @ X.T need
    not come out exactly symmetric, but each read names the entry its own loop order would have
    summed. `idioms.sum` likewise: the
    loop adds each element to s, `s += x.sum()` adds the elements first (pairwise in NumPy, in
    order in Numba), then s. `idioms.max` and `idioms.min` are `exact`: they only take integer
    arrays, because a float extremum is a NaN question, not a reassociation one: `x[i] > m` is
    False for a NaN, so the loop skips NaNs after the first element while `x.max()` returns NaN
    (and `max(m, nan)` keeps m). No float extremum is rewritten, under any policy.

Not rewritten, on purpose. Outer products (`C[i, j] = x[i] * y[j]` → `np.outer`), histograms
(`h[idx[i]] += 1` → `np.bincount`) and running sums (`c[i] = c[i - 1] + x[i]` → `np.cumsum`,
which is sequential and bit-identical for float64) are legal in narrow cases but measured no
faster under Numba, whose implementations are the same loops plus an allocation (10^6 elements
or 1000x1000: outer 185 us loop vs 208 us `np.outer` vs 18 ms broadcasting, bincount 547 us vs
1145 us, cumsum 943 us vs 1190 us); a histogram also needs `0 <= idx < len(h)` proved, which the
analyses cannot, and a running sum spans two statements (`c[0] = x[0]` and the loop).

Short operands. When an unproved summed dimension is shorter than N and the nest runs, the
original raises IndexError under CPython (plain njit reads out of bounds) and the variant raises
ValueError from `@`'s shape check; result dimensions and the target are never sliced, because an
in-place `+=` broadcasts a length-1 operand (and Numba's even a short target) without
complaint. The nest runs its statement exactly when every extent is positive. With a summed
extent of 0 both do nothing (`@` of an empty sum is zeros; the shapes agree, as the unproved
operand is sliced to 0). With a result extent of 0 the original reads nothing whatever the
operands' lengths, so the variant's guard skips the product: on every input where the original
does not raise, the variant computes the same. A dot has no result extent and needs no guard.
The guard cannot be `if B.shape[0] >= m: C += A @ B[:m] else: <the nest>`: the nest is the
e-class being rewritten, and a node that holds its own class is never cheaper to extract.

Layouts. Numba's `@` takes C- and Fortran-ordered arrays directly (it passes transpose flags to
BLAS) and copies any other layout, a strided view or a column slice like `A[:, :m]`, to a
contiguous temporary first, with a NumbaPerformanceWarning when it compiles that signature. The
verifier's Fortran-ordered and strided inputs therefore pass, so no layout guard is emitted: the
copy costs O(operand), small next to an O(n^3) gemm, and about doubles the traffic of a strided
gemv or dot, which the strided loop does not beat either. Row prefixes `B[:m]` stay C-contiguous,
and `.T` of a C-ordered array is a Fortran-ordered view, which BLAS reads with a transpose flag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from optcompiler.analysis import (
    ANON_DIM,
    LIKE_ALLOCATORS,
    NUMPY_MODULES,
    KernelFacts,
    arrays_written,
    base_array,
    call_name,
    expr_kind,
    index_parts,
    is_pure_call,
    loop_nest,
    loop_var,
    names_assigned,
    names_read,
    nonnegative,
    replace_subterm,
)
from optcompiler.ir import NONE, ArgType, Term, const, seq, var
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import Applier, EGraph, Id, Rewrite, rule
from optcompiler.passes.vectorize import slice_form, unconditional_covered_accesses

NAME = "idioms"
PREVIEW = False
WHY = {
    "idioms.matmul": "C[i, j] += A[i, k] * B[k, j] over whole extents -> C += A @ B (BLAS gemm; sums reordered)",
    "idioms.matvec": "y[i] += A[i, j] * x[j] over whole extents -> y += A @ x (BLAS gemv; sums reordered)",
    "idioms.dot": "s += x[i] * y[i] over the whole extent -> s += x @ y (BLAS dot; sum reordered)",
    "idioms.gram": "s += X[a, p] * Y[b, p] over the whole extent inside any nest -> "
    "s += G[a, b] with G = X @ Y.T computed once before it (BLAS gemm; sums reordered)",
    "idioms.sum": "s += x[i] over every element of a float64 array -> s += x.sum() (sum reordered)",
    "idioms.max": "m = max(m, x[i]) over every element of an integer array -> m = max(m, x.max()) if any",
    "idioms.min": "m = min(m, x[i]) over every element of an integer array -> m = min(m, x.min()) if any",
}

BLAS_DTYPES = frozenset({"float64", "float32"})
_DEFAULT_FLOAT_ALLOCATORS = frozenset({"zeros", "ones", "empty"})
_DTYPE_NAMES = {"float64": "float64", "float32": "float32", "float_": "float64", "double": "float64"}


def rules(ctx: PassContext) -> list[Rewrite]:
    known: list[dict[str, str]] = []

    def dtypes(egraph: EGraph) -> dict[str, str]:
        if not known:  # allocations are top-level statements no rule rewrites: any variant will do
            known.append(array_dtypes(egraph.extract_term(ctx.root), ctx.facts))
        return known[0]

    covered: list[frozenset[Term]] = []

    def accesses() -> frozenset[Term]:
        if not covered:
            covered.append(unconditional_covered_accesses(ctx.body, ctx.facts) if ctx.body else frozenset())
        return covered[0]

    def rewrite(kind: str) -> Applier:
        def applier(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
            parts = tuple(egraph.extract_term(subst[n]) for n in ("v", "lo", "hi", "st", "body"))
            loop = Term("for", parts, "range")
            found = blas_form(loop, ctx.facts, dtypes(egraph), accesses()) or accumulator_blas_form(
                loop, ctx.facts, dtypes(egraph), accesses()
            )
            return found.statement if found is not None and found.kind == kind else None

        return applier

    def reduce(kind: str) -> Applier:
        def applier(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
            parts = tuple(egraph.extract_term(subst[n]) for n in ("v", "lo", "hi", "st", "body"))
            found = reduction_form(Term("for", parts, "range"), ctx.facts, dtypes(egraph))
            return found[1] if found is not None and found[0] == kind else None

        return applier

    def gram(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
        parts = tuple(egraph.extract_term(subst[n]) for n in ("v", "lo", "hi", "st", "body"))
        taken = ctx.names | {array for array, _, _ in ctx.facts.expansions.values()}
        loop = Term("for", parts, "range")
        return gram_form(loop, ctx.facts, dtypes(egraph), accesses(), taken, ctx.body)

    lhs = "(for:range ?v ?lo ?hi ?st ?body)"
    return [
        rule("idioms.matmul", lhs, rewrite("matmul"), safety="reassoc"),
        rule("idioms.matvec", lhs, rewrite("matvec"), safety="reassoc"),
        rule("idioms.dot", lhs, rewrite("dot"), safety="reassoc"),
        rule("idioms.gram", lhs, gram, safety="reassoc"),
        rule("idioms.sum", lhs, reduce("sum"), safety="reassoc"),
        rule("idioms.max", lhs, reduce("max"), safety="exact"),
        rule("idioms.min", lhs, reduce("min"), safety="exact"),
    ]


@dataclass(frozen=True)
class BlasForm:
    kind: str  # "matmul" | "matvec" | "dot"
    statement: Term  # the `augassign` that replaces the whole nest


def blas_form(
    loop: Term, facts: KernelFacts, dtypes: Mapping[str, str], covered: frozenset[Term] = frozenset()
) -> BlasForm | None:
    """The single `@` statement equivalent to the nest at `loop`, or None when it is not legal.

    `dtypes` maps array names to dtype names (`array_dtypes`); an array missing from it refuses.
    """
    whole = _whole_nest(loop, facts)
    if whole is None or len(whole.extents) > 3:
        return None
    variables = list(whole.extents)
    update = _accumulation(whole.statement)
    pattern = _match(update, variables) if update is not None else None
    if update is None or pattern is None or not _arrays_ok(pattern, facts, dtypes):
        return None
    extents = whole.extents
    if any(names_read(n) & {pattern.target} for n in extents.values()):
        return None  # a bound the nest itself changes
    if update.scale is not None:
        scale_names = names_read(update.scale)
        if scale_names & (set(variables) | {pattern.target}) or any(
            facts.kind(n) not in ("int", "float") for n in scale_names
        ):
            return None  # the scale must be a number no iteration changes
    # A target whose extents are not proved (a parameter C updated over A's rows) is updated
    # through `C[:n, :p]` when the dispatcher's bounds guard covers its subscript: the guard sends
    # a C too small for the nest to the original, and a larger C has only that block updated.
    target_guarded = update.target.op == "index" and update.target in covered
    guarded = frozenset(base_array(e) or "" for e in (update.left, update.right) if e in covered)
    sliced = _slices(pattern, extents, facts, target_guarded, guarded)
    if sliced is None:
        return None
    statement = _product_update(pattern, update, sliced)
    # A column slice of an operand (`A[:, :n]`) is a strided view, which Numba's `@` copies to a
    # contiguous temporary before calling BLAS: as much traffic as a matrix-vector product itself.
    # Where the slice turns out to cover the whole dimension, the unsliced operand runs instead.
    strided = {
        (a, d): sliced[a][d]
        for a in (pattern.left, pattern.right)
        for d in sliced.get(a, {})
        if d > 0 and a != pattern.target
    }
    if strided:
        whole_dims = {
            a: {d: e for d, e in dims.items() if (a, d) not in strided} for a, dims in sliced.items()
        }
        conditions = [Term("eq", (_shape(a, d), extent)) for (a, d), extent in sorted(strided.items())]
        statement = Term(
            "if", (_all(conditions), seq(_product_update(pattern, update, whole_dims)), seq(statement))
        )
    if sliced and pattern.kind != "dot":
        statement = Term("if", (_nonempty(pattern, extents), seq(statement), seq()))
    return BlasForm(pattern.kind, statement)


def array_dtypes(body: Term, facts: KernelFacts) -> dict[str, str]:
    """Dtype names of the array parameters and of fresh local arrays whose allocation states it.

    `np.zeros/ones/empty(shape)` make float64 unless given a dtype; `np.*_like(A)` and `A.copy()`
    take A's dtype; `np.full` without a dtype follows its fill value, which is not read here.
    """
    out = {name: at.dtype for name, at in facts.arg_types.items() if at.kind == "array"}
    out.update({array: "float64" for array, _, _ in facts.expansions.values()})  # np.empty(n)
    allocations = {
        str(stmt.args[0].value): stmt.args[1]
        for stmt in body.walk()
        if stmt.op == "assign" and stmt.args[0].op == "var" and str(stmt.args[0].value) in facts.fresh_arrays
    }
    for _ in range(len(allocations)):  # `B = np.zeros_like(A)` after `A = np.zeros(...)`
        for name, value in allocations.items():
            dtype = _allocation_dtype(value, out)
            if dtype is not None:
                out[name] = dtype
    return out


@dataclass(frozen=True)
class _Nest:
    extents: dict[str, Term]  # loop variable -> its range's stop, outermost first
    statement: Term  # the one statement of the innermost body
    start: int = 0  # where a single loop starts (`range(1, n)`); 0 for every loop of a deeper nest


def _whole_nest(loop: Term, facts: KernelFacts, offset: bool = False) -> _Nest | None:
    """A perfect nest of `range(0, N, 1)` loops over bare sizes around one statement, whose loop
    variables are not read after it (the statement that replaces it would not bind them).
    With `offset`, a single loop may start at a constant `c >= 0` (`range(1, n)`)."""
    nest = loop_nest(loop)
    innermost = nest[-1].args[4] if nest else loop
    if not nest or innermost.op != "seq" or len(innermost.args) != 1:
        return None  # not a loop, or another statement beside the update
    variables = [loop_var(level) for level in nest]
    start = _int_const(nest[0].args[1]) if offset and len(nest) == 1 else 0
    if start is None or start < 0:
        return None  # a start that is not a constant, or one that would wrap around in a slice
    shifted = nest[0].args[1:4] == (const(start), nest[0].args[2], const(1))
    if not all(_plain_range(level) or (start and shifted and level.value == "range") for level in nest):
        return None  # partial ranges, steps
    if len(set(variables)) != len(variables):
        return None
    if any(v in facts.escaping.get(w, frozenset()) for v in variables for w in variables):
        return None
    extents = {loop_var(level): level.args[2] for level in nest}
    if any(not _bare_size(n) or names_read(n) & set(variables) for n in extents.values()):
        return None  # `range(n - 1)` stops short of the extent; `range(i)` is triangular
    return _Nest(extents, innermost.args[0], start)


# ---- reductions: sum, max, min ----------------------------------------------------------------


@dataclass(frozen=True)
class _Reduction:
    kind: str  # "sum" | "max" | "min"
    accumulator: str
    op: str  # for a sum: "add" | "sub"
    element: Term  # the element read, `x[i]` or `A[i, j]`


def reduction_form(loop: Term, facts: KernelFacts, dtypes: Mapping[str, str]) -> tuple[str, Term] | None:
    """(kind, statement) for a nest that folds every element of one array into a scalar, or None.

    `s += x[i]` becomes `s += x.sum()` (float64 only: another dtype would sum in another
    precision); `m = max(m, x[i])` or `if x[i] > m: m = x[i]` becomes
    `if n > 0: m = max(m, x.max())` (integer dtypes only: see *Float safety*), min likewise.
    """
    whole = _whole_nest(loop, facts, offset=True)
    found = _reduction(whole.statement) if whole is not None else None
    element = _subscripts(found.element) if found is not None else None
    if whole is None or found is None or element is None:
        return None
    array, subscripts = element
    variables = list(whole.extents)
    if sorted(subscripts) != sorted(variables) or len(facts.array_dims.get(array, ())) != len(subscripts):
        return None  # every element once: each dimension indexed by its own whole loop
    if found.accumulator in {array, *variables} or any(
        found.accumulator in names_read(n) for n in whole.extents.values()
    ):
        return None
    if not all(_proved(v, whole.extents[v], array, d, facts) for d, v in enumerate(subscripts)):
        return None  # `range(n)` with n not proved to be the extent: x.sum() would read another count
    dtype = dtypes.get(array)
    operand = var(array)
    if whole.start:  # `range(1, n)` over x reads x[1:], empty when n <= 1
        operand = Term("index", (operand, Term("slice", (const(whole.start), NONE, NONE))))
    if found.kind == "sum":
        if dtype != "float64" or facts.kind(found.accumulator) != "float":
            return None
        total = Term("call", (Term("attr", (operand,), "sum"),))
        return "sum", Term("augassign", (var(found.accumulator), total), found.op)
    if dtype not in INTEGER_DTYPES or facts.kind(found.accumulator) == "array":
        return None
    extreme = Term("call", (Term("attr", (operand,), found.kind),))
    update = Term(
        "assign", (var(found.accumulator), Term("call", (var(found.kind), var(found.accumulator), extreme)))
    )
    # x.max() of no element raises where the nest does nothing: only when it reads one
    stops = list(whole.extents.values())
    guard = Term("gt", (stops[0], const(whole.start))) if whole.start else _positive(stops)
    return found.kind, Term("if", (guard, seq(update), seq()))


def _reduction(statement: Term) -> _Reduction | None:
    """`s += e`, `s -= e`, `s = s + e`, `s = e + s`, `s = s - e`; `m = max(m, e)`, `m = max(e, m)`,
    `if e > m: m = e` (or `>=`, `m < e`), and the same for min."""
    if statement.op == "augassign" and statement.args[0].op == "var" and statement.value in ("add", "sub"):
        return _Reduction("sum", str(statement.args[0].value), str(statement.value), statement.args[1])
    if statement.op == "assign" and statement.args[0].op == "var":
        target, value = statement.args
        name = str(target.value)
        if value.op in ("add", "sub") and value.args[0] == target:
            return _Reduction("sum", name, value.op, value.args[1])
        if value.op == "add" and value.args[1] == target:
            return _Reduction("sum", name, "add", value.args[0])
        kind = call_name(value)
        if kind in ("max", "min") and len(value.args) == 3 and target in value.args[1:]:
            other = value.args[2] if value.args[1] == target else value.args[1]
            if other != target and other.op != "kw":
                return _Reduction(kind, name, "", other)
    if statement.op == "if" and statement.args[2] == seq() and len(statement.args[1].args) == 1:
        cond, (assign,) = statement.args[0], statement.args[1].args
        if assign.op != "assign" or assign.args[0].op != "var" or cond.op not in _GROWS:
            return None
        target, element = assign.args
        left, right = cond.args
        if (left, right) == (element, target):
            return _Reduction(_GROWS[cond.op], str(target.value), "", element)
        if (left, right) == (target, element):
            return _Reduction(_SHRINKS[cond.op], str(target.value), "", element)
    return None


_GROWS = {"gt": "max", "ge": "max", "lt": "min", "le": "min"}  # `if e > m: m = e` keeps the maximum
_SHRINKS = {"gt": "min", "ge": "min", "lt": "max", "le": "max"}  # `if m > e: m = e` keeps the minimum
INTEGER_DTYPES = frozenset(
    {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intp", "int_"}
)


def _positive(extents: list[Term]) -> Term:
    """`n > 0 and m > 0`: the nest over these extents runs its statement at least once."""
    return _all([Term("gt", (extent, const(0))) for extent in extents])


# ---- the accumulation and its pattern ---------------------------------------------------------


def accumulator_blas_form(
    loop: Term, facts: KernelFacts, dtypes: Mapping[str, str], covered: frozenset[Term] = frozenset()
) -> BlasForm | None:
    """The naive product with a scalar accumulator as a store plus a BLAS update, or None.

    `for i: for j: s = init; for k: s += A[i, k] * B[k, j]; C[i, j] = s` computes what
    `for i: for j: C[i, j] = init` followed by `for i: for j: for k: C[i, j] += A[i, k] * B[k, j]`
    does when nothing in the nest reads C and s is not read after it: each C[i, j] starts from
    init and adds the same products in the same order, held in C[i, j] instead of s (both float64:
    a float32 C would round every partial sum). The second nest becomes `C += A @ B` by
    `blas_form`; the first a slice assignment when `vectorize.slice_form` allows, else it stays.
    """
    nest = loop_nest(loop)
    body = nest[-1].args[4] if nest else loop
    if not nest or body.op != "seq" or len(body.args) != 3:
        return None
    start, inner, store = body.args
    if start.op != "assign" or start.args[0].op != "var" or inner.op != "for":
        return None
    accumulator = start.args[0]
    if store.op != "assign" or store.args[1] != accumulator or store.args[0].op != "index":
        return None
    target = store.args[0]
    array = base_array(target)
    outer = [loop_var(level) for level in nest]
    if array is None or sorted(str(p.value) for p in index_parts(target) if p.op == "var") != sorted(outer):
        return None
    if len(index_parts(target)) != len(outer) or dtypes.get(array) != "float64":
        return None
    inner_body = inner.args[4]
    if inner_body.op != "seq" or len(inner_body.args) != 1:
        return None
    update = _accumulation(inner_body.args[0])
    if update is None or update.target != accumulator:
        return None
    name = str(accumulator.value)
    if name in names_read(start.args[1]) or array in names_read(start.args[1]) | names_read(inner):
        return None  # the start reads the accumulator, or the nest reads the array it fills
    if any(name in facts.escaping.get(v, frozenset()) for v in outer):
        return None  # the accumulator's last value is read after the nest
    moved = Term(inner_body.args[0].op, (target, *inner_body.args[0].args[1:]), inner_body.args[0].value)
    if moved.op == "assign":  # s = s + p  ->  C[i, j] = C[i, j] + p
        value = moved.args[1]
        moved = Term("assign", (target, replace_subterm(value, accumulator, target)))
    product = _rebuild(nest, seq(Term("for", (*inner.args[:4], seq(moved)), inner.value)))
    found = blas_form(product, facts, dtypes, covered)
    if found is None:
        return None
    fill = Term("assign", (target, start.args[1]))
    loops = [(level.args[0], level.args[1], level.args[2], level.args[3]) for level in nest]
    sliced = slice_form(loops, seq(fill), facts, covered) if all(lv.value == "range" for lv in nest) else None
    return BlasForm(
        found.kind, seq(sliced if sliced is not None else _rebuild(nest, seq(fill)), found.statement)
    )


def _rebuild(nest: list[Term], body: Term) -> Term:
    """The loops of `nest` (outermost first) around `body`."""
    for level in reversed(nest):
        body = Term("for", (*level.args[:4], body), level.value)
    return body


@dataclass(frozen=True)
class _Update:
    target: Term  # an index term, or a var for a scalar accumulator
    op: str  # "add" | "sub"
    left: Term  # the two array factors of the product, in source order
    right: Term
    scale: Term | None = None  # the product's scalar factors (`alpha * A[i, k] * B[k, j]`), if any


def _accumulation(statement: Term) -> _Update | None:
    """`t += p * q`, `t -= p * q`, `t = t + p * q`, `t = p * q + t`, `t = t - p * q`."""
    if statement.op not in ("assign", "augassign"):
        return None
    target, value = statement.args
    if target.op not in ("index", "var"):
        return None
    if statement.op == "augassign":
        if statement.value not in ("add", "sub"):
            return None
        op, product = str(statement.value), value
    elif value.op == "add" and value.args[0] == target:
        op, product = "add", value.args[1]
    elif value.op == "add" and value.args[1] == target:
        op, product = "add", value.args[0]
    elif value.op == "sub" and value.args[0] == target:
        op, product = "sub", value.args[1]
    else:
        return None
    if product.op != "mul":
        return None
    factors = _factors(product)
    elements = [f for f in factors if f.op == "index"]
    scalars = [f for f in factors if f.op != "index"]
    if len(elements) != 2 or not all(_scalar_factor(f) for f in scalars):
        return None
    scale = None
    for factor in scalars:  # in source order: `alpha * beta * A[i, k] * B[k, j]` -> alpha * beta
        scale = factor if scale is None else Term("mul", (scale, factor))
    return _Update(target, op, elements[0], elements[1], scale)


def _factors(term: Term) -> list[Term]:
    """The operands of a chain of multiplications, in source order."""
    if term.op != "mul":
        return [term]
    return _factors(term.args[0]) + _factors(term.args[1])


def _scalar_factor(term: Term) -> bool:
    """A number or a name (`alpha`); whether the name is a scalar no loop changes, `blas_form` checks."""
    if term.op == "const":
        return type(term.value) in (int, float)
    return term.op == "var"


@dataclass(frozen=True)
class _Pattern:
    kind: str
    target: str  # an array, or a float scalar for a dot
    left: str  # the operands of `left @ right`
    right: str
    summed: str  # the loop variable the product sums over
    subscripts: tuple[tuple[str, int, str], ...]  # (array, dimension, loop variable), every one
    transposed: tuple[bool, bool] = (False, False)  # `left.T`, `right.T`: a gemm reads A[k, i]

    def rank(self, array: str) -> int:
        uses = (array == self.target) + (array == self.left) + (array == self.right)
        return sum(1 for name, _, _ in self.subscripts if name == array) // max(uses, 1)


def _subscripts(term: Term) -> tuple[str, tuple[str, ...]] | None:
    """`A[i, k]` → ("A", ("i", "k")) when the base is a name and every subscript a bare name."""
    if term.op != "index" or term.args[0].op != "var":
        return None
    parts = index_parts(term)
    if any(p.op != "var" for p in parts):
        return None
    return str(term.args[0].value), tuple(str(p.value) for p in parts)


def _match(update: _Update, variables: list[str]) -> _Pattern | None:
    """Which of the three products the update is, with every subscript's loop variable."""
    loops = set(variables)
    left, right = _subscripts(update.left), _subscripts(update.right)
    if left is None or right is None:
        return None
    (p, ps), (q, qs) = left, right
    if update.target.op == "var":  # s += x[i] * y[i]
        if len(loops) != 1 or ps != qs or ps != tuple(variables):
            return None
        (i,) = variables
        return _Pattern("dot", str(update.target.value), p, q, i, ((p, 0, i), (q, 0, i)))
    target = _subscripts(update.target)
    if target is None:
        return None
    t, ts = target
    if len(loops) == 3 and len(ts) == 2 and len(ps) == 2 and len(qs) == 2:
        i, j = ts
        if i not in ps:  # B[k, j] * A[i, k]: A first
            (p, ps), (q, qs) = (q, qs), (p, ps)
        k = next((v for v in ps if v != i), "")
        if {i, j, k} != loops or set(ps) != {i, k} or set(qs) != {k, j}:
            return None
        # A[k, i] is row i of A.T, B[j, k] column j of B.T: `A.T @ B`, `X @ X.T` (a Gram matrix)
        subscripts = ((t, 0, i), (t, 1, j), (p, ps.index(i), i), (p, ps.index(k), k))
        subscripts += ((q, qs.index(k), k), (q, qs.index(j), j))
        return _Pattern("matmul", t, p, q, k, subscripts, (ps == (k, i), qs == (j, k)))
    if len(loops) == 2 and len(ts) == 1:
        if len(ps) == 1:  # x[j] * A[i, j]: the matrix first
            (p, ps), (q, qs) = (q, qs), (p, ps)
        if len(ps) != 2 or len(qs) != 1 or set(ps) != loops or ts[0] == qs[0]:
            return None
        (i,), (j,) = ts, qs
        if ps == (i, j):  # y[i] += A[i, j] * x[j]: y += A @ x
            return _Pattern("matvec", t, p, q, j, ((t, 0, i), (p, 0, i), (p, 1, j), (q, 0, j)))
        if ps == (j, i):  # y[i] += A[j, i] * x[j]: y += x @ A
            return _Pattern("matvec", t, q, p, j, ((t, 0, i), (p, 0, j), (p, 1, i), (q, 0, j)))
    return None


# ---- extents ------------------------------------------------------------------------------------


def _plain_range(level: Term) -> bool:
    lo, step = level.args[1], level.args[3]
    return level.value == "range" and _int_const(lo) == 0 and _int_const(step) == 1


def _int_const(term: Term) -> int | None:
    return int(term.value) if term.op == "const" and type(term.value) is int else None


def _bare_size(term: Term) -> bool:
    """A name, `A.shape[d]` or `len(x)`: never `n - 1`, whose range stops short of the extent."""
    return term.op == "var" or _size_of(term) is not None


def _size_of(term: Term) -> tuple[str, int] | None:
    """(A, d) when `term` is `A.shape[d]`, or `len(A)` (d = 0)."""
    if term.op == "index" and term.args[0].op == "attr" and term.args[0].value == "shape":
        array, dim = term.args[0].args[0], _int_const(term.args[1])
        if array.op == "var" and dim is not None and dim >= 0:
            return str(array.value), dim
    if term.op == "call" and call_name(term) == "len" and len(term.args) == 2 and term.args[1].op == "var":
        return str(term.args[1].value), 0
    return None


def _proved(v: str, extent: Term, array: str, dim: int, facts: KernelFacts) -> bool:
    """Is the loop over v, `range(extent)`, exactly the indices of `array`'s dimension `dim`?

    `in_bounds` proves extent <= that dimension; for a bare declared size, which a loop of it is,
    that holds only when it is the dimension's size itself.
    """
    if _size_of(extent) == (array, dim) or (v, array, dim) in facts.in_bounds:
        return True
    # `m = B.shape[1]` bound once, or a fresh array allocated with m there (`np.zeros((n, m))`):
    # what m is holds whatever other loops reuse the loop variable's name for
    if extent.op != "var" or str(extent.value) not in facts.sizes:
        return False
    if facts.size_sources.get(str(extent.value)) == (array, dim):
        return True
    shape = facts.allocations.get(array)
    return isinstance(shape, tuple) and dim < len(shape) and shape[dim] == extent


def _slices(
    pattern: _Pattern,
    extents: Mapping[str, Term],
    facts: KernelFacts,
    target_guarded: bool = False,
    guarded: frozenset[str] = frozenset(),
) -> dict[str, dict[int, Term]] | None:
    """Dimensions to read (or, for a guarded target, update) through `[:extent]`; None when an
    extent is not established.

    Result dimensions must be proved, or be the target's under the dispatcher's guard; on the
    summed one a proved operand fixes the length that `@` checks the other against, so the other
    may be a slice of unknown length. An operand whose element the dispatcher's bounds guard covers
    (`guarded`) fixes it too: an input where it is shorter than the extent goes to the original,
    so under the guard its slice has exactly the extent's length. The same holds for its result
    dimensions, which are then sliced as well (`B[:n, :m]`: exactly n rows, nothing to broadcast).
    """
    proved = {(a, d): _proved(v, extents[v], a, d, facts) for a, d, v in pattern.subscripts}
    for (a, d), ok in proved.items():
        if ok or (a != pattern.target and _summed(pattern, a, d)):
            continue
        if not (a == pattern.target and target_guarded) and a not in guarded:
            return None
    summed = [(a, d) for a, d, v in pattern.subscripts if v == pattern.summed]
    if not any(proved[s] or s[0] in guarded for s in summed):
        return None  # no operand fixes the summed length: slices of two short operands would agree
    sliced: dict[str, dict[int, Term]] = {}
    for a, d in summed:
        if not proved[(a, d)]:
            sliced.setdefault(a, {})[d] = extents[pattern.summed]
    for a, d, v in pattern.subscripts:
        if (a == pattern.target or a in guarded) and not proved[(a, d)]:
            sliced.setdefault(a, {})[d] = extents[v]
    return sliced


def _nonempty(pattern: _Pattern, extents: Mapping[str, Term]) -> Term:
    """`n > 0 and p > 0` over the target's extents: the nest runs its statement only then.

    With an empty result the nest reads no operand, while `A @ B[:m]` would still check a short
    sliced operand against the proved one and raise; under the guard it is never evaluated.
    """
    return _positive([extents[v] for a, _, v in pattern.subscripts if a == pattern.target])


def _summed(pattern: _Pattern, array: str, dim: int) -> bool:
    return any(a == array and d == dim and v == pattern.summed for a, d, v in pattern.subscripts)


def _product_update(pattern: _Pattern, update: _Update, sliced: Mapping[str, Mapping[int, Term]]) -> Term:
    """`C += A @ B` for the pattern, its operands and target cut as `sliced` says."""
    left = _operand(pattern.left, sliced.get(pattern.left, {}), pattern.rank(pattern.left))
    right = _operand(pattern.right, sliced.get(pattern.right, {}), pattern.rank(pattern.right))
    left, right = (
        Term("attr", (term,), "T") if flip else term
        for term, flip in zip((left, right), pattern.transposed, strict=True)
    )
    product = Term("matmul", (left, right))
    if update.scale is not None:  # alpha * (A @ B): the scale multiplies the sums, not each term
        product = Term("mul", (update.scale, product))
    target = var(pattern.target)
    if sliced.get(pattern.target):
        target = _operand(pattern.target, sliced[pattern.target], pattern.rank(pattern.target))
    return Term("augassign", (target, product), update.op)


def _shape(array: str, dim: int) -> Term:
    return Term("index", (Term("attr", (var(array),), "shape"), const(dim)))


def _operand(name: str, sliced: Mapping[int, Term], rank: int) -> Term:
    """`B`, or `B[:m]` / `A[:, :m]` for the dimensions cut to the loop's extent."""
    if not sliced:
        return var(name)
    full = Term("slice", (NONE, NONE, NONE))
    parts = [Term("slice", (NONE, sliced[d], NONE)) if d in sliced else full for d in range(rank)]
    while parts and parts[-1] == full:
        parts.pop()  # `B[:m]`, not `B[:m, :]`: Numba keeps a row prefix C-contiguous
    index = parts[0] if len(parts) == 1 else Term("tuple", tuple(parts))
    return Term("index", (var(name), index))


# ---- products of whole contractions inside any nest: idioms.gram ---------------------------------


@dataclass(frozen=True)
class _Operand:
    """One factor `X[a, p]` or `X[p, a]` of a contraction over p, a side of `left @ right`."""

    name: str
    access: Term  # the element as written
    summed: int  # the dimension p subscripts
    other: str  # the enclosing loop variable that subscripts the other dimension


def gram_form(
    loop: Term,
    facts: KernelFacts,
    dtypes: Mapping[str, str],
    covered: frozenset[Term] = frozenset(),
    taken: frozenset[str] = frozenset(),
    kernel: Term | None = None,
) -> Term | None:
    """`loop` with each whole contraction inside it read from one product computed before it.

    In `for i: for j in range(i + 1): s = 0.0; for p in range(k): s += A[i, p] * A[j, p]; ...`
    the inner loop sums row i of A times row j of A: element (i, j) of `A @ A.T`. The result is
    `A_AT = A @ A.T` followed by the nest with that loop replaced by `s += A_AT[i, j]`; the rest of
    the body (triangular bounds, other statements, the store of s) stays as written. Each sum of
    such an inner loop gets a product (identical ones share it); None when there is none (see
    *Legal when*).
    `taken`: names the product's name must avoid (the kernel's); `kernel`: the body as written,
    where an accumulator that `facts` cannot type (`s += T[i, a] * T[i, b]` over a local T) is
    shown to be a float.
    """
    if loop.op != "for" or loop.args[4].op != "seq":
        return None
    written = arrays_written(loop)
    assigned = names_assigned(loop)
    calls = [t for t in loop.walk() if t.op == "call" and not is_pure_call(t)]
    products: dict[str, Term] = {}  # name -> the statement that computes it

    def contraction(inner: Term, enclosing: Mapping[str, Term]) -> Term | None:
        """The lookups that replace `inner`, when it is a whole contraction over the nest's vars."""
        body = inner.args[4]
        extent = inner.args[2]
        if inner.value != "range" or not _plain_range(inner) or body.op != "seq" or not body.args:
            return None  # a partial or stepped range
        p = loop_var(inner)
        if not _bare_size(extent) or names_read(extent) & assigned or p in enclosing:
            return None  # `range(k - 1)`, or an extent the nest changes
        if p in facts.escaping.get(p, frozenset()):
            return None  # p's last value is read after the loop, which the lookup does not bind
        updates = [u for u in map(_accumulation, body.args) if u is not None and u.target.op == "var"]
        if len(updates) != len(body.args):
            return None  # another statement beside the sums
        sums = {str(u.target.value) for u in updates}
        if len(sums) != len(updates):
            return None  # one accumulator summed twice: its terms interleave
        lookups = []
        for update in updates:
            lookup = accumulation_lookup(update, p, extent, sums, enclosing)
            if lookup is None:
                return None
            lookups.append(lookup)
        for name, product in lookups_products:
            products.setdefault(name, product)
        lookups_products.clear()
        return seq(*lookups)

    lookups_products: list[tuple[str, Term]] = []  # found for the loop being matched, kept if it is

    def accumulation_lookup(
        update: _Update, p: str, extent: Term, sums: set[str], enclosing: Mapping[str, Term]
    ) -> Term | None:
        """`s += G[a, b]` for one accumulation over p, its product recorded."""
        s = str(update.target.value)
        if not _float_scalar(s, kernel, facts, dtypes):
            return None
        if update.scale is not None and (
            names_read(update.scale) & (sums | {p})
            or any(facts.kind(n) not in ("int", "float") for n in names_read(update.scale))
        ):
            return None
        left = _contraction_operand(update.left, p, enclosing)
        right = _contraction_operand(update.right, p, enclosing)
        if left is None or right is None or left.other == right.other:
            return None  # `X[i, p] * Y[i, p]` is a diagonal: the full product would waste its rest
        for operand in (left, right):
            if not _gram_operand_ok(operand, facts, dtypes, written, assigned, calls):
                return None
        extents = _contraction_extents((left, right), p, extent, facts, covered)
        if extents is None:
            return None
        if not _held_already((left, right), written, facts):
            return None  # the product would be memory the program never needed
        # left @ right: the left's rows and the right's columns are the free dimensions
        flips = tuple(o.summed == (0 if o is left else 1) for o in (left, right))
        product = _contraction_product((left, right), flips, extents, extent)
        # a column prefix `X[:, :k]` is a strided view that Numba's `@` copies first: where the
        # guard's k <= X.shape[1] is an equality, the whole X is the same operand and no copy
        strided = sorted({o.name for o in (left, right) if o.name in extents and o.summed == 1})
        whole = _contraction_product((left, right), flips, extents - set(strided), extent)
        test = _all([Term("eq", (_shape(a, 1), extent)) for a in strided]) if strided else None

        def computed(name: str) -> Term:
            statement = Term("assign", (var(name), product))
            if test is None:
                return statement
            return Term("if", (test, seq(Term("assign", (var(name), whole))), seq(statement)))

        name = _product_name(left.name, right.name, *flips, extent if extents else None)
        known = {**products, **dict(lookups_products)}
        while name in taken or known.get(name, computed(name)) != computed(name):
            name += "_"  # the same name computes the same product
        lookups_products.append((name, computed(name)))
        lookup: Term = Term("index", (var(name), Term("tuple", (var(left.other), var(right.other)))))
        if update.scale is not None:
            lookup = Term("mul", (update.scale, lookup))
        return Term("augassign", (update.target, lookup), update.op)

    def visit(term: Term, enclosing: Mapping[str, Term]) -> Term:
        if term.op == "for":
            inside = {**enclosing, loop_var(term): term}
            return Term("for", (*term.args[:4], visit(term.args[4], inside)), term.value)
        if term.op not in ("seq", "if", "while"):
            return term  # a statement or an expression: no loop inside
        children: list[Term] = []
        for child in term.args:
            found = contraction(child, enclosing) if child.op == "for" and term.op == "seq" else None
            lookups_products.clear()
            if found is not None:
                children.extend(found.args)
            else:
                children.append(visit(child, enclosing))
        return Term(term.op, tuple(children), term.value)

    rewritten = Term("for", (*loop.args[:4], visit(loop.args[4], {loop_var(loop): loop})), loop.value)
    if not products:
        return None
    return seq(*products.values(), rewritten)


def _held_already(operands: tuple[_Operand, _Operand], written: set[str], facts: KernelFacts) -> bool:
    """Does the nest write an array of the product's shape (rows of the left's free dimension,
    columns of the right's)? The product is a new rows x columns array where the loop needed one
    scalar: for `count pairs with x_i . x_j > t` over 10^5 points it would be 80 GB, a MemoryError
    the original never raises. Next to an output of that shape (syrk's C, a covariance matrix) it
    at most doubles what the program already holds."""
    shape = sorted(facts.array_dims[o.name][1 - o.summed] for o in operands)
    if ANON_DIM in shape:
        return False
    return any(sorted(facts.array_dims.get(w, ())) == shape for w in written)


def _contraction_product(
    operands: tuple[_Operand, _Operand], flips: tuple[bool, ...], sliced: set[str], extent: Term
) -> Term:
    """`left @ right`, each read through `[:k]` on its summed dimension when in `sliced`, and
    through `.T` when flipped."""
    sides = []
    for operand, flip in zip(operands, flips, strict=True):
        term = _operand(operand.name, {operand.summed: extent} if operand.name in sliced else {}, 2)
        sides.append(Term("attr", (term,), "T") if flip else term)
    return Term("matmul", (sides[0], sides[1]))


def _all(conditions: list[Term]) -> Term:
    test = conditions[0]
    for condition in conditions[1:]:
        test = Term("and", (test, condition))
    return test


def _float_scalar(name: str, kernel: Term | None, facts: KernelFacts, dtypes: Mapping[str, str]) -> bool:
    """Is `name` a float scalar wherever it is read?

    `facts.kind` types fresh arrays' elements as unknown, so an accumulator of their products is
    unknown there. Here those elements take their allocation's dtype (`array_dtypes`), and the
    name is a float when every binding of it in the kernel stores a float given that it is one:
    a local is bound before it is read, so by induction it is never anything else.
    """
    kind = facts.kind(name)
    if kind == "float":
        return True
    if kind != "unknown" or kernel is None or name in facts.arg_types:
        return False
    arrays = {**facts.arg_types}
    for array, dtype in dtypes.items():
        if array in facts.fresh_arrays and array not in arrays:
            arrays[array] = ArgType("array", dtype, len(facts.array_dims.get(array, ())))
    kinds = {**facts.local_kinds, name: "float"}
    for node in kernel.walk():
        if node.op == "for" and loop_var(node) == name:
            return False
        if node.op not in ("assign", "augassign"):
            continue
        target = node.args[0]
        if target.op == "tuple" and var(name) in tuple(target.walk()):
            return False  # `s, t = ...`: what it unpacks is not typed here
        if target != var(name):
            continue
        value = node.args[1] if node.op == "assign" else Term(str(node.value), (target, node.args[1]))
        if expr_kind(value, arrays, kinds) != "float":
            return False
    return True


def _contraction_operand(element: Term, p: str, enclosing: Mapping[str, Term]) -> _Operand | None:
    """`X[a, p]` or `X[p, a]` with a the variable of an enclosing loop of the nest that nothing
    else in that loop assigns (so it holds one value per iteration, the one the loop gave it)."""
    found = _subscripts(element)
    if found is None or len(found[1]) != 2 or found[1].count(p) != 1:
        return None
    name, subscripts = found
    summed = subscripts.index(p)
    other = subscripts[1 - summed]
    if other not in enclosing or other in names_assigned(enclosing[other].args[4]):
        return None
    return _Operand(name, element, summed, other)


def _gram_operand_ok(
    operand: _Operand,
    facts: KernelFacts,
    dtypes: Mapping[str, str],
    written: set[str],
    assigned: set[str],
    calls: list[Term],
) -> bool:
    """A 2-D float64 parameter or fresh array that the nest neither writes, rebinds, hands to a
    call, nor may write through another name."""
    name = operand.name
    if len(facts.array_dims.get(name, ())) != 2 or dtypes.get(name) != "float64":
        return False
    if name not in facts.arg_types and name not in facts.fresh_arrays:
        return False  # a local view: what it shares memory with is unknown
    if name in written or name in assigned or any(name in names_read(call) for call in calls):
        return False
    return not any(facts.may_alias(name, other) and not _guarded(name, other, facts) for other in written)


def _contraction_extents(
    operands: tuple[_Operand, _Operand],
    p: str,
    extent: Term,
    facts: KernelFacts,
    covered: frozenset[Term],
) -> set[str] | None:
    """The operands to slice to `extent` on the summed dimension; None when an extent is not
    established (see *Legal when*): the product is computed before the nest, whether or not the
    nest reaches the contraction, so no operand may be short and no lookup out of its range."""
    sliced: set[str] = set()
    proved_once = False
    for operand in operands:
        guarded = operand.access in covered  # the dispatcher's bounds guard holds for every subscript
        if _proved(p, extent, operand.name, operand.summed, facts):
            proved_once = True
        elif guarded:
            sliced.add(operand.name)  # k <= X.shape[d] under the guard: X[:k] has exactly k rows
        else:
            return None
        if not guarded and (operand.other, operand.name, 1 - operand.summed) not in facts.in_bounds:
            return None  # a row of the product that may not exist
    if sliced and not proved_once and not nonnegative(extent, facts):
        return None  # `X[:k]` with k < 0 is not empty
    return sliced


def _product_name(left: str, right: str, left_t: bool, right_t: bool, extent: Term | None) -> str:
    """`A_AT` for `A @ A.T`, `XT_Y` for `X.T @ Y`, with the sliced extent (`A_AT_k`): names that
    depend on the product only, so two rewrites of one kernel that pick one name compute one value."""
    name = f"{left}{'T' if left_t else ''}_{right}{'T' if right_t else ''}"
    if extent is not None:
        text = (
            str(extent.value) if extent.op == "var" else hashlib.sha1(repr(extent).encode()).hexdigest()[:6]
        )
        name += f"_{text}"
    return name


# ---- arrays: ranks, dtypes, aliasing ------------------------------------------------------------


def _arrays_ok(pattern: _Pattern, facts: KernelFacts, dtypes: Mapping[str, str]) -> bool:
    """Ranks, dtypes and aliasing of the target and operands (see *Legal when*)."""
    target, operands = pattern.target, {pattern.left, pattern.right}
    if target in operands:
        return False  # the nest reads elements of the target it has already updated
    arrays = sorted(operands) if pattern.kind == "dot" else sorted({target, *operands})
    for name in arrays:
        if len(facts.array_dims.get(name, ())) != pattern.rank(name) or name not in dtypes:
            return False
        if name not in facts.arg_types and name not in facts.fresh_arrays:
            return False  # a local view could share memory with anything, the target included
    if pattern.kind == "dot":
        if facts.kind(target) != "float":
            return False
    elif any(facts.may_alias(target, name) and not _guarded(target, name, facts) for name in operands):
        return False
    wanted = {dtypes[name] for name in arrays}
    if pattern.kind == "dot" and wanted != {"float64"}:
        # A float32 product makes a Python-float accumulator a float32 only when the loop runs;
        # `s += x @ y` makes it one even for empty vectors (found by the differential fuzzer).
        return False
    return len(wanted) == 1 and wanted <= BLAS_DTYPES


def _guarded(a: str, b: str, facts: KernelFacts) -> bool:
    """Two array parameters: the emitted code sends overlapping calls to the original."""
    return a in facts.arg_types and b in facts.arg_types


def _allocation_dtype(value: Term, known: Mapping[str, str]) -> str | None:
    if value.op != "call":
        return None
    explicit = next((a.args[0] for a in value.args[1:] if a.op == "kw" and a.value == "dtype"), None)
    func = value.args[0]
    if func.op == "attr" and func.value == "copy" and func.args[0].op == "var" and len(value.args) == 1:
        return known.get(str(func.args[0].value))
    module, _, func_name = (call_name(value) or "").rpartition(".")
    if module not in NUMPY_MODULES:
        return None
    positional = [a for a in value.args[1:] if a.op != "kw"]
    if func_name in _DEFAULT_FLOAT_ALLOCATORS:
        if len(positional) > 1:
            explicit = positional[1]
        return "float64" if explicit is None else dtype_name(explicit)
    if func_name in LIKE_ALLOCATORS and positional and positional[0].op == "var":
        return dtype_name(explicit) if explicit is not None else known.get(str(positional[0].value))
    if func_name == "full" and explicit is not None:
        return dtype_name(explicit)
    return None


def dtype_name(term: Term) -> str | None:
    """`np.float32`, `numpy.float64`, `float` → the dtype name; anything else unknown."""
    if term.op == "var" and term.value == "float":
        return "float64"
    if term.op == "attr" and term.args[0].op == "var" and str(term.args[0].value) in NUMPY_MODULES:
        return _DTYPE_NAMES.get(str(term.value), str(term.value))
    return None
