"""Analyses over kernel IR: types, shapes, purity, aliasing, invariance and loop dependences.

Rules ask these questions instead of reading syntax. Every answer is conservative: when an
analysis cannot prove a fact it says no, and the rule that needed it does not fire.

Dependence testing follows the classic affine subscript tests (Allen & Kennedy): each subscript
is split into integer coefficients over the loop variables, a constant, and a symbolic
remainder of loop-invariant names. Equal coefficients on a single loop variable give an exact
distance (SIV); differing constants with no loop variable prove independence (ZIV); a GCD
test proves independence of coupled subscripts; everything else is "any direction" ('*').
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import product

from optcompiler.ir import ArgType, Kernel, Term

ANON_DIM = "_"  # size symbol of a dimension nothing names; shared, so unknown dims default to one size

# Functions whose calls have no side effects and whose result depends only on their arguments.
PURE_MODULE_FUNCS = frozenset(
    {
        "sqrt",
        "exp",
        "log",
        "log2",
        "log10",
        "log1p",
        "expm1",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "atan2",
        "sinh",
        "cosh",
        "tanh",
        "arcsin",
        "arccos",
        "arctan",
        "arctan2",
        "floor",
        "ceil",
        "trunc",
        "fabs",
        "abs",
        "absolute",
        "hypot",
        "pow",
        "power",
        "isnan",
        "isinf",
        "isfinite",
        "copysign",
        "erf",
        "erfc",
        "gamma",
        "lgamma",
        "minimum",
        "maximum",
        "fmin",
        "fmax",
        "sign",
        "square",
        "float64",
        "float32",
        "int64",
        "int32",
        "exp2",
        "cbrt",
        "radians",
        "degrees",
    }
)
PURE_BUILTINS = frozenset({"abs", "min", "max", "float", "int", "bool", "len", "round"})
ALLOCATORS = frozenset({"zeros", "ones", "empty", "full"})
LIKE_ALLOCATORS = frozenset({"zeros_like", "ones_like", "empty_like", "full_like", "copy"})
NUMPY_MODULES = frozenset({"np", "numpy"})
MATH_MODULES = frozenset({"math", "np", "numpy"})


# ---- small term helpers ------------------------------------------------------------------------


def dotted_name(term: Term) -> str | None:
    """`np.linalg.norm` for attr chains over a var, the name for a var, else None."""
    if term.op == "var":
        return str(term.value)
    if term.op == "attr":
        base = dotted_name(term.args[0])
        return None if base is None else f"{base}.{term.value}"
    return None


def call_name(term: Term) -> str | None:
    return dotted_name(term.args[0]) if term.op == "call" else None


def names_read(term: Term) -> set[str]:
    """Variable names read anywhere in `term` (assignment targets that are plain names excluded)."""
    out: set[str] = set()
    _collect_reads(term, out)
    return out


def _collect_reads(term: Term, out: set[str]) -> None:
    if term.op == "var":
        out.add(str(term.value))
        return
    if term.op in ("assign", "augassign"):
        target, value = term.args
        _collect_target_reads(target, out)
        if term.op == "augassign":
            _collect_reads(target, out)
        _collect_reads(value, out)
        return
    if term.op == "for":
        for child in term.args[1:]:
            _collect_reads(child, out)
        return
    for child in term.args:
        _collect_reads(child, out)


def _collect_target_reads(target: Term, out: set[str]) -> None:
    if target.op == "index":
        _collect_reads(target, out)
    elif target.op == "tuple":
        for elt in target.args:
            _collect_target_reads(elt, out)


def names_assigned(term: Term) -> set[str]:
    """Plain names bound anywhere in `term`: assignment targets and loop variables."""
    out: set[str] = set()
    for node in term.walk():
        if node.op in ("assign", "augassign"):
            _collect_bound(node.args[0], out)
        elif node.op == "for":
            out.add(str(node.args[0].value))
    return out


def _collect_bound(target: Term, out: set[str]) -> None:
    if target.op == "var":
        out.add(str(target.value))
    elif target.op == "tuple":
        for elt in target.args:
            _collect_bound(elt, out)


def all_names(term: Term) -> set[str]:
    return {str(t.value) for t in term.walk() if t.op == "var"}


def index_parts(term: Term) -> tuple[Term, ...]:
    """The subscripts of an `index` term as a tuple (one per dimension used)."""
    idx = term.args[1]
    return idx.args if idx.op == "tuple" else (idx,)


def base_array(term: Term) -> str | None:
    """Name of the array an index term reads or writes (`A` in `A[i, j]`), if it is a plain name."""
    base = term.args[0]
    return str(base.value) if base.op == "var" else None


def has_early_exit(term: Term) -> bool:
    return any(t.op in ("break", "return") for t in term.walk())


def contains_loop(term: Term) -> bool:
    return any(t.op in ("for", "while") for t in term.walk())


def loop_nest(term: Term) -> list[Term]:
    """The perfectly nested `for` loops starting at `term` (outermost first)."""
    nest: list[Term] = []
    while term.op == "for":
        nest.append(term)
        body = term.args[4]
        if body.op == "seq" and len(body.args) == 1:
            body = body.args[0]
        term = body
    return nest


def loop_body(loop: Term) -> Term:
    return loop.args[4]


def loop_var(loop: Term) -> str:
    return str(loop.args[0].value)


def is_pure_call(term: Term) -> bool:
    name = call_name(term)
    if name is None:
        return False
    if name in PURE_BUILTINS:
        return True
    module, _, func = name.rpartition(".")
    return module in MATH_MODULES and func in PURE_MODULE_FUNCS


def is_pure_expr(term: Term) -> bool:
    """No calls except known-pure math; no side effects at all."""
    return all(t.op != "call" or is_pure_call(t) for t in term.walk())


# ---- accesses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    array: str
    indices: tuple[Term, ...]
    is_write: bool
    term: Term


def accesses(term: Term) -> list[Access]:
    """Every array element read and write in `term`, in evaluation order (reads of an update first)."""
    out: list[Access] = []
    _collect_accesses(term, out)
    return out


def _collect_accesses(term: Term, out: list[Access]) -> None:
    op = term.op
    if op in ("assign", "augassign"):
        target, value = term.args
        _collect_accesses(value, out)
        for tgt in target.args if target.op == "tuple" else (target,):
            if tgt.op == "index":
                for part in index_parts(tgt):
                    _collect_accesses(part, out)
                name = base_array(tgt)
                if name is not None:
                    if op == "augassign":
                        out.append(Access(name, index_parts(tgt), False, tgt))
                    out.append(Access(name, index_parts(tgt), True, tgt))
        return
    if op == "index":
        for part in index_parts(term):
            _collect_accesses(part, out)
        name = base_array(term)
        if name is not None:
            out.append(Access(name, index_parts(term), False, term))
        else:
            _collect_accesses(term.args[0], out)
        return
    for child in term.args:
        _collect_accesses(child, out)


def arrays_written(term: Term) -> set[str]:
    return {a.array for a in accesses(term) if a.is_write}


def arrays_read(term: Term) -> set[str]:
    return {a.array for a in accesses(term) if not a.is_write}


# ---- kernel facts ------------------------------------------------------------------------------

Kind = str  # "int" | "float" | "bool" | "array" | "tuple" | "unknown"


@dataclass(frozen=True)
class KernelFacts:
    """Facts about one kernel that hold for every equivalent variant of its body."""

    arg_types: Mapping[str, ArgType]
    local_kinds: Mapping[str, Kind]
    array_dims: Mapping[str, tuple[str, ...]]  # size symbol per dimension, params and fresh locals
    fresh_arrays: frozenset[str]  # locals bound once to a new allocation: they alias nothing
    written_params: frozenset[str]
    in_bounds: frozenset[
        tuple[str, str, int]
    ]  # (loop var, array, dim): every value of var indexes dim in range
    escaping: Mapping[
        str, frozenset[str]
    ]  # loop var -> names assigned inside loops over it and read outside them
    size_symbols: tuple[str, ...]
    int_params: frozenset[str] = field(default_factory=frozenset)
    # loop var -> its (start, stop, step), for loop vars bound by one range only and never assigned
    loop_bounds: Mapping[str, tuple[Term, Term, Term]] = field(default_factory=dict)
    sizes: frozenset[str] = field(default_factory=frozenset)  # names bound once to a len or a shape
    size_sources: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # size name -> (array, dim)
    allocations: Mapping[str, tuple[Term, ...] | str] = field(default_factory=dict)  # fresh array -> shape
    # loop vars whose loops all step down by a constant (their iterations run from high to low),
    # and those whose direction is unknown (a variable step, or loops of both directions)
    descending: frozenset[str] = field(default_factory=frozenset)
    unordered: frozenset[str] = field(default_factory=frozenset)
    # (a, b) with a <= b wherever these facts are used: a loop body runs only when its range is
    # non-empty, so inside `for v in range(lo, hi)` lo <= hi - 1. Only the facts `_with_loop_range`
    # scopes to a loop body carry any; they tighten outer variables (i <= n - 2 inside
    # `for j in range(i + 1, n)`), which interval reasoning over each range alone loses.
    ordered: tuple[tuple[Term, Term], ...] = ()
    # scalar -> (array name, loop var, allocation): a float scalar each iteration of the loop over
    # `var` sets before the statements after it read it, which loop distribution may expand into
    # an element per iteration (`_expansion_candidates`); the arrays count as fresh allocations
    expansions: Mapping[str, tuple[str, str, Term]] = field(default_factory=dict)

    def kind(self, name: str) -> Kind:
        if name in self.arg_types:
            at = self.arg_types[name]
            return "array" if at.kind == "array" else at.kind
        return self.local_kinds.get(name, "unknown")

    def may_alias(self, a: str, b: str) -> bool:
        """Could arrays `a` and `b` share memory? Params may (the emitted code guards it); fresh locals never."""
        if a == b:
            return True
        return not (a in self.fresh_arrays or b in self.fresh_arrays)

    @property
    def array_params(self) -> tuple[str, ...]:
        return tuple(n for n, t in self.arg_types.items() if t.kind == "array")


_ANNOTATION_DTYPES = {
    "float64": "float64",
    "float32": "float32",
    "float_": "float64",
    "double": "float64",
    "int64": "int64",
    "int32": "int32",
    "intp": "int64",
    "int_": "int64",
    "bool_": "bool",
    "complex128": "complex128",
    "uint8": "uint8",
}


def parse_type_hint(text: str) -> ArgType | None:
    """Numba-style type strings from config: `float64[:, :]`, `int64[:]`, `float64`, `int`, `float`."""
    text = text.strip()
    match = re.fullmatch(r"(\w+)\s*\[([:,\s]*)\]", text)
    if match:
        dtype = _ANNOTATION_DTYPES.get(match.group(1), match.group(1))
        return ArgType("array", dtype, match.group(2).count(":"))
    if text in ("float", "float64", "double"):
        return ArgType("float", "float64")
    if text == "float32":
        return ArgType("float", "float32")
    if text in ("int", "int64", "intp"):
        return ArgType("int", "int64")
    if text == "bool":
        return ArgType("bool", "bool")
    return None


def _annotation_type(annotation: str | None) -> ArgType | None:
    if annotation is None:
        return None
    text = annotation.replace(" ", "")
    if text in ("float", "int", "bool"):
        return parse_type_hint(text)
    if "ndarray" in text or "NDArray" in text or "ArrayLike" in text:
        for key, value in _ANNOTATION_DTYPES.items():
            if re.search(rf"\b{key}\b", text):
                return ArgType("array", value, 0)
        return ArgType("array", "", 0)  # dtype not stated: inferred from use
    return None


def analyze(kernel: Kernel, hints: Mapping[str, str] | None = None) -> KernelFacts:
    """Infer argument types, shapes and the kernel-wide facts the rule sets consult."""
    hints = hints or {}
    body = kernel.body
    params = [p.name for p in kernel.params]

    ndims: dict[str, int] = {}
    for acc in accesses(body):
        used = [part for part in acc.indices if not (part.op == "const" and part.value is None)]  # newaxis
        ndims[acc.array] = max(ndims.get(acc.array, 0), len(used))
    shape_of: dict[str, tuple[str, int]] = {}  # local size name -> (array, dim)
    for stmt in body.walk():
        if stmt.op != "assign":
            continue
        target, value = stmt.args
        if (
            target.op == "tuple"
            and value.op == "attr"
            and value.value == "shape"
            and value.args[0].op == "var"
        ):
            arr = str(value.args[0].value)
            ndims[arr] = max(ndims.get(arr, 0), len(target.args))
            for d, elt in enumerate(target.args):
                if elt.op == "var":
                    shape_of[str(elt.value)] = (arr, d)
        elif target.op == "var":
            src = _shape_source(value)
            if src is not None:
                ndims[src[0]] = max(ndims.get(src[0], 0), src[1] + 1)
                shape_of[str(target.value)] = src

    assign_counts: dict[str, int] = {}
    for name in _assignment_sequence(body):
        assign_counts[name] = assign_counts.get(name, 0) + 1
    # `d = w.copy()` (or `np.zeros_like(w)`, bound once) has w's rank: `d[i, j]` makes w 2-D too
    for stmt in body.walk():
        if stmt.op == "assign" and stmt.args[0].op == "var":
            name = str(stmt.args[0].value)
            source = _allocation_shape(stmt.args[1])
            if isinstance(source, str) and assign_counts.get(name) == 1 and name in ndims:
                ndims[source] = max(ndims.get(source, 0), ndims[name])

    # argument types: config hint > annotation > usage; arrays whose elements serve as subscripts
    # or loop bounds hold integers (CSR index arrays), any other array of unstated dtype float64
    int_used = _arrays_used_as_integers(body)
    arg_types: dict[str, ArgType] = {}
    loop_bound_names = {str(t.args[2].value) for t in body.walk() if t.op == "for" and t.args[2].op == "var"}
    for p in kernel.params:
        hinted = parse_type_hint(hints[p.name]) if p.name in hints else None
        at = hinted or _annotation_type(p.annotation)
        if at is None:
            if p.name in ndims or any(src[0] == p.name for src in shape_of.values()):
                at = ArgType("array", "", 0)
            elif p.name in loop_bound_names:
                at = ArgType("int", "int64")
            else:
                at = ArgType("float", "float64")
        if at.kind == "array" and not at.dtype:
            at = ArgType("array", "int64" if p.name in int_used else "float64", at.ndim)
        if at.kind == "array" and at.ndim == 0:
            at = ArgType("array", at.dtype, max(ndims.get(p.name, 1), 1))
        arg_types[p.name] = at

    # fresh local arrays and their dims
    fresh: dict[str, tuple[Term, ...] | str] = {}
    for stmt in body.walk():
        if stmt.op == "assign" and stmt.args[0].op == "var":
            name = str(stmt.args[0].value)
            alloc = _allocation_shape(stmt.args[1])
            if alloc is not None and assign_counts.get(name) == 1 and name not in params:
                fresh[name] = alloc

    dims: dict[str, list[str]] = {}
    for name, at in arg_types.items():
        if at.kind == "array":
            dims[name] = [ANON_DIM] * at.ndim
    for local, (arr, d) in shape_of.items():
        if arr in dims and d < len(dims[arr]) and assign_counts.get(local) == 1:
            dims[arr][d] = local
    for name, alloc in fresh.items():
        if isinstance(alloc, str):
            dims[name] = list(dims.get(alloc, [ANON_DIM] * ndims.get(name, 1)))
        else:
            dims[name] = [_symbol_of(e, shape_of, dims) for e in alloc]
    int_params = {n for n, t in arg_types.items() if t.kind == "int"}
    loop_ranges = _loop_ranges(body)
    for _ in range(3):  # propagate symbols through `x[j]` with `j in range(m)`
        for acc in accesses(body):
            if acc.array not in dims:
                continue
            for d, idx in enumerate(acc.indices[: len(dims[acc.array])]):
                if dims[acc.array][d] != ANON_DIM or idx.op != "var":
                    continue
                for lo, hi, step in loop_ranges.get(str(idx.value), []):
                    if _is_zero(lo) and _is_one(step) and hi.op == "var":
                        sym = _symbol_of(hi, shape_of, dims)
                        if sym != ANON_DIM:
                            dims[acc.array][d] = sym
    if any(t.kind == "array" for t in arg_types.values()):
        arg_types = {
            n: (ArgType(t.kind, t.dtype, t.ndim, tuple(dims[n])) if t.kind == "array" else t)
            for n, t in arg_types.items()
        }

    local_kinds = _infer_local_kinds(body, arg_types, set(fresh))
    sizes = {n for n in shape_of if assign_counts.get(n) == 1}
    expansions = _expansion_candidates(body, params, arg_types, local_kinds, sizes)
    for array, _, alloc in expansions.values():
        fresh[array] = (alloc.args[1],)
        dims[array] = [_symbol_of(alloc.args[1], shape_of, dims)]
        local_kinds[array] = "array"
    in_bounds = _in_bounds_facts(body, loop_ranges, shape_of, fresh, assign_counts)
    symbols = sorted(
        {s for ds in dims.values() for s in ds} | {n for n in int_params if n in loop_bound_names}
    )
    written = {a for a in arrays_written(body) if a in arg_types}
    return KernelFacts(
        arg_types=arg_types,
        local_kinds=local_kinds,
        array_dims={k: tuple(v) for k, v in dims.items()},
        fresh_arrays=frozenset(fresh),
        written_params=frozenset(written),
        in_bounds=frozenset(in_bounds),
        escaping=_escaping_names(body),
        size_symbols=tuple(symbols),
        int_params=frozenset(int_params),
        descending=frozenset(v for v, rs in loop_ranges.items() if _directions(rs) == {"down"}),
        unordered=frozenset(
            v for v, rs in loop_ranges.items() if len(_directions(rs)) != 1 or "?" in _directions(rs)
        ),
        loop_bounds={
            v: ranges[0]
            for v, ranges in loop_ranges.items()
            if len(set(ranges)) == 1 and assign_counts.get(v, 0) == len(ranges)
        },
        sizes=frozenset(n for n in shape_of if assign_counts.get(n) == 1),
        size_sources={n: src for n, src in shape_of.items() if assign_counts.get(n) == 1},
        allocations=dict(fresh),
        expansions=expansions,
    )


def _expansion_candidates(
    body: Term,
    params: Sequence[str],
    arg_types: Mapping[str, ArgType],
    kinds: Mapping[str, Kind],
    sizes: set[str],
) -> dict[str, tuple[str, str, Term]]:
    """Scalars that loop distribution may expand into an array, one element per iteration.

    `for i in range(n): t = 0.0; <uses t>; <reads t>` cannot be split between the statements that
    set t and those that read it: t holds one iteration's value at a time. With `t_i = np.empty(n)`
    and `t_i[i] = t` stored after the first part, the second part reads `t_i[i]` instead, exactly
    the value it read before (the second part does not assign t, and every iteration sets t before
    reading it: it is not upward exposed in the body). Candidates: a float local (stored in a
    float64 array and read back unchanged: kernels with a float32 or float16 array or dtype are
    left out, where t might be a float32), a loop `range(0, n)` with n a size (so `np.empty(n)` has
    a non-negative length and each element is written once), and a split point of its body; a
    scalar found in more than one loop gets no array (one name, one allocation). The rule that
    splits the loop checks the conditions again on the loop it splits. The first part holds a
    loop: the expansion pays when it separates a nest from what follows (both may then be
    interchanged, parallelised or become a library call: `t = A[i] . x` then `y[i] = a * t`
    is a matrix-vector product and a vector statement); splitting straight-line statements only
    adds a store and a load."""
    if any(at.kind == "array" and at.dtype in ("float32", "float16") for at in arg_types.values()) or any(
        (t.op == "attr" and t.value in ("float32", "float16", "single", "half"))
        or (t.op == "const" and isinstance(t.value, str))
        for t in body.walk()
    ):
        return {}
    rebound = names_assigned(body) | set(params)
    module = next(
        (
            str(t.args[0].value)
            for t in body.walk()
            if t.op == "attr" and t.args[0].op == "var" and t.args[0].value in NUMPY_MODULES
            if str(t.args[0].value) not in rebound
        ),
        None,
    )
    if module is None:
        return {}  # no name to allocate through
    found: dict[str, list[tuple[str, str]]] = {}
    for loop in body.walk():
        if loop.op != "for" or loop.value != "range" or loop.args[4].op != "seq":
            continue
        v, lo, hi, step, inner = loop.args
        if not (_is_zero(lo) and _is_one(step) and hi.op == "var" and str(hi.value) in sizes):
            continue
        exposed = upward_exposed(inner)
        here: set[str] = set()
        for p in range(1, len(inner.args)):
            first, rest = _seq_of(inner.args[:p]), _seq_of(inner.args[p:])
            if not contains_loop(first):
                continue
            here |= (names_assigned(first) & names_read(rest)) - names_assigned(rest) - exposed
        for t in sorted(here):
            if kinds.get(t) == "float" and t not in params:
                found.setdefault(t, []).append((str(v.value), str(hi.value)))
    taken = all_names(body) | set(params)
    out: dict[str, tuple[str, str, Term]] = {}
    for t in sorted(found):
        if len(found[t]) != 1:
            continue
        ((v, n),) = found[t]
        name = f"{t}_{v}"
        while name in taken:
            name += "_"
        taken.add(name)
        alloc = Term("call", (Term("attr", (Term("var", (), module),), "empty"), Term("var", (), n)))
        out[t] = (name, v, alloc)
    return out


def _seq_of(stmts: Sequence[Term]) -> Term:
    return Term("seq", tuple(stmts))


def _arrays_used_as_integers(body: Term) -> set[str]:
    places: list[Term] = []
    for node in body.walk():
        if node.op == "index":
            places.extend(index_parts(node))
        elif node.op == "for":
            places.extend(node.args[1:4])
    return {a.array for place in places for a in accesses(place)}


def _shape_source(value: Term) -> tuple[str, int] | None:
    """`A.shape[d]` or `len(A)` → (A, d)."""
    if (
        value.op == "index"
        and value.args[0].op == "attr"
        and value.args[0].value == "shape"
        and value.args[0].args[0].op == "var"
        and value.args[1].op == "const"
        and isinstance(value.args[1].value, int)
        and not isinstance(value.args[1].value, bool)
        and value.args[1].value >= 0
    ):
        return str(value.args[0].args[0].value), int(value.args[1].value)
    if (
        value.op == "call"
        and call_name(value) == "len"
        and len(value.args) == 2
        and value.args[1].op == "var"
    ):
        return str(value.args[1].value), 0
    return None


def _allocation_shape(value: Term) -> tuple[Term, ...] | str | None:
    """Shape terms of `np.zeros((n, m))`-style allocations, or the source name of `np.zeros_like(A)`
    and `A.copy()` (a new array with A's shape)."""
    if value.op != "call":
        return None
    func = value.args[0]
    if func.op == "attr" and func.value == "copy" and func.args[0].op == "var" and len(value.args) == 1:
        source = str(func.args[0].value)
        if source not in NUMPY_MODULES:
            return source
    name = call_name(value)
    if name is None:
        return None
    module, _, func_name = name.rpartition(".")
    if module not in NUMPY_MODULES or len(value.args) < 2:
        return None
    first = value.args[1]
    if first.op == "kw":
        return None
    if func_name in ALLOCATORS:
        return first.args if first.op == "tuple" else (first,)
    if func_name in LIKE_ALLOCATORS and first.op == "var":
        return str(first.value)
    return None


def _symbol_of(expr: Term, shape_of: Mapping[str, tuple[str, int]], dims: Mapping[str, list[str]]) -> str:
    if expr.op == "var":
        return str(expr.value)
    src = _shape_source(expr)
    if src is not None and src[0] in dims and src[1] < len(dims[src[0]]):
        return dims[src[0]][src[1]]
    return ANON_DIM


def _assignment_sequence(body: Term) -> Iterator[str]:
    for node in body.walk():
        if node.op in ("assign", "augassign"):
            bound: set[str] = set()
            _collect_bound(node.args[0], bound)
            yield from sorted(bound)
        elif node.op == "for":
            yield str(node.args[0].value)


def _loop_ranges(body: Term) -> dict[str, list[tuple[Term, Term, Term]]]:
    out: dict[str, list[tuple[Term, Term, Term]]] = {}
    for node in body.walk():
        if node.op == "for":
            out.setdefault(loop_var(node), []).append((node.args[1], node.args[2], node.args[3]))
    return out


def _directions(ranges: Iterable[tuple[Term, Term, Term]]) -> set[str]:
    out = set()
    for _, _, step in ranges:
        value = _const_int(step)
        out.add("?" if value is None or value == 0 else "up" if value > 0 else "down")
    return out


def _is_zero(t: Term) -> bool:
    return t.op == "const" and type(t.value) is int and t.value == 0


def _is_one(t: Term) -> bool:
    return t.op == "const" and type(t.value) is int and t.value == 1


def _const_int(t: Term) -> int | None:
    if t.op == "const" and type(t.value) is int:
        return int(t.value)
    if t.op == "neg" and t.args[0].op == "const" and type(t.args[0].value) is int:
        return -int(t.args[0].value)
    return None


def _in_bounds_facts(
    body: Term,
    loop_ranges: Mapping[str, list[tuple[Term, Term, Term]]],
    shape_of: Mapping[str, tuple[str, int]],
    fresh: Mapping[str, tuple[Term, ...] | str],
    assign_counts: Mapping[str, int],
) -> set[tuple[str, str, int]]:
    """(v, A, d) when every loop over v runs inside [0, A.shape[d]) and v is bound only by loops.

    Hoisting a load out of a loop executes it even when that loop runs zero times; a load is
    only moved when this proves its subscripts are in range. Only declared sizes count: names
    bound once from `A.shape`/`len(A)`, and the size arguments of a fresh allocation (never
    sizes inferred from how the code indexes, which would be circular).
    """
    equal: dict[tuple[str, int], set[str]] = {}
    for name, (arr, d) in shape_of.items():
        if assign_counts.get(name) == 1:
            equal.setdefault((arr, d), set()).add(name)
    for arr, alloc in fresh.items():
        if isinstance(alloc, str):
            for (src, d), names in list(equal.items()):
                if src == alloc:
                    equal.setdefault((arr, d), set()).update(names)
            continue
        for d, size in enumerate(alloc):
            if size.op == "var" and assign_counts.get(str(size.value), 0) <= 1:
                equal.setdefault((arr, d), set()).add(str(size.value))
    out: set[tuple[str, str, int]] = set()
    for v, ranges in loop_ranges.items():
        if assign_counts.get(v, 0) != len(ranges):  # also bound by an assignment somewhere
            continue
        for (arr, d), names in equal.items():
            if all(_range_within(lo, hi, step, arr, d, names) for lo, hi, step in ranges):
                out.add((v, arr, d))
    return out


def _range_within(lo: Term, hi: Term, step: Term, arr: str, d: int, names: set[str]) -> bool:
    lo_value = _const_int(lo)
    step_value = _const_int(step)
    if lo_value is None or lo_value < 0 or step_value is None or step_value <= 0:
        return False
    bound = hi
    if hi.op == "sub":
        offset = _const_int(hi.args[1])
        if offset is not None and offset >= 0:
            bound = hi.args[0]
    if bound.op == "var":
        return str(bound.value) in names
    return _shape_source(bound) == (arr, d)


def _escaping_names(body: Term) -> dict[str, frozenset[str]]:
    """For each loop variable v: names bound inside loops over v (v included) that are read outside them.

    Reordering or parallelising a loop is only safe when nothing it assigns is observed after it,
    except recognised reductions. Keyed by variable name, so it holds for every variant of the
    body (interchange moves loops but never renames them); loops sharing a name are merged,
    which only makes the answer larger.
    """
    out: dict[str, set[str]] = {}
    for loop in (t for t in body.walk() if t.op == "for"):
        inside = names_assigned(loop)
        outside = _reads_not_rebound(replace_subterm(body, loop, Term("pass")))
        out.setdefault(loop_var(loop), set()).update(inside & outside)
    return {k: frozenset(v) for k, v in out.items()}


def _reads_not_rebound(term: Term) -> set[str]:
    """`names_read`, except that a loop variable read inside its own loop's body is not counted:
    there it always holds that loop's value, never one left by an earlier loop."""
    if term.op == "for":
        bounds = names_read(Term("tuple", term.args[1:4]))
        return bounds | (_reads_not_rebound(term.args[4]) - {loop_var(term)})
    if term.op in ("seq", "if", "while"):
        out: set[str] = set()
        for child in term.args:
            out |= _reads_not_rebound(child)
        return out
    return names_read(term)


def replace_subterm(term: Term, old: Term, new: Term) -> Term:
    """`term` with every occurrence of `old` (structurally equal) replaced by `new`."""
    if term is old or term == old:
        return new
    if not term.args:
        return term
    args = tuple(replace_subterm(a, old, new) for a in term.args)
    return term if args == term.args else Term(term.op, args, term.value)


# ---- local kinds (int / float / bool / array) -----------------------------------------------------

_FLOAT_FUNCS = PURE_MODULE_FUNCS - {
    "floor",
    "ceil",
    "trunc",
    "isnan",
    "isinf",
    "isfinite",
    "int64",
    "int32",
    "abs",
    "absolute",
    "minimum",
    "maximum",
    "sign",
}


def _infer_local_kinds(body: Term, arg_types: Mapping[str, ArgType], fresh: set[str]) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {name: "array" for name in fresh}
    for _ in range(4):  # fixpoint over straight-line dependencies; loops converge quickly
        changed = False
        for node in body.walk():
            if node.op == "for":
                changed |= _join_into(kinds, loop_var(node), "int")
            elif node.op == "assign":
                target, value = node.args
                if target.op == "var":
                    changed |= _join_into(kinds, str(target.value), expr_kind(value, arg_types, kinds))
                elif target.op == "tuple":
                    for elt in target.args:
                        if elt.op == "var":
                            k = "int" if value.op == "attr" and value.value == "shape" else "unknown"
                            changed |= _join_into(kinds, str(elt.value), k)
            elif node.op == "augassign" and node.args[0].op == "var":
                name = str(node.args[0].value)
                new = expr_kind(Term(str(node.value), (node.args[0], node.args[1])), arg_types, kinds)
                changed |= _join_into(kinds, name, new)
        if not changed:
            break
    return kinds


def _join_into(kinds: dict[str, Kind], name: str, kind: Kind) -> bool:
    old = kinds.get(name)
    new = kind if old is None or old == kind else "unknown"
    if new != old:
        kinds[name] = new
        return True
    return False


def expr_kind(term: Term, arg_types: Mapping[str, ArgType], kinds: Mapping[str, Kind]) -> Kind:
    """Python/NumPy result kind of a scalar expression, or "unknown"."""
    op = term.op
    if op == "const":
        value = term.value
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "float"
        return "unknown"
    if op == "var":
        name = str(term.value)
        if name in arg_types:
            at = arg_types[name]
            return "array" if at.kind == "array" else at.kind
        return kinds.get(name, "unknown")
    if op == "index":
        base = term.args[0]
        if base.op == "attr" and base.value == "shape":
            return "int"
        if base.op == "var" and expr_kind(base, arg_types, kinds) == "array":
            if any(p.op == "slice" for p in index_parts(term)):
                return "array"
            name = str(base.value)
            if name in arg_types:
                at = arg_types[name]
                if len(index_parts(term)) < at.ndim:
                    return "array"
                return _dtype_kind(at.dtype)
            return "unknown"
        return "unknown"
    if op in ("add", "sub", "mul", "mod", "floordiv", "pow"):
        a = expr_kind(term.args[0], arg_types, kinds)
        b = expr_kind(term.args[1], arg_types, kinds)
        if "array" in (a, b) or "unknown" in (a, b):
            return "array" if "array" in (a, b) else "unknown"
        if op == "pow" and b == "int" and a == "int":
            return "unknown"  # int ** negative int is a float in Python
        if "float" in (a, b):
            return "float"
        return "int"
    if op == "truediv":
        a = expr_kind(term.args[0], arg_types, kinds)
        b = expr_kind(term.args[1], arg_types, kinds)
        if "array" in (a, b):
            return "array"
        return "float" if "unknown" not in (a, b) else "unknown"
    if op in ("neg", "pos"):
        k = expr_kind(term.args[0], arg_types, kinds)
        return "int" if k == "bool" else k
    if op in ("lt", "le", "gt", "ge", "eq", "ne", "not"):
        return "bool"
    if op == "call":
        name = call_name(term) or ""
        func = name.rpartition(".")[2]
        if name in ("len", "int"):
            return "int"
        if name == "float" or (name.rpartition(".")[0] in MATH_MODULES and func in _FLOAT_FUNCS):
            args = [expr_kind(a, arg_types, kinds) for a in term.args[1:] if a.op != "kw"]
            return "array" if "array" in args else "float"
        return _full_reduction_kind(term, arg_types)
    if op == "ifexp":
        a = expr_kind(term.args[1], arg_types, kinds)
        b = expr_kind(term.args[2], arg_types, kinds)
        return a if a == b else "unknown"
    return "unknown"


_FULL_REDUCTIONS = frozenset({"sum", "prod", "max", "min", "mean"})


def _full_reduction_kind(call: Term, arg_types: Mapping[str, ArgType]) -> Kind:
    """`np.sum(a)`, `a.sum()` and friends over a whole array parameter, no axis: one scalar of
    the array's kind (a mean is a float)."""
    func, args = call.args[0], call.args[1:]
    if func.op != "attr" or str(func.value) not in _FULL_REDUCTIONS or any(a.op == "kw" for a in args):
        return "unknown"
    owner = func.args[0]
    if owner.op == "var" and str(owner.value) in NUMPY_MODULES and len(args) == 1:
        array = args[0]
    elif not args:
        array = owner
    else:
        return "unknown"
    if array.op != "var" or str(array.value) not in arg_types or arg_types[str(array.value)].kind != "array":
        return "unknown"
    kind = _dtype_kind(arg_types[str(array.value)].dtype)
    return "float" if func.value == "mean" and kind in ("int", "float") else kind


def _dtype_kind(dtype: str) -> Kind:
    if dtype.startswith("float"):
        return "float"
    if dtype.startswith(("int", "uint")):
        return "int"
    if dtype == "bool":
        return "bool"
    return "unknown"


# ---- affine subscripts and dependences ------------------------------------------------------------


@dataclass(frozen=True)
class Affine:
    """coeffs · loop vars + const + symbolic (a loop-invariant remainder, compared syntactically)."""

    coeffs: tuple[tuple[str, int], ...]
    const: int
    symbolic: tuple[tuple[Term, int], ...]

    def coeff(self, v: str) -> int:
        return dict(self.coeffs).get(v, 0)


def affine(expr: Term, loop_vars: Iterable[str], variant_names: Iterable[str] = ()) -> Affine | None:
    """Split a subscript into loop-variable coefficients, a constant and invariant symbols.

    Returns None when the subscript is not affine in the loop variables, or reads a name in
    `variant_names` (assigned inside the loops) that is not a loop variable.
    """
    lv = set(loop_vars)
    varying = set(variant_names) - lv
    terms = _linear(expr, lv, varying)
    if terms is None:
        return None
    coeffs: dict[str, int] = {}
    symbolic: dict[Term, int] = {}
    const = 0
    for key, c in terms.items():
        if key is None:
            const += c
        elif isinstance(key, str):
            coeffs[key] = coeffs.get(key, 0) + c
        else:
            symbolic[key] = symbolic.get(key, 0) + c
    return Affine(
        tuple(sorted((k, c) for k, c in coeffs.items() if c)),
        const,
        tuple(sorted(((k, c) for k, c in symbolic.items() if c), key=lambda kc: repr(kc[0]))),
    )


def _linear(expr: Term, lv: set[str], varying: set[str]) -> dict[object, int] | None:
    op = expr.op
    if op == "const":
        v = _const_int(expr)
        return None if v is None else {None: v}
    if op == "var":
        name = str(expr.value)
        if name in lv:
            return {name: 1}
        if name in varying:
            return None
        return {expr: 1}
    if op in ("add", "sub"):
        a = _linear(expr.args[0], lv, varying)
        b = _linear(expr.args[1], lv, varying)
        if a is None or b is None:
            return None
        sign = 1 if op == "add" else -1
        out = dict(a)
        for k, c in b.items():
            out[k] = out.get(k, 0) + sign * c
        return out
    if op == "neg":
        a = _linear(expr.args[0], lv, varying)
        return None if a is None else {k: -c for k, c in a.items()}
    if op == "mul":
        for x, y in ((expr.args[0], expr.args[1]), (expr.args[1], expr.args[0])):
            k = _const_int(x)
            if k is not None:
                inner = _linear(y, lv, varying)
                return None if inner is None else {key: k * c for key, c in inner.items()}
        return None
    # any other invariant expression is an opaque symbol
    if (
        names_read(expr) & (lv | varying)
        or not is_pure_expr(expr)
        or any(t.op == "index" for t in expr.walk())
    ):
        return None
    return {expr: 1}


def _dim_constraint(f: Affine | None, g: Affine | None) -> tuple[bool, dict[str, int] | None]:
    """For one subscript pair: (independent?, exact distances per loop var, or None if coupled/unknown)."""
    if f is None or g is None:
        return False, None
    if f.symbolic != g.symbolic:
        return False, None
    fvars = dict(f.coeffs)
    gvars = dict(g.coeffs)
    diff = f.const - g.const  # f(I) = g(I')  <=>  g·I' - f·I = diff
    if not fvars and not gvars:
        return diff != 0, {}
    if fvars == gvars and len(fvars) == 1:
        ((v, a),) = fvars.items()
        if diff % a:
            return True, None
        return False, {v: diff // a}
    coeffs = [abs(c) for c in (*fvars.values(), *gvars.values()) if c]
    if coeffs and diff % math.gcd(*coeffs):
        return True, None
    return False, None


def direction_vectors(
    body: Term, loop_vars: tuple[str, ...], facts: KernelFacts
) -> list[tuple[str, ...]] | None:
    """Possible direction vectors ('<', '=', '>') over `loop_vars` of every dependence in `body`.

    A vector describes (sink iteration − source iteration) for a pair of accesses to the same
    array, at least one a write, over all source/sink orders. Returns None when some dependence
    cannot be analysed at all (e.g. two arrays that may alias with different subscripts).
    """
    variant = names_assigned(body) | set(loop_vars)
    accs = accesses(body)
    vectors: set[tuple[str, ...]] = set()
    for a, b in product(accs, repeat=2):
        if not (a.is_write or b.is_write):
            continue
        if a.array != b.array:
            if facts.may_alias(a.array, b.array) and not _guardable(a.array, b.array, facts):
                return None
            continue
        if len(a.indices) != len(b.indices):
            return None
        independent = False
        distance: dict[str, int | None] = {}
        for fa, fb in zip(a.indices, b.indices, strict=True):
            f = affine(fa, loop_vars, variant)
            g = affine(fb, loop_vars, variant)
            if not (nonnegative(fa, facts) and nonnegative(fb, facts)):
                f = g = None  # Python wraps a negative subscript: a[-1] is a[n - 1]
            indep, dist = _dim_constraint(f, g)
            if indep:
                independent = True
                break
            touched = {v for v in loop_vars if (f is None or f.coeff(v)) or (g is None or g.coeff(v))}
            if dist is None:
                for v in touched:
                    distance[v] = None
                continue
            for v, dv in dist.items():
                if v in distance and distance[v] is not None and distance[v] != dv:
                    independent = True
                    break
                if v not in distance:
                    distance[v] = dv
            if independent:
                break
        if independent:
            continue
        choices = []
        for v in loop_vars:
            d = distance.get(v, None)
            if v not in distance or d is None:
                choices.append(("<", "=", ">"))
            else:
                choices.append(("<" if d > 0 else "=" if d == 0 else ">",))
        vectors.update(product(*choices))
    if set(loop_vars) & facts.unordered:
        return None  # which iteration runs first is not known
    # Vectors compare loop-variable values; a loop stepping down runs its higher values first,
    # so in time its '<' is a '>' (`for i in range(n - 1, 0, -1): a[i] = ...; c[i] = a[i - 1]`)
    flip = {"<": ">", ">": "<", "=": "="}
    down = [k for k, v in enumerate(loop_vars) if v in facts.descending]
    if down:
        vectors = {tuple(flip[d] if k in down else d for k, d in enumerate(vec)) for vec in vectors}
    return sorted(vectors)


def nonnegative(expr: Term, facts: KernelFacts) -> bool:
    """Is subscript `expr` provably >= 0 wherever it is evaluated?

    Dependence tests reason about subscripts as integers; Python maps a negative subscript to
    `len + i`, so `a[i - 1]` at i = 0 is the last element and two different integers can name
    one element. Only subscripts proved non-negative from loop ranges and sizes are trusted.
    """
    bound = _bound(expr, facts, lower=True, depth=0)
    if bound is None:
        return False
    for key, c in bound.items():
        if key is None:
            if c < 0:
                return False
        elif c < 0 or not _known_nonnegative(key, facts):
            return False
    return True


@dataclass(frozen=True)
class BoundsGuard:
    """When the original indexes in bounds, as conditions a dispatcher can test before the call.

    `conditions` are Python expressions over the kernel's parameters (`B.shape[0] > A.shape[1] - 1`);
    when they all hold, every subscript the original evaluates is inside its array, so a compiled
    variant (which does not check bounds) computes what the original does. When they fail the
    original runs and raises its IndexError where it always did. `complete` is False when some
    subscript could not be covered (data-dependent, a rebound array, a loop variable with several
    ranges): then the variant must check bounds itself (`boundscheck=True`).
    """

    conditions: tuple[str, ...]
    complete: bool


def bounds_guard(body: Term, params: Sequence[str], facts: KernelFacts) -> BoundsGuard:
    """The conditions under which every subscript in `body` is in range, from loop-range boxes.

    A subscript's range over the box of its loops' ranges is reached when it is evaluated in every
    iteration, so its conditions are also necessary for the original not to raise (on inputs
    where the loops run). Under an `if` or in a `while` it may never reach that range: a condition
    there could send valid calls to the slow original, so such a subscript counts as uncovered
    unless it is in range for every input."""
    rebound = names_assigned(body)
    conditions: dict[str, _Linear] = {}
    complete = True

    def visit(term: Term, conditional: bool, scope: KernelFacts, known: frozenset[Term]) -> None:
        """`scope`: the facts with the ranges of the loops around `term`; `known`: subscripts an
        enclosing `if` tested unconditionally and its branch has not changed the names of."""
        nonlocal complete
        if term.op == "if":
            visit(term.args[0], conditional, scope, known)
            tested = _covered_subscripts(term.args[0], params, rebound, scope) if not conditional else set()
            for branch in term.args[1:]:
                same = {t for t in tested | known if not names_read(t) & names_assigned(branch)}
                visit(branch, True, scope, frozenset(same))
            return
        if term.op == "while":
            conditional = True
        if term.op == "for":  # the range is evaluated outside the loop; only the body sees its facts
            for bound in term.args[1:4]:
                visit(bound, conditional, scope, known)
            visit(term.args[4], conditional, _with_loop_range(term, scope), known)
            return
        if term.op == "index" and term.args[0].op != "attr":
            covered = _index_conditions(term, params, rebound, scope)
            if term in known and covered is not None:
                covered = []  # the same element the enclosing test read, in range whenever it was
            if covered is None or (covered and conditional):
                complete = False
            else:
                conditions.update(covered)
        for child in term.args:
            visit(child, conditional, scope, known)

    visit(body, False, facts, frozenset())
    return BoundsGuard(_strongest(conditions), complete)


def _strongest(conditions: Mapping[str, _Linear]) -> tuple[str, ...]:
    """The conditions less those another implies: `form <= 0` follows from `form' <= 0` when the
    two differ only in the constant and form's is the smaller (`n - 2 < m` from `n - 1 < m`)."""
    kept: list[str] = []
    for text, form in conditions.items():
        symbols = {k: c for k, c in form.items() if k is not None}
        implied = False
        for other, other_form in conditions.items():
            if other == text or {k: c for k, c in other_form.items() if k is not None} != symbols:
                continue
            const, other_const = form.get(None, 0), other_form.get(None, 0)
            if other_const > const or (other_const == const and other in kept):
                implied = True
                break
        if not implied:
            kept.append(text)
    return tuple(kept)


def _covered_subscripts(
    term: Term, params: Sequence[str], rebound: set[str], facts: KernelFacts
) -> set[Term]:
    """The element subscripts `term` evaluates whose range the guard's conditions cover."""
    return {
        t
        for t in term.walk()
        if t.op == "index"
        and t.args[0].op != "attr"
        and _index_conditions(t, params, rebound, facts) is not None
        and not any(c.op in ("and", "or", "ifexp") for c in term.walk())  # evaluated for sure
    }


def _with_loop_range(loop: Term, facts: KernelFacts) -> KernelFacts:
    """`facts` whose loop_bounds give this loop's variable this loop's range inside its body.

    `KernelFacts.loop_bounds` keeps only variables bound by one range (a `j` looped over `m`,
    then over `p`, has none), but inside one loop the variable holds that loop's values, as long
    as the body assigns neither it nor a name its bounds read.

    The body also runs only when the range is non-empty: `lo <= hi - 1` for a positive step,
    `lo >= hi + 1` for a negative one, recorded in `ordered` for `_bound` to tighten the names in
    `lo` and `hi` with. Not when the bounds read the loop's own variable (inside the body it holds
    another value than the one the range was computed from)."""
    v, lo, hi, step, body = loop.args
    step_value = _const_int(step)
    if v.op != "var" or step_value is None or step_value == 0:
        return facts
    assigned = names_assigned(body)
    read = names_read(Term("tuple", (lo, hi)))
    if str(v.value) in assigned or read & assigned or str(v.value) in read:
        return facts
    ordered = facts.ordered
    if step_value > 0:
        ordered += ((lo, Term("sub", (hi, Term("const", (), 1)))),)
    else:
        ordered += ((Term("add", (hi, Term("const", (), 1))), lo),)
    return replace(facts, loop_bounds={**facts.loop_bounds, str(v.value): (lo, hi, step)}, ordered=ordered)


def _index_conditions(
    term: Term, params: Sequence[str], rebound: set[str], facts: KernelFacts
) -> list[tuple[str, _Linear]] | None:
    """The conditions under which `term`'s subscripts are in range (each as its text and the form
    that is <= 0 when it holds), or None when some subscript cannot be covered."""
    parts = index_parts(term)
    if all(p.op == "slice" or (p.op == "const" and p.value is None) for p in parts):
        return []  # slices clip, newaxis adds a dimension: neither raises
    dims = _array_dims(term.args[0], params, rebound, facts)
    used = [p for p in parts if not (p.op == "const" and p.value is None)]
    if dims is None or len(used) > len(dims):
        return None
    out: list[tuple[str, _Linear]] = []
    for part, dim in zip(used, dims, strict=False):
        if part.op == "slice":
            continue
        covered = _subscript_conditions(part, dim, params, rebound, facts)
        if covered is None:
            return None
        out += covered
    return out


_Linear = dict[object, int]  # canonical symbol (or None for the constant) -> coefficient


def _array_dims(
    base: Term, params: Sequence[str], rebound: set[str], facts: KernelFacts
) -> list[_Linear] | None:
    """Each dimension of the indexed array as a linear form over canonical symbols."""
    if base.op != "var":
        return None
    name = str(base.value)
    if name in params and name not in rebound and facts.kind(name) == "array":
        return [{("shape", name, d): 1} for d in range(facts.arg_types[name].ndim)]
    alloc = facts.allocations.get(name)
    if isinstance(alloc, str):
        return _array_dims(Term("var", (), alloc), params, rebound, facts)
    if alloc is None:
        return None
    out = []
    for size in alloc:
        form = _canonical(_bound(size, facts, True, 0), params, rebound, facts)
        if form is None or form != _canonical(_bound(size, facts, False, 0), params, rebound, facts):
            return None
        out.append(form)
    return out


def _canonical(
    bound: dict[Term | None, int] | None, params: Sequence[str], rebound: set[str], facts: KernelFacts
) -> _Linear | None:
    """Rename a bound's symbols to ('shape', array, dim) or ('param', name); None if one is neither."""
    if bound is None:
        return None
    out: _Linear = {}
    for key, c in bound.items():
        if key is None:
            out[None] = out.get(None, 0) + c
            continue
        canon = _canonical_symbol(key, params, rebound, facts)
        if canon is None:
            return None
        out[canon] = out.get(canon, 0) + c
    return {k: c for k, c in out.items() if c or k is None}


def _canonical_symbol(
    symbol: Term, params: Sequence[str], rebound: set[str], facts: KernelFacts
) -> object | None:
    source = _shape_source(symbol)
    if source is None and symbol.op == "var" and str(symbol.value) in facts.size_sources:
        source = facts.size_sources[str(symbol.value)]
    if source is not None:
        array, d = source
        return ("shape", array, d) if array in params and array not in rebound else None
    if symbol.op == "var" and str(symbol.value) in params and str(symbol.value) not in rebound:
        if facts.kind(str(symbol.value)) == "int":
            return ("param", str(symbol.value))
    return None


def _subscript_conditions(
    part: Term, dim: _Linear, params: Sequence[str], rebound: set[str], facts: KernelFacts
) -> list[tuple[str, _Linear]] | None:
    """`-dim <= lowest` and `highest < dim`, each left out when it holds symbolically."""
    low = _canonical(_subscript_bound(part, facts, True), params, rebound, facts)
    high = _canonical(_subscript_bound(part, facts, False), params, rebound, facts)
    if low is None or high is None:
        return None
    out: list[tuple[str, _Linear]] = []
    # -dim <= low: any low >= 0 will do, an array's length is never negative
    if not (
        _provably_negative(_negated(low), strict=False)
        or _provably_negative(_minus(_negated(dim), low), strict=False)
    ):
        below = _minus(_negated(dim), low)
        text = f"{_render(low)} >= -({_render(dim)})" if _has_shape(below) else f"{_render(below)} <= 0"
        out.append((text, below))
    above = _minus(high, dim)
    if not _provably_negative(above):  # high < dim
        if all(key is None for key in above):
            # a constant that is not < 0: the box of the loop ranges reaches past the end (e.g. a
            # triangular `range(i + 1, n)` that is empty where `i + 1` would be n), so a condition
            # would be always false and send every call to the original: leave it to boundscheck
            return None
        text = f"{_render(high)} < {_render(dim)}" if _has_shape(above) else f"{_render(above)} < 0"
        out.append((text, {**above, None: above.get(None, 0) + 1}))  # integers: x < 0 is x + 1 <= 0
    return out


def _has_shape(form: _Linear) -> bool:
    return any(key is not None and key[0] == "shape" for key in form)  # type: ignore[index]


def _negated(form: _Linear) -> _Linear:
    return {k: -c for k, c in form.items()}


def _minus(a: _Linear, b: _Linear) -> _Linear:
    out = dict(a)
    for k, c in b.items():
        out[k] = out.get(k, 0) - c
    return {k: c for k, c in out.items() if c or k is None}


def _provably_negative(form: _Linear, strict: bool = True) -> bool:
    """Is the form < 0 (or <= 0) for all non-negative symbol values? Sizes are >= 0; an int
    parameter's sign is unknown, so any parameter term defeats the proof."""
    const = form.get(None, 0)
    for key, c in form.items():
        if key is None:
            continue
        if key[0] != "shape" or c > 0:  # type: ignore[index]
            return False
    return const < 0 if strict else const <= 0


def _render(form: _Linear) -> str:
    pieces = []
    for key, c in sorted(((k, c) for k, c in form.items() if k is not None), key=repr):
        name = f"{key[1]}.shape[{key[2]}]" if key[0] == "shape" else key[1]  # type: ignore[index]
        pieces.append((c, name))
    const = form.get(None, 0)
    text = ""
    for c, name in pieces:
        term = name if abs(c) == 1 else f"{abs(c)} * {name}"
        text += (" - " if c < 0 else " + ") + term if text else ("-" if c < 0 else "") + term
    if const or not text:
        text += (f" - {-const}" if const < 0 else f" + {const}") if text else str(const)
    return text


def _known_nonnegative(symbol: Term, facts: KernelFacts) -> bool:
    if symbol.op == "var":
        return str(symbol.value) in facts.sizes
    return _shape_source(symbol) is not None


def _bound(expr: Term, facts: KernelFacts, lower: bool, depth: int) -> dict[Term | None, int] | None:
    """A lower (or upper) bound of integer `expr` as constant + Σ coeff·symbol, or None."""
    if depth > 8:
        return None
    op = expr.op
    value = _const_int(expr)
    if value is not None:
        return {None: value}
    if op == "var":
        best = _range_bound(expr, facts, lower, depth)
        for candidate in _ordered_bounds(str(expr.value), facts, lower, depth):
            best = _tighter(best, candidate, lower)
        return best
    if op in ("add", "sub"):
        a = _bound(expr.args[0], facts, lower, depth + 1)
        b = _bound(expr.args[1], facts, lower if op == "add" else not lower, depth + 1)
        if a is None or b is None:
            return None
        out = dict(a)
        sign = 1 if op == "add" else -1
        for k, c in b.items():
            out[k] = out.get(k, 0) + sign * c
        return {k: c for k, c in out.items() if c or k is None}
    if op == "neg":
        a = _bound(expr.args[0], facts, not lower, depth + 1)
        return None if a is None else {k: -c for k, c in a.items()}
    if op == "mul":
        for x, y in ((expr.args[0], expr.args[1]), (expr.args[1], expr.args[0])):
            k = _const_int(x)
            if k is not None:
                inner = _bound(y, facts, lower if k >= 0 else not lower, depth + 1)
                return None if inner is None else {key: k * c for key, c in inner.items()}
        return None
    if _shape_source(expr) is not None:
        return {expr: 1}
    return None


def _subscript_bound(expr: Term, facts: KernelFacts, lower: bool) -> dict[Term | None, int] | None:
    """The bound of a subscript: `_bound`'s, or the one `_eliminated` finds when that has fewer
    symbols (both are valid bounds, so either choice is sound; fewer symbols is the exact one where
    an inner range moves with an outer variable, as `x[i + lag]` for `i in range(n - lag)`)."""
    plain = _bound(expr, facts, lower, 0)
    eliminated = _eliminated(expr, facts, lower)
    if eliminated is None:
        return plain
    if plain is None:
        return eliminated
    symbols = {k for k in plain if k is not None}
    other = {k for k in eliminated if k is not None}
    if symbols == other:
        return _tighter(plain, eliminated, lower)
    return eliminated if len(other) < len(symbols) else plain


def _eliminated(expr: Term, facts: KernelFacts, lower: bool) -> dict[Term | None, int] | None:
    """A bound of linear `expr` found by replacing its loop variables one at a time, innermost
    first, by the matching end of their range, kept symbolic (Fourier-Motzkin on one side): in
    `i + lag` with `i in range(n - lag)`, `i <= n - lag - 1` makes it `n - 1`, where bounding
    each variable on its own gives `n - 1 + maxlag`. Each step is sound: the replaced variable
    lies within that end for every value of the variables its range reads."""
    # `_bound` with no range or order to resolve a variable by: the expression itself, linear
    symbolic = replace(facts, loop_bounds={}, ordered=())

    def linear(term: Term) -> dict[Term | None, int] | None:
        form = _bound(term, symbolic, True, 0)
        return None if form is None else {k: c for k, c in form.items() if c or k is None}

    form = linear(expr)
    if form is None:
        return None
    for _ in range(16):
        loops = [k for k in form if k is not None and k.op == "var" and str(k.value) in facts.loop_bounds]
        if not loops:
            return form
        reads = {v: names_read(Term("tuple", facts.loop_bounds[str(v.value)][:2])) for v in loops}
        # innermost: no other variable of the form has a range that reads it
        inner = [v for v in loops if not any(str(v.value) in reads[u] for u in loops if u != v)]
        if not inner:
            return None
        v = inner[0]
        start, stop, step = facts.loop_bounds[str(v.value)]
        step_value = _const_int(step)
        if step_value is None or step_value == 0:
            return None
        coeff = form[v]
        want_low = lower if coeff > 0 else not lower  # which end of v bounds c·v on this side
        if (step_value > 0) == want_low:  # the first value of an ascending range, or of a descending one
            end = linear(start)
            shift = 0
        else:  # one short of `stop`
            end = linear(stop)
            shift = -1 if step_value > 0 else 1
        if end is None:
            return None
        out = {k: c for k, c in form.items() if k != v}
        for k, c in end.items():
            out[k] = out.get(k, 0) + coeff * c
        out[None] = out.get(None, 0) + coeff * shift
        form = {k: c for k, c in out.items() if c or k is None}
    return None


def _range_bound(expr: Term, facts: KernelFacts, lower: bool, depth: int) -> dict[Term | None, int] | None:
    """A variable's bound from the range its loop runs over (itself when it is not a loop variable)."""
    name = str(expr.value)
    if name not in facts.loop_bounds:
        return {expr: 1}
    start, stop, step = facts.loop_bounds[name]
    step_value = _const_int(step)
    if step_value is None or step_value == 0:
        return None
    if (step_value > 0) == lower:  # first value of an ascending or last of a descending range
        return _bound(start, facts, lower, depth + 1)
    edge = _bound(stop, facts, lower, depth + 1)  # the range stops one short of `stop`
    if edge is None:
        return None
    edge = dict(edge)
    edge[None] = edge.get(None, 0) + (-1 if step_value > 0 else 1)
    return edge


def _ordered_bounds(name: str, facts: KernelFacts, lower: bool, depth: int) -> list[dict[Term | None, int]]:
    """Bounds of `name` from the `a <= b` facts that hold where it is read.

    Each fact in which `name` has coefficient +1 (`name + r <= b`: name <= b - r) gives an upper
    bound, -1 a lower one; the rest is bounded without the ordered facts, so no fact is used to
    bound itself and the search stays linear in their number."""
    out = []
    plain = replace(facts, ordered=())
    for a, b in facts.ordered:
        split_a, split_b = _isolate(a, name), _isolate(b, name)
        if split_a is None or split_b is None:
            continue
        coeff = split_a[0] - split_b[0]
        if coeff == (-1 if lower else 1):
            rest = (
                Term("sub", (split_b[1], split_a[1])) if coeff > 0 else Term("sub", (split_a[1], split_b[1]))
            )
            bound = _bound(rest, plain, lower, depth + 1)
            if bound is not None:
                out.append(bound)
    return out


def _isolate(expr: Term, name: str) -> tuple[int, Term] | None:
    """(c, r) with `expr == c * name + r` and `name` not read in r; None when not linear in `name`."""
    if name not in names_read(expr):
        return 0, expr
    if expr.op == "var":
        return 1, Term("const", (), 0)
    if expr.op in ("add", "sub"):
        left, right = _isolate(expr.args[0], name), _isolate(expr.args[1], name)
        if left is None or right is None:
            return None
        return left[0] + (right[0] if expr.op == "add" else -right[0]), Term(expr.op, (left[1], right[1]))
    if expr.op == "neg":
        inner = _isolate(expr.args[0], name)
        return None if inner is None else (-inner[0], Term("neg", (inner[1],)))
    if expr.op == "mul":
        for x, y in ((expr.args[0], expr.args[1]), (expr.args[1], expr.args[0])):
            k = _const_int(x)
            if k is not None:
                inner = _isolate(y, name)
                return None if inner is None else (k * inner[0], Term("mul", (x, inner[1])))
    return None


def _tighter(
    a: dict[Term | None, int] | None, b: dict[Term | None, int], lower: bool
) -> dict[Term | None, int] | None:
    """The tighter of two valid bounds when they differ by a constant only; else the first (or `b`
    when there is no first). Both hold, so either choice is sound."""
    if a is None:
        return b
    if {k: c for k, c in a.items() if k is not None} != {k: c for k, c in b.items() if k is not None}:
        return a
    const_a, const_b = a.get(None, 0), b.get(None, 0)
    return b if (const_b > const_a if lower else const_b < const_a) else a


def _guardable(a: str, b: str, facts: KernelFacts) -> bool:
    """Two array parameters: the emitted code routes overlapping calls to the original."""
    return a in facts.arg_types and b in facts.arg_types


def _lex_positive(vec: tuple[str, ...]) -> bool:
    for d in vec:
        if d == "<":
            return True
        if d == ">":
            return False
    return False


def _lex_nonnegative(vec: tuple[str, ...]) -> bool:
    return all(d == "=" for d in vec) or _lex_positive(vec)


# ---- scalars carried across iterations ---------------------------------------------------------------


def carried_scalars(body: Term, extra_live: Iterable[str] = ()) -> set[str]:
    """Scalar names whose value flows from one iteration of a loop around `body` into the next.

    A name is carried when some read may see a value written by an earlier iteration: it is
    read before (or without) being written on some path through `body`.
    """
    assigned = {n for n in names_assigned(body)}
    exposed: set[str] = set()
    _upward_exposed(body, set(), exposed)
    return (assigned & exposed) | (assigned & set(extra_live))


def upward_exposed(body: Term) -> set[str]:
    """Names `body` reads before (or without) binding them itself: the inputs of a code region."""
    exposed: set[str] = set()
    _upward_exposed(body, set(), exposed)
    return exposed


def _upward_exposed(term: Term, defined: set[str], exposed: set[str]) -> set[str]:
    """Walk statements in order; record reads not preceded by a definition. Returns defined names."""
    op = term.op
    if op == "seq":
        for stmt in term.args:
            defined = _upward_exposed(stmt, defined, exposed)
        return defined
    if op in ("assign", "augassign"):
        target, value = term.args
        reads = names_read(value)
        if op == "augassign" or target.op != "var":
            reads |= names_read(target) if target.op != "tuple" else set()
            if op == "augassign" and target.op == "var":
                reads.add(str(target.value))
        if target.op == "tuple":
            for elt in target.args:
                if elt.op != "var":
                    reads |= names_read(elt)
        exposed.update(reads - defined)
        bound: set[str] = set()
        _collect_bound(target, bound)
        return defined | bound
    if op == "if":
        cond, then, orelse = term.args
        exposed.update(names_read(cond) - defined)
        d1 = _upward_exposed(then, set(defined), exposed)
        d2 = _upward_exposed(orelse, set(defined), exposed)
        return d1 & d2
    if op == "for":
        exposed.update(names_read(Term("tuple", term.args[1:4])) - defined)
        inner = _upward_exposed(term.args[4], defined | {loop_var(term)}, exposed)
        del inner  # the loop may run zero times: nothing it defines is definitely defined after it
        carried = carried_scalars(term.args[4]) - defined
        exposed.update(carried)
        return defined
    if op == "while":
        exposed.update(names_read(term.args[0]) - defined)
        _upward_exposed(term.args[1], set(defined), exposed)
        exposed.update(carried_scalars(term.args[1]) - defined)
        return defined
    exposed.update(names_read(term) - defined)
    return defined


# ---- legality questions the rule sets ask -------------------------------------------------------------


def interchange_legal(outer: Term, facts: KernelFacts) -> bool:
    """May `for a: for b: body` become `for b: for a: body` without changing any result?

    Needs: a perfect nest; rectangular bounds; no early exit, while loop or impure call in the
    body; nothing the nest assigns read after it; no scalar carried between iterations (that
    would reorder a floating-point reduction); and every dependence direction vector stays
    lexicographically non-negative after the swap. Inner loop variables take part in the
    vectors so dependences carried by deeper loops are judged precisely.
    """
    if outer.op != "for":
        return False
    inner = _single_stmt(outer.args[4])
    if inner.op != "for":
        return False
    a, b = loop_var(outer), loop_var(inner)
    body = inner.args[4]
    if a == b or names_assigned(outer) & (
        facts.escaping.get(a, frozenset()) | facts.escaping.get(b, frozenset())
    ):
        return False
    inner_bounds = Term("tuple", inner.args[1:4])
    outer_bounds = Term("tuple", outer.args[1:4])
    if a in names_read(inner_bounds) or b in names_read(outer_bounds):
        return False
    if names_assigned(body) & (names_read(inner_bounds) | names_read(outer_bounds) | {a, b}):
        return False
    if has_early_exit(body) or not is_pure_expr(body) or any(t.op == "while" for t in body.walk()):
        return False
    if carried_scalars(body):
        return False
    inner_vars = _inner_loop_vars(body)
    vectors = direction_vectors(body, (a, b, *inner_vars), facts)
    if vectors is None:
        return False
    return all(_lex_nonnegative((v[1], v[0], *v[2:])) for v in vectors if _lex_nonnegative(v))


def _single_stmt(block: Term) -> Term:
    return block.args[0] if block.op == "seq" and len(block.args) == 1 else block


def _inner_loop_vars(body: Term) -> tuple[str, ...]:
    seen: list[str] = []
    for t in body.walk():
        if t.op == "for" and loop_var(t) not in seen:
            seen.append(loop_var(t))
    return tuple(seen)


@dataclass(frozen=True)
class ParallelPlan:
    reductions: tuple[str, ...]  # scalar names combined across iterations (reassociates the sum)


def parallel_plan(
    loop: Term, facts: KernelFacts, allow_reassoc: bool, mixed_add_sub: bool = False
) -> ParallelPlan | None:
    """Can the iterations of `loop` run in any order and at once (numba prange)?

    Every array dependence must have '=' on the loop's own variable; scalars assigned in the
    body must be private (written before read in each iteration, never read after the loop)
    or a recognised reduction (`s += e`, `s -= e`, `s *= e`, read nowhere else in the loop).
    A float reduction reassociates, so it needs the float policy's consent.
    """
    if loop.op != "for" or loop.value != "range" or not _is_one(loop.args[3]):
        return None
    v = loop_var(loop)
    body = loop.args[4]
    if has_early_exit(body) or not is_pure_expr(body) or any(t.op == "while" for t in body.walk()):
        return None
    inner_vars = _inner_loop_vars(body)
    vectors = direction_vectors(body, (v, *inner_vars), facts)
    if vectors is None or any(vec[0] != "=" for vec in vectors if _lex_nonnegative(vec)):
        return None
    reductions = []
    for name in sorted(carried_scalars(body)):
        kind = facts.kind(name)
        if not _is_reduction(body, name, mixed_add_sub) or kind not in ("int", "float"):
            return None
        if kind == "float" and not allow_reassoc:
            return None
        reductions.append(name)
    escaping = facts.escaping.get(v, frozenset())
    if (names_assigned(loop) - set(reductions)) & escaping:
        return None
    return ParallelPlan(tuple(reductions))


def _is_reduction(body: Term, name: str, mixed_add_sub: bool = False) -> bool:
    """`name` is only updated by one operator (`s += e` everywhere, or `s *= e` everywhere): mixed
    updates (`s += x; s *= y`) do not combine across threads as one reduction. `+=` with `-=` is
    one sum (`-= e` adds `-e`), which a hand-written combination (the CUDA lowering) may take but
    Numba's prange refuses to compile."""
    updates = 0
    operators = set()
    for node in body.walk():
        if node.op == "augassign" and node.args[0].op == "var" and node.args[0].value == name:
            if node.value not in ("add", "sub", "mul") or name in names_read(node.args[1]):
                return False
            operators.add("add" if mixed_add_sub and node.value == "sub" else str(node.value))
            if len(operators) > 1:
                return False
            updates += 1
        elif (node.op == "assign" and name in names_assigned(node)) or (
            node.op == "for" and loop_var(node) == name
        ):
            return False
    reads = sum(1 for node in body.walk() if node.op == "var" and node.value == name)
    return updates > 0 and reads == updates  # each update mentions the name once; no other reads


def is_invariant(expr: Term, loop: Term, facts: KernelFacts) -> bool:
    """Does `expr` compute the same value on every iteration of `loop`, with no side effects?

    Loads qualify only from arrays the loop does not write; an array parameter that might alias
    a written parameter qualifies because emitted code routes overlapping calls to the original.
    """
    body = loop.args[4]
    if names_read(expr) & (names_assigned(body) | {loop_var(loop)}) or not is_pure_expr(expr):
        return False
    written = arrays_written(body)
    for acc in accesses(expr):
        if acc.array in written:
            return False
        for w in written:
            if facts.may_alias(acc.array, w) and not _guardable(acc.array, w, facts):
                return False
    return True


def load_in_bounds(load: Term, facts: KernelFacts) -> bool:
    """Every subscript of `A[i, j, ...]` is a loop variable proved to stay inside A's shape."""
    name = base_array(load)
    if name is None or name not in facts.array_dims:
        return False
    parts = index_parts(load)
    if len(parts) != len(facts.array_dims[name]):
        return False
    return all(p.op == "var" and (str(p.value), name, d) in facts.in_bounds for d, p in enumerate(parts))


def array_dtype(name: str, body: Term, facts: KernelFacts) -> str | None:
    """The dtype of array `name`: a parameter's, or a fresh local's when its allocation states it
    (`np.zeros(shape)` and friends are float64 unless given `dtype=np.<name>`; `np.zeros_like(A)`
    and `A.copy()` take A's). None when not known."""
    if name in facts.arg_types:
        return facts.arg_types[name].dtype or None
    if name not in facts.fresh_arrays:
        return None
    value = next(
        (t.args[1] for t in body.walk() if t.op == "assign" and t.args[0] == Term("var", (), name)), None
    )
    if value is None or value.op != "call":
        return None
    keywords = {str(a.value): a.args[0] for a in value.args[1:] if a.op == "kw"}
    positional = [a for a in value.args[1:] if a.op != "kw"]
    explicit = keywords.get("dtype")
    if explicit is not None:
        if (
            explicit.op == "attr"
            and explicit.args[0].op == "var"
            and str(explicit.args[0].value) in NUMPY_MODULES
        ):
            return (
                str(explicit.value)
                if str(explicit.value) in ("float64", "float32", "int64", "int32")
                else None
            )
        return None
    func = value.args[0]
    if func.op == "attr" and func.value == "copy" and func.args[0].op == "var" and not positional:
        source = str(func.args[0].value)
        return None if source == name else array_dtype(source, body, facts)
    module, _, func_name = (call_name(value) or "").rpartition(".")
    if module not in NUMPY_MODULES:
        return None
    if func_name in ("zeros", "ones", "empty") and len(positional) == 1:
        return "float64"
    if (
        func_name in ("zeros_like", "ones_like", "empty_like")
        and len(positional) == 1
        and positional[0].op == "var"
    ):
        source = str(positional[0].value)
        return None if source == name else array_dtype(source, body, facts)
    return None


def alias_guard_pairs(facts: KernelFacts, body: Term) -> tuple[tuple[str, str], ...]:
    """Pairs (written parameter, other parameter) that a reordering variant assumes are distinct."""
    used = sorted({a.array for a in accesses(body)} & set(facts.array_params))
    pairs: list[tuple[str, str]] = []
    for w in sorted(facts.written_params):
        for other in used:
            if other != w and (other, w) not in pairs:
                pairs.append((w, other))
    return tuple(pairs)
