"""Features of a candidate at a size on a machine: a fixed-length vector with named columns.

Three groups, each a function returning {column: value}:

  ir_features        from the variant's IR at the sizes: loop nests, depth, trip counts, work,
                     bytes moved, stride classes, reuse distances, vectorizability, carried
                     reductions and their kind, parallel iterations and regions, temporaries
                     allocated, op mix; the analytic model's own prediction (the learned model
                     then corrects what the analytic one gets wrong, rather than starting over).
                     Built on `analytic.analyze`, so both models read the kernel the same way.
  llvm_features      from the LLVM IR Numba generated for the compiled candidate (parsed with
                     llvmlite): instruction histogram by class, vector instructions and their
                     widest lane count, calls (intrinsics, math library, allocations, the
                     parallel scheduler), loads/stores, fast-math flags. Only available after a
                     compile, so they are NaN when ranking candidates nobody compiled yet.
  hardware_features  cores, cache sizes, SIMD width, clock, bandwidth, GPU presence, threads; and
                     the working set relative to each cache level (the size × machine interaction
                     a tree model cannot form on its own).

`COLUMNS` is the versioned column list; `vector` orders a feature dict by it, NaN for what is
missing. A model records `FEATURE_VERSION` and refuses vectors of another version.
Magnitudes that span decades (iterations, bytes, seconds) are log2(1 + x).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optcompiler.costmodel.analytic import PARTS, LoopNestStats, analysis_breakdown, analyze
from optcompiler.costmodel.hardware import Hardware
from optcompiler.ir import ArgType, Target, Term

FEATURE_VERSION = 2  # 2: the analytic estimate's shares by bound (`analytic.PARTS`)

# ---- column list ---------------------------------------------------------------------------------

IR_COLUMNS = (
    "ir_nests",
    "ir_max_depth",
    "ir_log_iterations",  # innermost-body executions, all nests
    "ir_log_max_trip",
    "ir_log_min_trip",  # smallest trip count along the deepest paths (short inner loops)
    "ir_log_flops",
    "ir_log_loads",
    "ir_log_stores",
    "ir_log_bytes",  # bytes moved per call, all accesses, by their traffic
    "ir_log_footprint",  # largest nest working set
    "ir_flops_per_byte",
    "ir_frac_unit",  # innermost-loop access executions by stride class
    "ir_frac_strided",
    "ir_frac_irregular",
    "ir_frac_invariant",
    "ir_log_reuse_median",  # reuse distance (bytes) of accesses that have one, weighted by executions
    "ir_frac_no_reuse",
    "ir_frac_vectorizable",  # innermost-body iterations that vectorize
    "ir_carried",  # carried accumulators in innermost bodies
    "ir_chain_cycles",
    "ir_reduction_sum",
    "ir_reduction_product",
    "ir_reduction_minmax",
    "ir_log_parallel_trips",
    "ir_parallel_regions",
    "ir_log_library_flops",  # work handed to BLAS
    "ir_temporaries",  # array allocations in the body (np.zeros, np.empty, array expressions, ...)
    "ir_ops_add",
    "ir_ops_mul",
    "ir_ops_div",
    "ir_ops_pow",
    "ir_ops_math",  # calls to math / numpy element functions
    "ir_ops_compare",
    "ir_ops_branch",
    "ir_ops_while",
    "ir_ops_early_exit",
    "ir_ops_index",
    "ir_itemsize",
    "ir_term_size",
    "cand_parallel",
    "cand_prange",
    "cand_rewrites",
    "cand_fastmath",
    "analytic_log_seconds",
    *(f"analytic_share_{part}" for part in PARTS),  # of the analytic estimate, by what bounds it
)

LLVM_CLASSES = {
    "float_arith": ("fadd", "fsub", "fmul", "fneg"),
    "float_div": ("fdiv", "frem"),
    "int_arith": ("add", "sub", "mul"),
    "int_div": ("sdiv", "udiv", "srem", "urem"),
    "bitwise": ("and", "or", "xor", "shl", "lshr", "ashr"),
    "compare": ("icmp", "fcmp"),
    "convert": (
        "sitofp",
        "uitofp",
        "fptosi",
        "fptoui",
        "fpext",
        "fptrunc",
        "zext",
        "sext",
        "trunc",
        "bitcast",
        "inttoptr",
        "ptrtoint",
    ),
    "load": ("load",),
    "store": ("store",),
    "gep": ("getelementptr",),
    "alloca": ("alloca",),
    "branch": ("br", "switch"),
    "phi": ("phi",),
    "select": ("select",),
    "call": ("call", "invoke"),
    "vector_shuffle": ("shufflevector", "extractelement", "insertelement"),
}
LLVM_COLUMNS = (
    "llvm_instructions",
    *(f"llvm_{name}" for name in LLVM_CLASSES),
    "llvm_functions",
    "llvm_blocks",
    "llvm_vector_ops",  # instructions with a vector result or a vector operand
    "llvm_vector_lanes",  # widest vector seen (lanes)
    "llvm_vector_loads",
    "llvm_vector_stores",
    "llvm_calls_intrinsic",  # llvm.* (sqrt, fma, memcpy, ...)
    "llvm_calls_math",  # libm-style functions (sin, exp, pow, ...)
    "llvm_calls_alloc",  # NRT allocations: temporaries
    "llvm_calls_parallel",  # the parfor scheduler / gufunc launches
    "llvm_fastmath",
    "llvm_vector_fraction",
)

HW_COLUMNS = (
    "hw_cores",
    "hw_l1d_kib",
    "hw_l2_kib",
    "hw_l3_kib",
    "hw_simd_bytes",
    "hw_freq_ghz",
    "hw_mem_bandwidth_gbs",
    "hw_has_gpu",
    "hw_threads",
    "hw_log_footprint_per_l1",
    "hw_log_footprint_per_l2",
    "hw_log_footprint_per_l3",
)

COLUMNS: tuple[str, ...] = IR_COLUMNS + LLVM_COLUMNS + HW_COLUMNS


def vector(values: Mapping[str, float]) -> np.ndarray:
    """The features in `COLUMNS` order; NaN for columns the mapping lacks (LightGBM's missing)."""
    return np.array([float(values.get(c, math.nan)) for c in COLUMNS], dtype=np.float64)


def log2p(x: float) -> float:
    return math.log2(1.0 + max(0.0, x))


# ---- IR features ----------------------------------------------------------------------------------

_MATH_CALLS = frozenset(
    "sqrt exp log log2 log10 log1p expm1 sin cos tan arcsin arccos arctan arctan2 asin acos atan "
    "atan2 sinh cosh tanh hypot floor ceil fabs abs erf gamma lgamma power cbrt".split()
)
_ALLOCATORS = frozenset(
    "zeros empty ones full zeros_like empty_like ones_like full_like copy array arange linspace "
    "cumsum sort concatenate outer".split()
)
_ARRAY_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow")


def ir_features(
    body: Term,
    target: Target,
    derivation: tuple[str, ...],
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    hardware: Hardware,
    default_size: int = 1000,
) -> dict[str, float]:
    """Features of one candidate's IR at one size profile. The analysis (`analytic.analyze`, memoized)
    is made once and read twice: for these features and for the analytic estimate among them."""
    analysis = analyze(body, arg_types, sizes, default_size)
    nests = list(analysis.nests)
    out: dict[str, float] = {"ir_nests": float(len(nests))}
    out["ir_max_depth"] = float(max((n.depth for n in nests), default=0))
    trips = [t for n in nests for t in n.trips]
    out["ir_log_iterations"] = log2p(sum(n.iterations for n in nests))
    out["ir_log_max_trip"] = log2p(max(trips, default=0.0))
    out["ir_log_min_trip"] = log2p(min(trips, default=0.0))
    flops = sum(n.flops for n in nests)
    out["ir_log_flops"] = log2p(flops)
    out["ir_log_loads"] = log2p(sum(n.loads for n in nests))
    out["ir_log_stores"] = log2p(sum(n.stores for n in nests))
    moved = _bytes_moved(nests)
    out["ir_log_bytes"] = log2p(moved)
    footprint = max((n.footprint_bytes for n in nests), default=0.0)
    out["ir_log_footprint"] = log2p(footprint)
    out["ir_flops_per_byte"] = flops / moved if moved > 0 else 0.0
    out.update(_stride_fractions(nests))
    out.update(_reuse(nests))
    leaves = [b for n in nests for b in n.bodies if b.innermost]
    leaf_iterations = sum(b.iterations for b in leaves)
    out["ir_frac_vectorizable"] = (
        sum(b.iterations for b in leaves if b.vectorizable) / leaf_iterations if leaf_iterations else 0.0
    )
    out["ir_carried"] = float(sum(len(b.carried) for b in leaves))
    out["ir_chain_cycles"] = max((b.chain_cycles for b in leaves), default=0.0)
    syntax = _syntax(body, frozenset(n for n, t in arg_types.items() if t.kind == "array"))
    out.update(syntax.reductions)
    out["ir_log_parallel_trips"] = log2p(
        max((b.parallel_trips for n in nests for b in n.bodies), default=0.0)
    )
    out["ir_parallel_regions"] = float(sum(n.parallel_regions for n in nests))
    out["ir_log_library_flops"] = log2p(sum(b.iterations * b.library_flops for n in nests for b in n.bodies))
    out.update(syntax.ops)
    out["ir_itemsize"] = float(max((b.itemsize for n in nests for b in n.bodies), default=8))
    out["ir_term_size"] = float(syntax.size)
    out["cand_parallel"] = 1.0 if target.parallel else 0.0
    out["cand_prange"] = 1.0 if syntax.prange else 0.0
    out["cand_rewrites"] = float(len(derivation))
    out["cand_fastmath"] = 1.0 if target.fastmath else 0.0
    try:
        parts = analysis_breakdown(analysis, target, hardware)
    except (NotImplementedError, ValueError):  # a target the analytic model does not estimate
        out["analytic_log_seconds"] = math.nan
        out.update({f"analytic_share_{part}": math.nan for part in PARTS})
        return out
    seconds = sum(parts.values())
    out["analytic_log_seconds"] = math.log(max(seconds, 1e-12))
    out.update({f"analytic_share_{part}": parts[part] / seconds if seconds > 0 else 0.0 for part in PARTS})
    return out


def _bytes_moved(nests: list[LoopNestStats]) -> float:
    total = 0.0
    for nest in nests:
        for b in nest.bodies:
            for a in b.accesses:
                total += b.iterations * a.per_iteration * sum(t.bytes for t in a.traffic)
    return total


def _stride_fractions(nests: list[LoopNestStats]) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for nest in nests:
        for b in nest.bodies:
            if not b.innermost:
                continue
            for a in b.accesses:
                counts[a.stride] += b.iterations * a.per_iteration
    total = sum(counts.values())
    return {
        f"ir_frac_{k}": (counts[k] / total if total else 0.0)
        for k in ("unit", "strided", "irregular", "invariant")
    }


def _reuse(nests: list[LoopNestStats]) -> dict[str, float]:
    """Median reuse distance over access executions (weighted), and the share with no reuse."""
    weighted: list[tuple[float, float]] = []
    none = total = 0.0
    for nest in nests:
        for b in nest.bodies:
            for a in b.accesses:
                weight = b.iterations * a.per_iteration
                for t in a.traffic:
                    total += weight
                    if t.reuse_bytes is None:
                        none += weight
                    else:
                        weighted.append((t.reuse_bytes, weight))
    median = 0.0
    if weighted:
        weighted.sort()
        half = sum(w for _, w in weighted) / 2
        run = 0.0
        for distance, w in weighted:
            run += w
            if run >= half:
                median = distance
                break
    return {"ir_log_reuse_median": log2p(median), "ir_frac_no_reuse": none / total if total else 0.0}


@dataclass(frozen=True)
class _Syntax:
    """What the features read off the body's text alone (no sizes, no machine)."""

    reductions: dict[str, float]
    ops: dict[str, float]
    size: int
    prange: bool


def clear_caches() -> None:
    """Forget memoized facts of bodies (benchmarks time predictions from scratch)."""
    _syntax.cache_clear()
    _SUBTERMS.clear()


_OP_KEYS = (
    "temporaries",
    "add",
    "mul",
    "div",
    "pow",
    "math",
    "compare",
    "branch",
    "while",
    "early_exit",
    "index",
)
_REDUCTIONS = ("sum", "product", "minmax")
# Per subterm: op counts (`_OP_KEYS`), accumulations (`_REDUCTIONS`) and their loop depths below it,
# term size, prange. Summed from the subterms' own, so a body built of statements another candidate
# of the kernel has (most of them) costs a lookup per shared statement instead of a walk of it.
# The counters of a group are packed into one integer, `_FIELD` bits each (no count of a term comes
# near 2**32), so summing a subterm's counters is one integer addition.
_FIELD = 32
_FIELD_MASK = (1 << _FIELD) - 1
_SubtermSyntax = tuple[int, int, int, int, bool]
# Per kernel's arrays, latest last: by structure, and by object (the term kept beside its entry): a
# statement another candidate holds as an equal but distinct object is compared node by node once,
# then found by identity.
_SUBTERMS: dict[
    frozenset[str], tuple[dict[Term, _SubtermSyntax], dict[int, tuple[Term, _SubtermSyntax]]]
] = {}
_SUBTERMS_KERNELS = 8
_SUBTERMS_MAX = 50_000
_LEAF: _SubtermSyntax = (0, 0, 0, 1, False)  # a name, a constant


def _unit(keys: tuple[str, ...], key: str) -> int:
    return 1 << (_FIELD * keys.index(key))


def _unpack(packed: int, keys: tuple[str, ...]) -> dict[str, int]:
    return {k: (packed >> (_FIELD * i)) & _FIELD_MASK for i, k in enumerate(keys)}


_ADD, _MUL, _DIV = _unit(_OP_KEYS, "add"), _unit(_OP_KEYS, "mul"), _unit(_OP_KEYS, "div")
_MATH, _TEMPORARY = _unit(_OP_KEYS, "math"), _unit(_OP_KEYS, "temporaries")
# `_count_op`'s first count of an op (one kind at most); augmented assignments by their operator
_OWN_OP = {
    **dict.fromkeys(("add", "sub"), _ADD),
    "mul": _MUL,
    **dict.fromkeys(("truediv", "floordiv", "mod"), _DIV),
    "pow": _unit(_OP_KEYS, "pow"),
    **dict.fromkeys(("lt", "le", "gt", "ge", "eq", "ne"), _unit(_OP_KEYS, "compare")),
    **dict.fromkeys(("if", "ifexp"), _unit(_OP_KEYS, "branch")),
    "while": _unit(_OP_KEYS, "while"),
    **dict.fromkeys(("break", "continue"), _unit(_OP_KEYS, "early_exit")),
    "index": _unit(_OP_KEYS, "index"),
}
_AUGMENTED_OP = {
    **dict.fromkeys(("add", "sub"), _ADD),
    "mul": _MUL,
    **dict.fromkeys(("truediv", "floordiv", "mod"), _DIV),
}
_REDUCTION_UNIT = {k: _unit(_REDUCTIONS, k) for k in _REDUCTIONS}


@functools.lru_cache(maxsize=1024)
def _syntax(body: Term, arrays: frozenset[str]) -> _Syntax:
    """`_reduction_kinds`, `_op_mix`, the term size and prange, in one walk of the body: a candidate's
    features were four walks of it (five, nested loops walked once per enclosing loop), a third of
    the time of predicting it. Memoized per body: the sizes and targets of one body share it; and per
    subterm (`_subterm_syntax`): the candidates of one kernel share most of their statements."""
    memos = _SUBTERMS.pop(arrays, None)
    if memos is None or len(memos[1]) > _SUBTERMS_MAX:
        memos = ({}, {})
    _SUBTERMS[arrays] = memos
    while len(_SUBTERMS) > _SUBTERMS_KERNELS:
        del _SUBTERMS[next(iter(_SUBTERMS))]
    ops, _, depths, size, prange = _subterm_syntax(body, arrays, *memos)
    # a statement `depth` loop bodies below the body counts `depth` times (`_reduction_kinds`)
    reductions = {f"ir_reduction_{k}": float(v) for k, v in _unpack(depths, _REDUCTIONS).items()}
    return _Syntax(reductions, _op_columns(Counter(_unpack(ops, _OP_KEYS))), size, prange)


def _subterm_syntax(
    t: Term,
    arrays: frozenset[str],
    memo: dict[Term, _SubtermSyntax],
    ids: dict[int, tuple[Term, _SubtermSyntax]],
) -> _SubtermSyntax:
    """`t`'s op counts, its accumulations (`_reduction_of`, at any depth) and the sum of their depths
    in loop bodies below `t`, its size and whether it holds a prange. At `d` loop bodies deep, `t`'s
    accumulations count d * counts + depths: integers, the same whatever the order of the sums."""
    if not t.args and t.op in ("var", "const"):
        return _LEAF
    hit = ids.get(id(t))
    if hit is not None and hit[0] is t:
        return hit[1]
    found = memo.get(t)
    if found is not None:
        ids[id(t)] = (t, found)
        return found
    op = t.op
    ops = _own_ops(t, arrays)
    counts = depths = 0
    if op in ("augassign", "assign", "if"):
        own = _reduction_of(t)
        counts = sum(n * _REDUCTION_UNIT[k] for k, n in own.items() if k in _REDUCTION_UNIT)
    size = 1
    prange = op == "for" and t.value == "prange"
    body = 4 if op == "for" else 1 if op == "while" else -1  # the argument one loop body deeper
    for position, a in enumerate(t.args):
        a_ops, a_counts, a_depths, a_size, a_prange = (
            _LEAF if not a.args and a.op in ("var", "const") else _subterm_syntax(a, arrays, memo, ids)
        )
        ops += a_ops
        counts += a_counts
        depths += a_depths + a_counts if position == body else a_depths
        size += a_size
        prange = prange or a_prange
    result = (ops, counts, depths, size, prange)
    memo[t] = result
    ids[id(t)] = (t, result)
    return result


def _own_ops(t: Term, arrays: frozenset[str]) -> int:
    """`_count_op` of one term, packed."""
    op = t.op
    if op == "augassign":
        n = _AUGMENTED_OP.get(t.value, 0)  # type: ignore[arg-type]
    else:
        n = _OWN_OP.get(op, 0)
    if op == "call":
        name = _call_name(t)
        if name in _MATH_CALLS:
            n += _MATH
        if name in _ALLOCATORS:
            n += _TEMPORARY
    elif op == "assign" and t.args[0].op == "var" and _is_array_expression(t.args[1], arrays):
        n += _TEMPORARY
    return n


def _reduction_of(stmt: Term) -> Counter[str]:
    """The accumulation one statement inside a loop makes (see `_reduction_kinds`)."""
    kinds: Counter[str] = Counter()
    if stmt.op == "augassign" and stmt.args[0].op == "var":
        op = stmt.value
        kinds["sum" if op in ("add", "sub") else "product" if op == "mul" else "other"] += 1
    elif stmt.op == "assign" and stmt.args[0].op == "var":
        name, value = stmt.args[0].value, stmt.args[1]
        if value.op in ("add", "sub") and _reads(value, name):
            kinds["sum"] += 1
        elif value.op == "mul" and _reads(value, name):
            kinds["product"] += 1
        elif value.op == "call" and _call_name(value) in ("max", "min", "maximum", "minimum"):
            kinds["minmax"] += _reads(value, name)
        elif value.op == "ifexp" and _reads(value, name):
            kinds["minmax"] += 1
    elif stmt.op == "if" and stmt.args[0].op in ("lt", "le", "gt", "ge"):
        compared = {t.value for t in stmt.args[0].walk() if t.op == "var"}
        assigned = {
            s.args[0].value for s in stmt.args[1].walk() if s.op == "assign" and s.args[0].op == "var"
        }
        kinds["minmax"] += 1 if compared & assigned else 0
    return kinds


def _reduction_kinds(body: Term) -> dict[str, float]:
    """How loops accumulate into scalars: `s += x` / `s = s + x` (sum), `*=` (product),
    `m = max(m, x)` or `if x > m: m = x` (min/max). Counted over loop bodies."""
    kinds: Counter[str] = Counter()
    for loop in (t for t in body.walk() if t.op in ("for", "while")):
        inner = loop.args[4] if loop.op == "for" else loop.args[1]
        for stmt in inner.walk():
            if stmt.op == "augassign" and stmt.args[0].op == "var":
                op = stmt.value
                kinds["sum" if op in ("add", "sub") else "product" if op == "mul" else "other"] += 1
            elif stmt.op == "assign" and stmt.args[0].op == "var":
                name, value = stmt.args[0].value, stmt.args[1]
                if value.op in ("add", "sub") and _reads(value, name):
                    kinds["sum"] += 1
                elif value.op == "mul" and _reads(value, name):
                    kinds["product"] += 1
                elif value.op == "call" and _call_name(value) in ("max", "min", "maximum", "minimum"):
                    kinds["minmax"] += _reads(value, name)
                elif value.op == "ifexp" and _reads(value, name):
                    kinds["minmax"] += 1
            elif stmt.op == "if" and stmt.args[0].op in ("lt", "le", "gt", "ge"):
                compared = {t.value for t in stmt.args[0].walk() if t.op == "var"}
                assigned = {
                    s.args[0].value for s in stmt.args[1].walk() if s.op == "assign" and s.args[0].op == "var"
                }
                kinds["minmax"] += 1 if compared & assigned else 0
    return {
        "ir_reduction_sum": float(kinds["sum"]),
        "ir_reduction_product": float(kinds["product"]),
        "ir_reduction_minmax": float(kinds["minmax"]),
    }


def _reads(term: Term, name: str) -> bool:
    return any(t.op == "var" and t.value == name for t in term.walk())


def _call_name(term: Term) -> str:
    func = term.args[0]
    if func.op == "var":
        return str(func.value)
    if func.op == "attr":
        return str(func.value)
    return ""


def _op_mix(body: Term, arrays: frozenset[str]) -> dict[str, float]:
    """Static counts of operation kinds, with array expressions and allocations recognised."""
    c: Counter[str] = Counter()
    for t in body.walk():
        _count_op(t, arrays, c)
    return _op_columns(c)


def _count_op(t: Term, arrays: frozenset[str], c: Counter[str]) -> None:
    """`_op_mix`'s count of one term."""
    if t.op in ("add", "sub") or (t.op == "augassign" and t.value in ("add", "sub")):
        c["add"] += 1
    elif t.op == "mul" or (t.op == "augassign" and t.value == "mul"):
        c["mul"] += 1
    elif t.op in ("truediv", "floordiv", "mod") or (
        t.op == "augassign" and t.value in ("truediv", "floordiv", "mod")
    ):
        c["div"] += 1
    elif t.op == "pow":
        c["pow"] += 1
    elif t.op in ("lt", "le", "gt", "ge", "eq", "ne"):
        c["compare"] += 1
    elif t.op in ("if", "ifexp"):
        c["branch"] += 1
    elif t.op == "while":
        c["while"] += 1
    elif t.op in ("break", "continue", "return"):
        c["early_exit"] += 1 if t.op != "return" else 0
    elif t.op == "index":
        c["index"] += 1
    if t.op == "call":
        name = _call_name(t)
        if name in _MATH_CALLS:
            c["math"] += 1
        if name in _ALLOCATORS:
            c["temporaries"] += 1
    if t.op == "assign" and t.args[0].op == "var" and _is_array_expression(t.args[1], arrays):
        c["temporaries"] += 1


def _op_columns(c: Counter[str]) -> dict[str, float]:
    return {
        "ir_temporaries": float(c["temporaries"]),
        **{f"ir_ops_{k}": float(c[k]) for k in ("add", "mul", "div", "pow", "math", "compare")},
        "ir_ops_branch": float(c["branch"]),
        "ir_ops_while": float(c["while"]),
        "ir_ops_early_exit": float(c["early_exit"]),
        "ir_ops_index": float(c["index"]),
    }


def _is_array_expression(value: Term, arrays: frozenset[str]) -> bool:
    """A binary operation on a slice or a whole array argument (`a[1:] - a[:-1]`, `x * 2.0`):
    NumPy allocates its result."""
    if value.op not in _ARRAY_BINARY:
        return False
    whole = (a for a in value.args if a.op == "var" and a.value in arrays)
    return any(t.op == "slice" for t in value.walk()) or any(True for _ in whole)


# ---- LLVM features -----------------------------------------------------------------------------------

_VECTOR = re.compile(r"<(\d+) x ")
_MATH_NAMES = re.compile(
    r"@(?:llvm\.)?(sin|cos|tan|exp|exp2|log|log2|log10|pow|atan2?|asin|acos|sinh|cosh|tanh|hypot|"
    r"erf|lgamma|tgamma|cbrt|expm1|log1p)f?(?:\.|\()"
)
_OPCODE_TO_CLASS = {op: name for name, ops in LLVM_CLASSES.items() for op in ops}


def llvm_features(llvm_ir: str) -> dict[str, float]:
    """Instruction histogram and vector/call counts of Numba's LLVM IR for one compiled candidate.

    Parsed with llvmlite when it accepts the module (numba's own LLVM), else read line by line:
    both see every instruction of every function defined in the module (parfor gufuncs included).
    """
    instructions = _llvmlite_instructions(llvm_ir)
    if instructions is None:
        instructions = _text_instructions(llvm_ir)
    classes: Counter[str] = Counter()
    out = dict.fromkeys(LLVM_COLUMNS, 0.0)
    lanes = 0
    functions = blocks = 0
    for kind, item in instructions:
        if kind == "function":
            functions += 1
            continue
        if kind == "block":
            blocks += 1
            continue
        opcode, text = item
        classes[_OPCODE_TO_CLASS.get(opcode, "other")] += 1
        out["llvm_instructions"] += 1
        widths = [int(w) for w in _VECTOR.findall(text)]
        if widths:
            out["llvm_vector_ops"] += 1
            lanes = max(lanes, *widths)
            if opcode == "load":
                out["llvm_vector_loads"] += 1
            elif opcode == "store":
                out["llvm_vector_stores"] += 1
        if opcode in ("call", "invoke"):
            if "@llvm." in text:
                out["llvm_calls_intrinsic"] += 1
            if _MATH_NAMES.search(text):
                out["llvm_calls_math"] += 1
            if "NRT_MemInfo_alloc" in text or "NRT_Allocate" in text:
                out["llvm_calls_alloc"] += 1
            if "do_scheduling" in text or "parfor" in text or "__gufunc__" in text:
                out["llvm_calls_parallel"] += 1
        if re.search(r"\b(fast|reassoc|contract)\b", text) and opcode.startswith("f"):
            out["llvm_fastmath"] += 1
    for name in LLVM_CLASSES:
        out[f"llvm_{name}"] = float(classes[name])
    out["llvm_functions"] = float(functions)
    out["llvm_blocks"] = float(blocks)
    out["llvm_vector_lanes"] = float(lanes)
    total = out["llvm_instructions"]
    out["llvm_vector_fraction"] = out["llvm_vector_ops"] / total if total else 0.0
    return out


def _llvmlite_instructions(llvm_ir: str) -> list[tuple[str, object]] | None:
    try:
        import llvmlite.binding as llvm

        module = llvm.parse_assembly(llvm_ir)
    except Exception:  # not parseable by this LLVM (or llvmlite missing): fall back to text
        return None
    items: list[tuple[str, object]] = []
    for function in module.functions:
        if function.is_declaration:
            continue
        items.append(("function", None))
        for block in function.blocks:
            items.append(("block", None))
            for instruction in block.instructions:
                items.append(("instruction", (instruction.opcode, str(instruction))))
    return items


_DEFINE = re.compile(r"^define\b")
_LABEL = re.compile(r"^[\w.$\"-]+:")
_INSTRUCTION = re.compile(r"^\s+(?:%[\w.\"$-]+\s*=\s*)?(?:(?:tail|musttail|notail)\s+)?([a-z]+)\b")


def _text_instructions(llvm_ir: str) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    inside = False
    for line in llvm_ir.splitlines():
        if _DEFINE.match(line):
            inside = True
            items.append(("function", None))
            items.append(("block", None))  # the entry block has no label line
            continue
        if not inside:
            continue
        if line.startswith("}"):
            inside = False
        elif _LABEL.match(line):
            items.append(("block", None))
        elif (match := _INSTRUCTION.match(line)) is not None:
            items.append(("instruction", (match.group(1), line)))
    return items


# ---- hardware features ---------------------------------------------------------------------------------


def hardware_features(hardware: Hardware, threads: int, footprint_bytes: float) -> dict[str, float]:
    """The machine, the thread count, and how the working set compares with each cache level."""
    out = dict(hardware.as_features())
    out["hw_threads"] = float(threads)
    for level, size in (("l1", hardware.l1d_bytes), ("l2", hardware.l2_bytes), ("l3", hardware.l3_bytes)):
        out[f"hw_log_footprint_per_{level}"] = math.log2((1.0 + footprint_bytes) / max(1, size))
    return out


def features(
    body: Term,
    target: Target,
    derivation: tuple[str, ...],
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    hardware: Hardware,
    threads: int,
    llvm: Mapping[str, float] | None = None,
    default_size: int = 1000,
) -> dict[str, float]:
    """All feature groups for one candidate; `llvm` is `llvm_features` of its compiled IR, if any."""
    out = ir_features(body, target, derivation, arg_types, sizes, hardware, default_size)
    footprint = 2.0 ** out["ir_log_footprint"] - 1.0
    out.update(hardware_features(hardware, threads, footprint))
    if llvm:
        out.update({k: float(v) for k, v in llvm.items() if k in LLVM_COLUMNS})
    return out


# ---- from a measurement record ---------------------------------------------------------------------


def record_features(record: object) -> dict[str, float]:
    """Features of a measured candidate, recomputed from what its record holds (the candidate's
    source, argument types, sizes, hardware and LLVM counts), so old records gain new features."""
    from optcompiler import frontend
    from optcompiler.costmodel.dataset import Record
    from optcompiler.costmodel.hardware import Hardware

    assert isinstance(record, Record)
    name = record.source.split("def ", 1)[1].split("(", 1)[0].strip()
    kernel = frontend.lift_function(record.source, f"<record {record.kernel}>", name)
    arg_types = {
        n: ArgType(kind, dtype, int(ndim), tuple(dims))  # type: ignore[arg-type]
        for n, (kind, dtype, ndim, dims) in record.arg_types.items()
    }
    target = Target(record.target)  # type: ignore[arg-type]
    hardware = Hardware(**record.hardware)
    return features(
        kernel.body,
        target,
        tuple(record.derivation),
        arg_types,
        dict(record.sizes),
        hardware,
        record.threads,
        record.llvm,
    )
