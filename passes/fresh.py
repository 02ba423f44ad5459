"""Store forwarding into a fresh allocation: `X = np.zeros(s); X += E` becomes `X = E`.

What
    `fresh.store`: in one block, an allocation `X = np.zeros(shape)` (`np.zeros(shape, dtype)`,
    `np.zeros_like(A)`, or `np.empty(shape)` / `np.empty_like(A)` followed by a fill of the whole
    array with zero, `X[:n, :p] = 0.0` or the loops `for i: for j: X[i, j] = 0.0`), then
    statements that never mention X, then `X += E`
    where E is a product `L @ R` (operands a name, its `.T`, a slice `B[:m]`, or another such
    product), possibly scaled (`alpha * (A @ B)`): the allocation and its fills are dropped and
    the update becomes `X = E`. The update may be the only statement of an `if` without an
    `else`, as `idioms.matmul` writes it when it slices an operand (`if n > 0 and p > 0:
    X += A @ B[:m]`); then the block becomes `if g: X = E` with `else: X = np.zeros(shape)`, the
    zeros the original returns when the guard is false. Such `if`s may nest, and an `else` may
    hold an update too (`if B.shape[1] == k: X += A @ B.T else: X += A @ B[:, :k].T`): every
    update becomes an assignment, every empty branch the zeros. The update may also store through a
    slice that covers the whole array (`X[:n, :p] += E`). It is the statement form idioms
    produces for `C = np.zeros((n, p)); for i, j, k: C[i, j] += A[i, k] * B[k, j]`, so gemm
    becomes `C = A @ B`. A statement whose e-class holds a group of statements (idioms' fill and
    update of the accumulator form, the loops `loops.distribute` makes of one) is read as that
    group when it mentions X, and spliced into the block: gemv's accumulator nest becomes
    `y = A @ x[:m]`, bicg's distributed nest `q = A @ p[:m]`.
Why faster
    `X += E` writes E into a temporary (Numba's `@` always returns a new array), then reads X and
    the temporary and writes X: besides the product it costs a zero fill of X and a pass of three
    streams over the result. `X = E` keeps the temporary as X: no fill, no pass, one allocation
    less. Measured in njit at n = 500 on the 2-core VM: `return A @ B` 4.6 ms,
    `C = np.zeros((500, 500)); C += A @ B` 7.0-7.7 ms. `bench/peers.py --threads 1` with this
    rule switched off and on, twice each, the VM at load 2-4: gemm (n = 500) 9.34 and 9.78 ms
    before, 6.42 and 6.62 ms after, NumPy 6.3-6.6 ms in the same runs.
    The analytic model sees less of it (a zero fill and one pass, 1.2 ms of 37.7 predicted for
    gemm at n = 1000): where the products dominate, as in two_mm at n = 1000, the difference falls
    inside the ranking's 1% tie and the original form, with fewer rewrites, is kept.
Legal when
    The allocation, the fills and the update are statements of one block, in that order, and no
    alternative of any statement between them, nor of E or of the guard, mentions X (so nothing
    reads the zeros, writes X, or binds another name to the array: the update is the first
    thing to see it, and X is the only name that refers to it); none of them holds a `break`,
    `continue` or `return`, which could skip the update and leave the zeros in X. E is a fresh
    array (a product, or a scalar times one; never a bare name, which `X = E` would alias). Its
    shape is proved equal to X's: each dimension of the result (rows of the left operand,
    columns of the right; `.T` swaps them; a slice `B[:m]` keeps B's other dimensions and
    leaves the sliced one unknown) and each size of the allocation resolve to the same
    `(array, dimension)` through the kernel's facts: `A.shape[d]`, `len(A)`, a size name bound
    once to one of those (`n, m = A.shape`), a fresh array's own allocation size, or the same
    int parameter; arrays read that way are fresh or never-rebound parameters, so the sizes
    are the same wherever they are evaluated. Then `X += E` adds E elementwise without
    broadcasting, and raises exactly where `X = E` raises (in E). Dtypes: operands both float64
    or both float32 (what Numba's `@` takes), and X's dtype that of E: the product's dtype, and
    float64 for a scaled product of float64 operands by an int or float scalar (a scaled
    float32 product may be float64 in Numba, so it refuses). Layout: Numba's `@` and the
    scaled product return new C-contiguous arrays, as `np.zeros` does, so X's Numba type (and
    with it the `if`/`else` join) is unchanged; NumPy's matmul also returns C-ordered results
    for Fortran-ordered and strided operands (checked), so the plain-NumPy target keeps the
    layout too. A fill covers the array: every subscript is a slice `:stop` whose stop is
    proved to be that dimension's size (or absent), with a constant zero value; a loop fill is a
    perfect nest of `range(0, size, 1)` loops, one per dimension of X, storing zero at X's element
    of the loop variables, none of them read after it. Under an `if`,
    the `else` allocates again with the allocation's own sizes, which no statement between
    rebinds.
Refuses when
    X is read or written between the allocation and the update (`Y = X` included), E or the
    guard reads X, the update is `-=` (or any other operator), a shape cannot be proved (an int
    parameter n against `A.shape[0]`, a sliced result dimension, a rebound array), the dtypes
    differ (float64 zeros with float32 operands, a float32 scaled product), the allocation has
    another keyword (`order="F"`) or is `np.ones`/`np.full`, an `np.empty` has no whole fill
    (or a fill covers part of the array, `X[:n - 1] = 0.0`), the `if` has an `else` or another
    statement, or a statement between can leave the block early.
Float safety
    `0.0 + x` is x for every float x except `x = -0.0`, where it is +0.0; E's elements may be
    -0.0 (a row of zeros times negative numbers) where the original stores +0.0. Both compare
    equal and differ only in the sign of a zero; the rule is tagged `reassoc` (verified within
    the default float policy's tolerance, refused under `--strict-fp`) like the `idioms.matmul`
    that produces its input. NaN and infinities pass through `0.0 + x` unchanged; a fill with
    -0.0 (accepted too) makes the rewrite exact, as -0.0 + x is x. `X -= E` is not rewritten:
    `0.0 - x` is `-x` only up to the sign of zero as well, but `X = -E` keeps a pass over the
    result (a negation instead of the subtraction); folding the sign into a scale is another
    rewrite, not made here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optcompiler.analysis import (
    NUMPY_MODULES,
    KernelFacts,
    call_name,
    index_parts,
    loop_nest,
    names_assigned,
    names_read,
)
from optcompiler.ir import Term, const, seq, var
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, ENode, Id, Rewrite, reaches, rule
from optcompiler.passes.idioms import BLAS_DTYPES, array_dtypes
from optcompiler.passes.idioms import dtype_name as any_dtype_name

NAME = "fresh"
PREVIEW = False
WHY = {
    "fresh.store": "X = np.zeros(shape); X += E with E a product of X's shape and dtype -> X = E "
    "(no zero fill, no extra pass; a -0.0 element stays -0.0)",
}

_MAX_BLOCKS = 8  # seq nodes of one class looked at, as loops.fuse does
_EXITS = frozenset({"break", "continue", "return"})

Size = tuple[object, ...]  # a canonical size: ("dim", array, d), ("int", n) or ("name", n)


@dataclass(frozen=True)
class Env:
    """What the proofs consult: facts, dtypes of arrays, and names the kernel ever rebinds."""

    facts: KernelFacts
    dtypes: Mapping[str, str]
    assigned: frozenset[str]  # every plain name bound anywhere in the kernel (params included)


@dataclass(frozen=True)
class Allocation:
    name: str
    sizes: tuple[Size, ...]
    dtype: str
    zeroed: bool  # np.zeros*: False for np.empty*, which needs a whole fill before the update
    zeros: Term  # the same allocation made with zeros, for the `else` of a guarded update


def env_of(body: Term, facts: KernelFacts) -> Env:
    return Env(facts, array_dtypes(body, facts), frozenset(names_assigned(body)))


def rules(ctx: PassContext) -> list[Rewrite]:
    envs: list[Env] = []

    def env() -> Env:
        if not envs:
            body = ctx.body if ctx.body is not None else Term("seq", ())
            envs.append(env_of(body, ctx.facts))
        return envs[0]

    def store(egraph: EGraph, id: Id, subst: dict[str, Id]) -> list[Term]:
        if ctx.body is None:
            return []  # the shape proofs read the kernel as written
        out: list[Term] = []
        blocks = [n for n in egraph.nodes(id) if n.op == "seq" and len(n.children) >= 2]
        for node in blocks[:_MAX_BLOCKS]:
            out += forwarded_blocks(egraph, node, env())
        return out

    return [rule("fresh.store", "(seq ...)", store, safety="reassoc")]


# ---- the block ----------------------------------------------------------------------------------


def forwarded_blocks(egraph: EGraph, block: ENode, env: Env) -> list[Term]:
    """The block with one allocation forwarded into its update, for each allocation that can be.

    A statement whose class holds a block of several (`loops.distribute` makes two loops of one,
    `idioms` a fill and an update of a nest) is read as those statements when it mentions X: the
    forwarded block splices them in, which is what running that block in place does.
    """
    children = [egraph.find(c) for c in block.children]
    out: list[Term] = []
    for a, child in enumerate(children):
        allocation = next(
            (found for n in egraph.nodes(child) if (found := _allocation_node(egraph, n, env)) is not None),
            None,
        )
        x = egraph.lookup(ENode("var", allocation.name)) if allocation is not None else None
        if allocation is None or x is None:
            continue
        found = _scan(egraph, allocation, x, env, children[a + 1 :], [], False, [0])
        if found is not None:
            scanned, update, rest = found
            terms = [egraph.extract_term(k) for k in (*children[:a], *scanned)]
            out.append(seq(*terms, update, *(egraph.extract_term(k) for k in rest)))
    return out


_MAX_SCANS = 64  # statement groups tried per allocation: distribution offers a few per loop


def _scan(
    egraph: EGraph,
    allocation: Allocation,
    x: Id,
    env: Env,
    pending: list[Id],
    scanned: list[Id],
    filled: bool,
    budget: list[int],
) -> tuple[list[Id], Term, list[Id]] | None:
    """(statements kept before the update, the update as an assignment, statements after it)."""
    budget[0] += 1
    if budget[0] > _MAX_SCANS:
        return None
    pending, scanned = list(pending), list(scanned)
    while pending:
        c = pending.pop(0)
        if any(_whole_fill(egraph, n, allocation, env) for n in egraph.nodes(c)):
            filled = True
            continue
        update = _update(egraph, c, allocation, x, env) if allocation.zeroed or filled else None
        if update is not None:
            return scanned, update, pending
        if reaches(egraph, c, x):
            for group in (n for n in egraph.nodes(c) if n.op == "seq" and n.children):
                inner = [egraph.find(k) for k in group.children]
                found = _scan(egraph, allocation, x, env, inner + pending, scanned, filled, budget)
                if found is not None:
                    return found
            return None
        term = egraph.extract_term(c)
        if _exits(term) or names_assigned(term) & names_read(allocation.zeros):
            return None  # may skip the update; would make the `else` allocate with other sizes
        scanned.append(c)
    return None


def _update(egraph: EGraph, cls: Id, allocation: Allocation, x: Id, env: Env, depth: int = 0) -> Term | None:
    """`X = E` for a class holding `X += E`. For an `if` whose condition does not read X and whose
    branches are each empty or one such statement (an `if` again: idioms nests one to use an
    operand unsliced when the slice covers it), the same `if` with `X = E` for each update and
    `X = np.zeros(shape)` for each empty branch, the zeros the original leaves there."""
    for node in egraph.nodes(cls):
        if node.op == "augassign":
            value = _forwarded_value(egraph, node, allocation, x, env)
            if value is not None:
                return Term("assign", (var(allocation.name), value))
        if node.op == "if" and depth < _MAX_DEPTH and not reaches(egraph, node.children[0], x):
            zeros = Term("assign", (var(allocation.name), allocation.zeros))
            then, orelse = (_branch(egraph, b, allocation, x, env, depth) for b in node.children[1:])
            if then is not None and orelse is not None and (then, orelse) != (zeros, zeros):
                return Term("if", (egraph.extract_term(node.children[0]), seq(then), seq(orelse)))
    return None


_MAX_DEPTH = 4  # ifs nested around one update


def _branch(egraph: EGraph, block: Id, allocation: Allocation, x: Id, env: Env, depth: int) -> Term | None:
    """An `if`'s block as the one statement that replaces it: the zeros for an empty block."""
    for node in egraph.nodes(block):
        if node.op == "seq" and not node.children:
            return Term("assign", (var(allocation.name), allocation.zeros))
        if node.op == "seq" and len(node.children) == 1:
            found = _update(egraph, node.children[0], allocation, x, env, depth + 1)
            if found is not None:
                return found
    return None


def _forwarded_value(egraph: EGraph, node: ENode, allocation: Allocation, x: Id, env: Env) -> Term | None:
    """E, for `X += E` (or `X[:n, :p] += E` over the whole array) that may become `X = E`."""
    if node.op != "augassign" or node.value != "add":
        return None
    target, value = node.children
    if reaches(egraph, value, x):
        return None
    whole = any(
        (n.op == "var" and n.value == allocation.name) or _covers(egraph, n, allocation, env)
        for n in egraph.nodes(target)
    )
    if not whole:
        return None
    term = egraph.extract_term(value)
    result = product_type(term, env)
    if result is None or result[0] != allocation.sizes or result[1] != allocation.dtype:
        return None
    return term


def _exits(term: Term) -> bool:
    return any(t.op in _EXITS for t in term.walk())


# ---- allocations and fills ----------------------------------------------------------------------


def _allocation_node(egraph: EGraph, node: ENode, env: Env) -> Allocation | None:
    if node.op != "assign" or not any(n.op == "var" for n in egraph.nodes(node.children[0])):
        return None
    target = egraph.extract_term(node.children[0])
    return allocation_of(target, egraph.extract_term(node.children[1]), env) if target.op == "var" else None


def allocation_of(target: Term, value: Term, env: Env) -> Allocation | None:
    """`X = np.zeros(shape[, dtype])`, `np.empty(...)`, `np.zeros_like(A)`, `np.empty_like(A)`
    with every size proved (`size_of`) and a float64 or float32 dtype; None otherwise."""
    name = call_name(value)
    if name is None or target.op != "var":
        return None
    module, _, func = name.rpartition(".")
    if module not in NUMPY_MODULES or func not in ("zeros", "empty", "zeros_like", "empty_like"):
        return None
    positional = [a for a in value.args[1:] if a.op != "kw"]
    keywords = [a for a in value.args[1:] if a.op == "kw"]
    if any(k.value != "dtype" for k in keywords) or not 1 <= len(positional) + len(keywords) <= 2:
        return None
    if not positional:
        return None
    explicit = positional[1] if len(positional) == 2 else (keywords[0].args[0] if keywords else None)
    first = positional[0]
    if func.endswith("_like"):
        if first.op != "var" or not _stable_array(str(first.value), env):
            return None
        array = str(first.value)
        sizes = tuple(_canonical((array, d), env) for d in range(_rank(array, env)))
        dtype = dtype_name(explicit) if explicit is not None else env.dtypes.get(array)
    else:
        if first.op == "attr" and first.value == "shape" and first.args[0].op == "var":
            array = str(first.args[0].value)
            if not _stable_array(array, env):
                return None
            sizes = tuple(_canonical((array, d), env) for d in range(_rank(array, env)))
        else:
            parts = first.args if first.op == "tuple" else (first,)
            sizes = tuple(size_of(p, env) for p in parts)  # type: ignore[misc]
        dtype = "float64" if explicit is None else dtype_name(explicit)
    if not sizes or any(s is None for s in sizes) or dtype not in BLAS_DTYPES:
        return None
    zeros_func = Term("attr", (value.args[0].args[0],), func.replace("empty", "zeros"))
    zeros = Term("call", (zeros_func, *value.args[1:]))
    return Allocation(str(target.value), sizes, str(dtype), func.startswith("zeros"), zeros)


def _whole_fill(egraph: EGraph, node: ENode, allocation: Allocation, env: Env) -> bool:
    """`X[:n, :p] = 0.0` (or `X[:] = 0`) over every element of X, or the loops that store it."""
    if node.op == "for":
        loop = Term("for", tuple(egraph.extract_term(c) for c in node.children), node.value)
        return loop_fill(loop, allocation, env)
    if node.op != "assign":
        return False
    zero = any(_is_zero(Term(n.op, (), n.value)) for n in egraph.nodes(node.children[1]) if n.op == "const")
    return zero and any(_covers(egraph, n, allocation, env) for n in egraph.nodes(node.children[0]))


def loop_fill(loop: Term, allocation: Allocation, env: Env) -> bool:
    """`for i in range(n): for j in range(p): X[i, j] = 0.0`: a perfect nest storing a constant
    zero at X's element of its loop variables, each variable a whole `range(0, size, 1)` of the
    dimension it indexes (any loop order), none read after the nest (dropping the nest would
    leave it unbound or with another value)."""
    nest = loop_nest(loop)
    body = nest[-1].args[4] if nest else loop
    if not nest or body.op != "seq" or len(body.args) != 1 or body.args[0].op != "assign":
        return False
    target, value = body.args[0].args
    if not _is_zero(value) or target.op != "index" or target.args[0] != var(allocation.name):
        return False
    stops: dict[str, Term] = {}
    for level in nest:
        v, lo, hi, step = level.args[:4]
        if level.value not in ("range", "prange") or lo != const(0) or step != const(1):
            return False
        stops[str(v.value)] = hi
    parts = index_parts(target)
    if len(parts) != len(allocation.sizes) or len(stops) != len(nest) or len(parts) != len(nest):
        return False
    for part, size in zip(parts, allocation.sizes, strict=True):
        if part.op != "var" or str(part.value) not in stops or size_of(stops[str(part.value)], env) != size:
            return False
    if len({str(p.value) for p in parts}) != len(parts):
        return False  # X[i, i] = 0.0 stores the diagonal only
    return not any(v in env.facts.escaping.get(w, frozenset()) for v in stops for w in stops)


def _is_zero(term: Term) -> bool:
    return term.op == "const" and type(term.value) in (int, float) and term.value == 0


def _covers(egraph: EGraph, node: ENode, allocation: Allocation, env: Env) -> bool:
    if node.op != "index":
        return False
    term = Term("index", tuple(egraph.extract_term(c) for c in node.children))
    return covers(term, allocation, env)


def covers(target: Term, allocation: Allocation, env: Env) -> bool:
    """Is `target` X indexed by `:stop` slices that span every dimension of X?"""
    if target.op != "index" or target.args[0] != var(allocation.name):
        return False
    parts = index_parts(target)
    if len(parts) > len(allocation.sizes):
        return False
    for part, size in zip(parts, allocation.sizes, strict=False):
        if (
            part.op != "slice"
            or part.args[0] != Term("const", (), None)
            or part.args[2] != Term("const", (), None)
        ):
            return False
        stop = part.args[1]
        if stop != Term("const", (), None) and size_of(stop, env) != size:
            return False
    return True


# ---- shapes and dtypes --------------------------------------------------------------------------


def product_type(term: Term, env: Env) -> tuple[tuple[Size, ...], str] | None:
    """(sizes, dtype) of a product `L @ R`, possibly scaled, with every result size proved; None
    for anything else (a bare name or a view would be aliased by `X = E`)."""
    if term.op == "mul":
        left, right = term.args
        inner, scale = (right, left) if _scalar(left, env) else (left, right)
        if not _scalar(scale, env):
            return None
        found = product_type(inner, env)
        if found is None or found[1] != "float64":
            return None  # a scalar times a float32 product may be float64 in Numba
        return found
    if term.op != "matmul":
        return None
    left, right = (_operand(t, env) for t in term.args)
    if left is None or right is None or left[1] != right[1] or left[1] not in BLAS_DTYPES:
        return None
    (ls, dtype), (rs, _) = left, right
    if len(ls) == 2 and len(rs) == 2:
        sizes = (ls[0], rs[1])
    elif len(ls) == 2 and len(rs) == 1:
        sizes = (ls[0],)
    elif len(ls) == 1 and len(rs) == 2:
        sizes = (rs[1],)
    else:
        return None  # a dot product is a scalar
    if any(s is None for s in sizes):
        return None
    return sizes, dtype  # type: ignore[return-value]


def _operand(term: Term, env: Env) -> tuple[tuple[Size | None, ...], str] | None:
    """Sizes (None where unknown) and dtype of an operand of `@`."""
    if term.op in ("matmul", "mul"):
        return product_type(term, env)
    if term.op == "attr" and term.value == "T":
        inner = _operand(term.args[0], env)
        return None if inner is None else (tuple(reversed(inner[0])), inner[1])
    if term.op == "var":
        name = str(term.value)
        if not _stable_array(name, env) or name not in env.dtypes:
            return None
        return tuple(_canonical((name, d), env) for d in range(_rank(name, env))), env.dtypes[name]
    if term.op == "index" and term.args[0].op == "var":
        base = _operand(term.args[0], env)
        parts = index_parts(term)
        if base is None or len(parts) > len(base[0]):
            return None
        sizes = list(base[0])
        for d, part in enumerate(parts):
            if part.op != "slice" or part.args[0] != Term("const", (), None):
                return None  # an element or a start: another rank or another extent
            if part.args[2] != Term("const", (), None):
                return None
            stop = part.args[1]
            if stop != Term("const", (), None) and size_of(stop, env) != sizes[d]:
                sizes[d] = None  # B[:m]: min(m, B.shape[0]) rows
        return tuple(sizes), base[1]
    return None


def _scalar(term: Term, env: Env) -> bool:
    if term.op == "const":
        return type(term.value) in (int, float)
    return term.op == "var" and env.facts.kind(str(term.value)) in ("int", "float")


def _rank(array: str, env: Env) -> int:
    return len(env.facts.array_dims.get(array, ()))


def _stable_array(name: str, env: Env) -> bool:
    """An array of known rank that is a fresh local (bound once, to an allocation whose sizes
    `_canonical` reads) or a parameter the kernel never rebinds."""
    if _rank(name, env) == 0:
        return False
    if name in env.facts.fresh_arrays:
        return True
    arg = env.facts.arg_types.get(name)
    return arg is not None and arg.kind == "array" and name not in env.assigned


def _canonical(dim: tuple[str, int], env: Env, depth: int = 0) -> Size | None:
    """One name for the size of `array`'s dimension d: a parameter's own, a fresh array's that of
    its allocation. A fresh array allocated with a size that is not one of those (`np.zeros(t)`
    in a loop over t) has no name: bound once in the text, it may have another shape each time
    the allocation runs, and `n = A.shape[0]` may have read an earlier one."""
    array, d = dim
    if not _stable_array(array, env) or depth >= 8:
        return None
    if array not in env.facts.fresh_arrays:
        return ("dim", array, d)  # a parameter the kernel never rebinds
    shape = env.facts.allocations.get(array)
    if isinstance(shape, str):
        return _canonical((shape, d), env, depth + 1)
    if isinstance(shape, tuple) and d < len(shape):
        return size_of(shape[d], env, depth + 1)
    return None


def size_of(term: Term, env: Env, depth: int = 0) -> Size | None:
    """The canonical size `term` evaluates to, wherever in the kernel it is evaluated, or None."""
    if term.op == "const" and type(term.value) is int:
        return ("int", term.value)
    source = _shape_term(term)
    if source is not None:
        return _canonical(source, env, depth)
    if term.op == "var":
        name = str(term.value)
        if name in env.facts.size_sources:  # bound once, to `A.shape[d]` or `len(A)`
            return _canonical(env.facts.size_sources[name], env, depth)
        if env.facts.kind(name) == "int" and name in env.facts.arg_types and name not in env.assigned:
            return ("name", name)
    return None


def _shape_term(term: Term) -> tuple[str, int] | None:
    """(A, d) for `A.shape[d]` or `len(A)`."""
    if term.op == "index" and term.args[0].op == "attr" and term.args[0].value == "shape":
        array, dim = term.args[0].args[0], term.args[1]
        if array.op == "var" and dim.op == "const" and type(dim.value) is int and dim.value >= 0:
            return str(array.value), int(dim.value)
    if call_name(term) == "len" and len(term.args) == 2 and term.args[1].op == "var":
        return str(term.args[1].value), 0
    return None


def dtype_name(term: Term) -> str | None:
    """`np.float32`, `numpy.float64`, `float` -> the dtype name; anything but a BLAS float None."""
    name = any_dtype_name(term)
    return name if name in BLAS_DTYPES else None


def forward_statements(stmts: Sequence[Term], env: Env) -> Term | None:
    """The rule on a plain block (no e-graph): for tests and tools. The first forwarding, or None."""
    egraph = EGraph()
    root = egraph.add_term(seq(*stmts))
    block = next(n for n in egraph.nodes(root) if n.op == "seq")
    found = forwarded_blocks(egraph, block, env)
    return found[0] if found else None
