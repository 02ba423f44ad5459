"""Loops ↔ array expressions: an elementwise loop becomes one slice assignment, and a reduction
of an array expression becomes a loop that needs no temporary array. Both directions live in the
one e-graph; the cost model and the measured pick decide which form ships.

What
    `vectorize.slice`: a loop (or a rectangular 2-deep nest) whose only statement writes one
    element per iteration, `for i in range(lo, hi): X[.., i + c, ..] = E`, becomes
    `if lo < hi: X[.., lo + c:hi + c, ..] = E'`, where E' reads every element access
    `A[.., i + d, ..]` of E as the slice `A[.., lo + d:hi + d, ..]` (a 2-deep nest slices two
    positions). `X[s] += E` becomes `X[s'] = X[s'] + E'`, which keeps item assignment's casting.
    `vectorize.loop-sum` (float) and `vectorize.loop-count` (bool, int): a statement that
    evaluates `np.sum(E)` or `E.sum()`, with E elementwise over whole 1-D arrays of one extent,
    is preceded by a loop that accumulates E element by element, and reads the accumulator:
    `return np.sqrt(np.sum(x * x))` becomes `t = 0.0; for i in range(x.shape[0]): t += x[i] *
    x[i]; return np.sqrt(t)`.
Why faster
    `np.sum(E)` allocates E, writes it and reads it back; the loop makes one pass over the inputs
    and no allocation (and is then open to the other rule sets: `t += x[i] * x[i]` is a dot).
    The slice form is the NumPy expert's spelling of an elementwise loop. Under Numba a loop is
    usually as fast (the ranking and the measured pick keep it where it is), but the array form
    is what the model weighs for array-at-a-time execution and what a short workload pays no
    compile loop for.
Legal when
    Slices: every loop is `range(lo, hi)` with step 1, the nest is rectangular, and nothing in it
    assigns a name. A loop variable appears only as a subscript `v`, `v + c` or `v - c` (c an
    int constant), at most once per access, and every access's loop positions, in order, are
    a suffix of the target's (NumPy broadcasting aligns trailing dimensions, so `y[j]` against
    `C[i, j]` is a row, while `x[i]` would be read along the wrong axis). The target uses every
    loop variable (one element per iteration). The target's array is read only at the target's
    own subscript: the loop would see values written by earlier iterations where the slice
    reads every element before writing any. The other arrays are parameters (the dispatcher
    sends overlapping ones to the original) or fresh allocations. Every element access is one
    the original kernel evaluates unconditionally, whose range the dispatcher's bounds guard
    covers, with a subscript proved non-negative over the loop: a slice clips where an index
    raises and wraps where a negative index does, so the forms agree only in bounds, and
    `if lo < hi` keeps an empty loop from turning into a wrapped slice. No loop variable is
    read after the loop. The operations are ones a NumPy scalar (what `A[i]` is under CPython)
    and a NumPy array compute alike, element by element: `+ - * / // %`, unary `-` and `+`,
    comparisons, `abs`, and NumPy's `sqrt abs absolute fabs floor ceil trunc minimum maximum
    fmin fmax`; scalars are loop-invariant numbers.
    Loop sums: every array in E is a whole 1-D array (a bare name) and all have one extent
    (the same array, or a fresh allocation sized by the other's shape); E uses `+ - *`, unary
    `-`, `abs`, `np.abs`, `np.sqrt` and comparisons (no division: compiled scalar division
    raises ZeroDivisionError where NumPy's gives inf); the arrays are all float64, or all
    int64 with int scalars (a wrapping int64 sum either way), or E is a comparison (a count).
    The call is evaluated whenever its statement runs: not under `and`, `or`, a conditional
    expression, a `while` condition or a loop header.
Refuses when
    A step other than 1, triangular bounds, two statements, a scalar assigned in the loop, the
    loop variable read as a value (`x[i] * i`) or after the loop, `x[2 * i]`, `x[idx[i]]`, a
    read of the target's array at another element (`a[i] = a[i - 1] + 1`), an access that is
    conditional, uncovered or possibly negative, an array read along the wrong axis, a call
    outside the list (`math.sqrt` raises where `np.sqrt` gives nan). Loop sums refuse slices,
    2-D arrays, arrays whose extents are not proved equal, division, float32 and mixed dtypes.
Float safety
    `vectorize.slice` is `exact`: each element is computed by the same IEEE operation in both
    forms, only the order between elements changes, and no element depends on another.
    `vectorize.loop-sum` is `reassoc`: NumPy sums pairwise, the loop in order (and starts from
    0.0, so a sum of only -0.0 is +0.0), allowed by the default float policy and verified
    within its tolerance. `vectorize.loop-count` is `exact`: integer sums do not depend on order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from optcompiler.analysis import (
    KernelFacts,
    _array_dims,
    _index_conditions,
    all_names,
    array_dtype,
    base_array,
    index_parts,
    names_assigned,
    names_read,
    nonnegative,
    replace_subterm,
)
from optcompiler.ir import NONE, Term, const, for_range, seq, var
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import Applier, EGraph, Id, Rewrite, rule

NAME = "vectorize"
PREVIEW = False
WHY = {
    "vectorize.slice": "elementwise loop -> slice assignment: the same operation on every element, no element reads another's result",
    "vectorize.slice-2d": "elementwise 2-deep nest -> 2-D slice assignment: the same operation on every element, none reads another's result",
    "vectorize.loop-sum": "np.sum(E) -> a loop accumulating E element by element: no temporary array (sum reordered)",
    "vectorize.loop-count": "np.sum(E) of booleans or int64 -> a loop accumulating E: no temporary array (integer sum, exact)",
}

_ELEMENTWISE_BINARY = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod"})
_COMPARE = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})
_NUMPY = frozenset({"np", "numpy"})
_UFUNCS_1 = frozenset({"sqrt", "abs", "absolute", "fabs", "floor", "ceil", "trunc"})
_UFUNCS_2 = frozenset({"minimum", "maximum", "fmin", "fmax"})
_SUM_UFUNCS = frozenset({"abs", "absolute", "sqrt"})
_SCALAR_KINDS = frozenset({"int", "float", "bool"})


def rules(ctx: PassContext) -> list[Rewrite]:
    covered: list[frozenset[Term]] = []

    def accesses() -> frozenset[Term]:
        if not covered:
            covered.append(unconditional_covered_accesses(ctx.body, ctx.facts) if ctx.body else frozenset())
        return covered[0]

    def slices(depth: int) -> Applier:
        def applier(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
            names = ("v", "lo", "hi", "st", "v2", "lo2", "hi2", "st2", "body")
            parts = {n: egraph.extract_term(subst[n]) for n in names if n in subst}
            loops = [(parts["v"], parts["lo"], parts["hi"], parts["st"])]
            if depth == 2:
                loops.append((parts["v2"], parts["lo2"], parts["hi2"], parts["st2"]))
            return slice_form(loops, parts["body"], ctx.facts, accesses())

        return applier

    sums: dict[Term, tuple[bool, Term] | None] = {}  # one look per statement for both rules

    def loop_sum(count: bool) -> Applier:
        def applier(egraph: EGraph, id: Id, subst: dict[str, Id]) -> Term | None:
            if not ctx.body:
                return None
            stmt = egraph.extract_term(id)
            if stmt not in sums:
                sums[stmt] = loop_sum_form(stmt, ctx)
            found = sums[stmt]
            return found[1] if found is not None and found[0] == count else None

        return applier

    loop = "(for:range ?v ?lo ?hi ?st ?body)"
    nest = "(for:range ?v ?lo ?hi ?st (seq (for:range ?v2 ?lo2 ?hi2 ?st2 ?body)))"
    out = [
        rule("vectorize.slice", loop, slices(1)),
        rule("vectorize.slice-2d", nest, slices(2)),
    ]
    for head in ("(assign ?a ?b)", "(augassign ?a ?b)", "(return ?a)", "(expr ?a)", "(if ?a ?b ?c)"):
        out.append(rule("vectorize.loop-sum", head, loop_sum(False), safety="reassoc"))
        out.append(rule("vectorize.loop-count", head, loop_sum(True)))
    return out


# ---- loops -> slices --------------------------------------------------------------------------------


def unconditional_covered_accesses(body: Term, facts: KernelFacts) -> frozenset[Term]:
    """Element accesses the kernel evaluates on every pass through their loops (not under an `if`
    or in a `while`) and whose range the dispatcher's bounds guard covers."""
    params = list(facts.arg_types)
    rebound = names_assigned(body)
    out: set[Term] = set()

    def visit(term: Term, conditional: bool) -> None:
        if term.op == "if":
            visit(term.args[0], conditional)
            visit(term.args[1], True)
            visit(term.args[2], True)
            return
        if term.op == "while":
            conditional = True
        if term.op == "index" and not conditional and term.args[0].op == "var":
            if _index_conditions(term, params, rebound, facts) is not None:
                out.add(term)
        for child in term.args:
            visit(child, conditional)

    visit(body, False)
    return frozenset(out)


def slice_form(
    loops: list[tuple[Term, Term, Term, Term]], body: Term, facts: KernelFacts, covered: frozenset[Term]
) -> Term | None:
    """The guarded slice assignment equal to the nest `loops` (outermost first) over `body`, or None."""
    names = [str(v.value) for v, _, _, _ in loops]
    if len(set(names)) != len(names):
        return None
    for v, lo, hi, step in loops:
        if step != const(1) or names_read(Term("tuple", (lo, hi))) & set(names):
            return None  # a stepped or triangular loop
        if str(v.value) in facts.escaping.get(str(v.value), frozenset()):
            return None  # the loop variable's last value is read after the loop
    if body.op != "seq" or len(body.args) != 1:
        return None
    stmt = body.args[0]
    if stmt.op not in ("assign", "augassign") or stmt.args[0].op != "index" or names_assigned(stmt):
        return None
    target = stmt.args[0]
    value = stmt.args[1]
    if stmt.op == "augassign":
        if stmt.value not in _ELEMENTWISE_BINARY:
            return None
        value = Term(str(stmt.value), (target, value))
    bounds = {name: (lo, hi) for name, (_, lo, hi, _) in zip(names, loops, strict=True)}
    converter = _SliceConverter(bounds, facts, covered)
    new_target = converter.access(target)
    new_value = converter.expr(value)
    if new_target is None or new_value is None or not converter.ok:
        return None
    target_dims = new_target[1]
    if sorted(target_dims) != sorted(names):
        return None  # the target must move with every loop: one element per iteration
    if any(not _suffix(dims, target_dims) for dims in converter.dims_seen):
        return None
    array = base_array(target)
    if array is None or not _unaliased_array(array, facts):
        return None
    for read in converter.reads:
        other = base_array(read)
        if other == array and read != target:
            return None  # another element of the target: the loop sees earlier iterations' writes
        if other is None or not _unaliased_array(other, facts):
            return None
    assign = Term("assign", (new_target[0], new_value[0]))
    # With every start and stop >= 0 and nothing but slices, an empty loop gives empty slices;
    # otherwise (a stop that could wrap, an index evaluated) the slice form runs only when the loops would.
    tests = [Term("lt", (lo, hi)) for lo, hi in bounds.values() if not _const_lt(lo, hi)]
    if not tests or not converter.needs_test:
        return seq(assign)
    cond = tests[0] if len(tests) == 1 else Term("and", (tests[0], tests[1]))
    return seq(Term("if", (cond, seq(assign), seq())))


class _SliceConverter:
    """Rewrites an elementwise expression over loop elements into one over slices, recording
    each access's loop dimensions and refusing (`ok = False`) what is not elementwise."""

    def __init__(self, bounds: dict[str, tuple[Term, Term]], facts: KernelFacts, covered: frozenset[Term]):
        self.bounds = bounds
        self.facts = facts
        self.covered = covered
        self.ok = True
        self.dims_seen: list[tuple[str, ...]] = []
        self.reads: list[Term] = []
        self.needs_test = False

    def expr(self, term: Term) -> tuple[Term, tuple[str, ...]] | None:
        op = term.op
        if op == "const":
            return (term, ()) if isinstance(term.value, (int, float, bool)) else None
        if op == "var":
            name = str(term.value)
            if name in self.bounds or self.facts.kind(name) not in _SCALAR_KINDS:
                return None  # a loop variable as a value, or an array used whole
            return term, ()
        if op == "index":
            self.reads.append(term)
            return self.access(term)
        if op in ("neg", "pos"):
            inner = self.expr(term.args[0])
            return None if inner is None else (Term(op, (inner[0],)), inner[1])
        if op in _ELEMENTWISE_BINARY or op in _COMPARE:
            return self._combine(op, term.args, None)
        if op == "call":
            func, args = term.args[0], term.args[1:]
            if any(a.op == "kw" for a in args):
                return None
            if func == var("abs") and len(args) == 1:
                return self._combine("call", args, func)
            if func.op == "attr" and func.args[0].op == "var" and str(func.args[0].value) in _NUMPY:
                arity = 1 if str(func.value) in _UFUNCS_1 else 2 if str(func.value) in _UFUNCS_2 else 0
                if arity and len(args) == arity:
                    return self._combine("call", args, func)
        return None

    def _combine(
        self, op: str, args: tuple[Term, ...], func: Term | None
    ) -> tuple[Term, tuple[str, ...]] | None:
        parts = [self.expr(a) for a in args]
        if any(p is None for p in parts):
            return None
        dims = max((p[1] for p in parts if p is not None), key=len)
        new_args = tuple(p[0] for p in parts if p is not None)
        if func is not None:
            return Term("call", (func, *new_args)), dims
        return Term(op, new_args), dims

    def access(self, term: Term) -> tuple[Term, tuple[str, ...]] | None:
        """`A[.., i + d, ..]` as `A[.., lo + d:hi + d, ..]` and its loop dimensions in order."""
        array = base_array(term)
        if array is None or array not in self.facts.array_dims:
            return None
        parts = index_parts(term)
        if len(parts) != len(self.facts.array_dims[array]):
            return None  # a row or a view, not one element
        new_parts: list[Term] = []
        dims: list[str] = []
        for part in parts:
            offset = _loop_offset(part, self.bounds)
            if offset is None:
                if names_read(part) & set(self.bounds) or not _invariant_subscript(part):
                    return None
                # the loop evaluates it only when it runs; a slice form would on an empty range too
                self.needs_test = True
                new_parts.append(part)
                continue
            name, c = offset
            if name in dims:
                return None  # the diagonal `A[i, i]` is not a slice
            if not nonnegative(part, self.facts):
                return None
            lo, hi = self.bounds[name]
            dims.append(name)
            start, stop = _plus(lo, c), _plus(hi, c)
            if not nonnegative(stop, self.facts):
                self.needs_test = True  # a negative stop would wrap: the slice needs `if lo < hi`
            new_parts.append(Term("slice", (NONE if start == const(0) else start, stop, NONE)))
        if dims and term not in self.covered:
            self.ok = False  # evaluated conditionally, or not covered by the bounds guard
        self.dims_seen.append(tuple(dims))
        index = new_parts[0] if len(new_parts) == 1 else Term("tuple", tuple(new_parts))
        return Term("index", (term.args[0], index)), tuple(dims)


def _loop_offset(part: Term, bounds: dict[str, tuple[Term, Term]]) -> tuple[str, int] | None:
    """`v`, `v + c`, `c + v` or `v - c` for a loop variable v and an int constant c."""
    if part.op == "var" and str(part.value) in bounds:
        return str(part.value), 0
    if part.op in ("add", "sub") and len(part.args) == 2:
        a, b = part.args
        if a.op == "var" and str(a.value) in bounds and _int_const(b) is not None:
            c = _int_const(b)
            assert c is not None
            return str(a.value), c if part.op == "add" else -c
        if part.op == "add" and b.op == "var" and str(b.value) in bounds and _int_const(a) is not None:
            c = _int_const(a)
            assert c is not None
            return str(b.value), c
    return None


def _int_const(term: Term) -> int | None:
    if term.op == "const" and isinstance(term.value, int) and not isinstance(term.value, bool):
        return term.value
    return None


def _invariant_subscript(part: Term) -> bool:
    """A subscript the loop does not change and evaluating it twice or zero times is harmless."""
    return part.op != "slice" and all(t.op not in ("call", "slice") for t in part.walk())


def _plus(bound: Term, c: int) -> Term:
    """`bound + c`, folded: `n - 1` plus 1 is `n`, not `n - 1 + 1`."""
    if c == 0:
        return bound
    base = _int_const(bound)
    if base is not None:
        return const(base + c)
    if bound.op in ("add", "sub") and (inner := _int_const(bound.args[1])) is not None:
        return _plus(bound.args[0], c + (inner if bound.op == "add" else -inner))
    return Term("add", (bound, const(c))) if c > 0 else Term("sub", (bound, const(-c)))


def _const_lt(lo: Term, hi: Term) -> bool:
    a, b = _int_const(lo), _int_const(hi)
    return a is not None and b is not None and a < b


def _suffix(dims: tuple[str, ...], target: tuple[str, ...]) -> bool:
    return not dims or target[len(target) - len(dims) :] == dims


def _unaliased_array(name: str, facts: KernelFacts) -> bool:
    """A parameter (overlaps are sent to the original by the dispatcher) or a fresh allocation."""
    in_params = name in facts.arg_types and facts.arg_types[name].kind == "array"
    return in_params or name in facts.fresh_arrays


# ---- np.sum(E) -> a loop -------------------------------------------------------------------------


def loop_sum_form(stmt: Term, ctx: PassContext) -> tuple[bool, Term] | None:
    """(exact?, the statement preceded by a loop that computes its first `np.sum(E)`), or None."""
    facts = ctx.facts
    body = ctx.body
    assert body is not None
    for call, expr in _eager_sums(stmt):
        converted = _SumElement(facts).convert(expr)
        if converted is None:
            continue
        element, arrays, kind = converted
        if not arrays or not _same_extent(arrays, body, facts):
            continue
        dtypes = {
            facts.arg_types[a].dtype if a in facts.arg_types else array_dtype(a, body, facts) for a in arrays
        }
        module = _numpy_alias(call, ctx)
        if module is None:
            continue
        # The accumulator starts as the NumPy scalar np.sum returns, not a Python number: the
        # two differ downstream (np.float64(0.0) / 0 is nan, 0.0 / 0 raises ZeroDivisionError).
        if kind == "bool" or (dtypes == {"int64"} and kind == "int"):
            exact, init = True, _numpy_scalar(module, "int64", const(0))
        elif dtypes == {"float64"}:
            exact, init = False, _numpy_scalar(module, "float64", const(0.0))
        else:
            continue
        taken = all_names(stmt)
        index = _fresh(ctx, ("i", "j", "k", "e", "idx"), expr, taken)
        stem = "count" if kind == "bool" else "sum"
        total = _fresh(ctx, (f"{arrays[0]}_{stem}", stem, "acc"), expr, taken | {index})
        first = sorted(arrays)[0]
        extent = Term("index", (Term("attr", (var(first),), "shape"), const(0)))
        element = replace_subterm(element, _SumElement.PLACEHOLDER, var(index))
        loop = for_range(
            index, const(0), extent, const(1), seq(Term("augassign", (var(total), element), "add"))
        )
        return exact, seq(Term("assign", (var(total), init)), loop, replace_subterm(stmt, call, var(total)))
    return None


def sums_a_temporary(body: Term) -> bool:
    """Does `body` sum an array expression (`np.sum(x * y)`, `(x > t).sum()`)? Such a kernel has
    no loop, but `vectorize.loop-sum` may give it one that skips the temporary."""
    for stmt in body.walk():
        for _, expr in _eager_sums(stmt):
            if expr.op != "var":
                return True
    return False


def _numpy_alias(call: Term, ctx: PassContext) -> str | None:
    """The name the kernel reaches NumPy by: the one `np.sum` was called through, else `np` or
    `numpy` when the kernel already uses it."""
    owner = call.args[0].args[0]
    if owner.op == "var" and str(owner.value) in _NUMPY:
        return str(owner.value)
    return next((m for m in sorted(_NUMPY) if m in ctx.names), None)


def _numpy_scalar(module: str, dtype: str, value: Term) -> Term:
    return Term("call", (Term("attr", (var(module),), dtype), value))


def _eager_sums(stmt: Term) -> Iterator[tuple[Term, Term]]:
    """(call, summed expression) for each `np.sum(E)` / `E.sum()` the statement always evaluates."""
    if stmt.op in ("assign", "augassign"):
        roots = [stmt.args[1]] + ([stmt.args[0]] if stmt.args[0].op == "index" else [])
    elif stmt.op in ("return", "expr") and stmt.args:
        roots = [stmt.args[0]]
    elif stmt.op == "if":
        roots = [stmt.args[0]]
    else:
        return
    stack = list(roots)
    while stack:
        term = stack.pop()
        if term.op in ("and", "or", "ifexp"):
            stack.append(term.args[0])  # only the first operand is always evaluated
            continue
        if term.op == "call" and not any(a.op == "kw" for a in term.args[1:]):
            func, args = term.args[0], term.args[1:]
            if func.op == "attr" and func.value == "sum":
                owner = func.args[0]
                if owner.op == "var" and str(owner.value) in _NUMPY and len(args) == 1:
                    yield term, args[0]
                    continue
                if not args and not (owner.op == "var" and str(owner.value) in _NUMPY):
                    yield term, owner
                    continue
        stack.extend(reversed(term.args))


class _SumElement:
    """E over whole 1-D arrays as E's element at a placeholder index, with the arrays it reads
    and its kind (float, int or bool)."""

    PLACEHOLDER = var("__element__")

    def __init__(self, facts: KernelFacts):
        self.facts = facts
        self.arrays: list[str] = []

    def convert(self, term: Term) -> tuple[Term, list[str], str] | None:
        found = self._expr(term)
        if found is None:
            return None
        return found[0], sorted(set(self.arrays)), found[1]

    def _expr(self, term: Term) -> tuple[Term, str] | None:
        op = term.op
        if op == "const":
            value = term.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            return term, "float" if isinstance(value, float) else "int"
        if op == "var":
            name = str(term.value)
            kind = self.facts.kind(name)
            if kind == "array":
                ndim = self._ndim(name)
                if ndim != 1:
                    return None
                self.arrays.append(name)
                dtype = self.facts.arg_types[name].dtype if name in self.facts.arg_types else "float64"
                return Term("index", (term, self.PLACEHOLDER)), "float" if dtype.startswith(
                    "float"
                ) else "int"
            if kind in ("int", "float"):
                return term, kind
            return None
        if op == "neg":
            inner = self._expr(term.args[0])
            return None if inner is None or inner[1] == "bool" else (Term("neg", (inner[0],)), inner[1])
        if op == "pow" and term.args[1] == const(2):
            # x ** 2 is x * x in both: NumPy squares arrays, Numba squares scalars
            base = self._expr(term.args[0])
            return None if base is None or base[1] == "bool" else (Term("pow", (base[0], const(2))), base[1])
        if op in ("add", "sub", "mul") or op in _COMPARE:
            a, b = self._expr(term.args[0]), self._expr(term.args[1])
            if a is None or b is None or "bool" in (a[1], b[1]):
                return None
            kind = "bool" if op in _COMPARE else ("float" if "float" in (a[1], b[1]) else "int")
            return Term(op, (a[0], b[0])), kind
        if op == "call" and len(term.args) == 2:
            func = term.args[0]
            is_abs = func == var("abs")
            is_ufunc = (
                func.op == "attr"
                and func.args[0].op == "var"
                and str(func.args[0].value) in _NUMPY
                and str(func.value) in _SUM_UFUNCS
            )
            inner = self._expr(term.args[1])
            if inner is None or inner[1] == "bool" or not (is_abs or is_ufunc):
                return None
            kind = "float" if func.op == "attr" and func.value == "sqrt" else inner[1]
            return Term("call", (func, inner[0])), kind
        return None

    def _ndim(self, name: str) -> int | None:
        if name in self.facts.arg_types:
            return self.facts.arg_types[name].ndim
        alloc = self.facts.allocations.get(name)
        return len(alloc) if isinstance(alloc, tuple) else None


def _same_extent(arrays: list[str], body: Term, facts: KernelFacts) -> bool:
    """One array, or arrays whose first dimension is provably the same size."""
    if len(arrays) == 1:
        return arrays[0] in facts.arg_types or arrays[0] in facts.fresh_arrays
    params = list(facts.arg_types)
    rebound = names_assigned(body)
    dims = [_array_dims(var(a), params, rebound, facts) for a in arrays]
    if any(d is None or len(d) != 1 for d in dims):
        return False
    return all(d == dims[0] for d in dims)


def _fresh(ctx: PassContext, choices: tuple[str, ...], seed: Term, taken: set[str]) -> str:
    """A name neither the kernel nor the rewritten statement uses (earlier rewrites add names)."""
    for name in choices:
        if name.isidentifier() and name not in ctx.names and name not in taken:
            return name
    return f"{choices[0]}_{hashlib.sha1(repr(seed).encode()).hexdigest()[:6]}"
