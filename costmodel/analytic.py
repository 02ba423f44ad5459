"""Roofline-style analytic cost: the prior, the fallback and the baseline a learned model must beat.

Why analytic: optc ranks variants nobody has measured, on machines nobody has calibrated. A model
built from loop trip counts, operation counts and where each array access finds its data ranks the
classic choices (loop order, hoisting, vectorization, parallel or not) correctly from first
principles. The per-nest figures it computes (`loop_stats`) are hardware-independent and double as
features for the learned model.

Model (all figures per loop body, i.e. per iteration of the loop whose body holds the statements):

1. Trip counts. Loop bounds are evaluated at the size profile: size symbols (the names in
   `ArgType.dims`, and any name in `sizes`) take their size, `default_size` when missing;
   `A.shape[d]`, `len(A)`, `A.size` take A's dimension sizes; locals bound before the loop
   (`n, m = A.shape`, `n = A.shape[0]`, `n = len(x)`, `n = <int expr>`) are evaluated in program
   order, with integer arithmetic, `min`, `max`, `abs`, `int`. An inner bound that mentions an outer
   loop variable sees that variable's mean value, so triangular nests count half. Anything
   unevaluable makes the trip count `default_size`, except where the loop's variable subscripts a
   1-D array directly (`range(indptr[i], indptr[i + 1])` over `data[p]`, a CSR row; a `while` that
   steps `p += 1` over `data[p]`): then the loops around it are taken to walk that array once, so
   it runs extent / (their iterations) trips, at least 1. trip = max(0, ceil((hi - lo) / step));
   nested loops multiply. Other `while` loops are assumed to run `default_size` times; the
   variables assigned in their body act as their induction variables. A `range` loop with literal
   bounds and at most 16 trips (64 copies of the innermost body for a nest of them) is unrolled
   completely, as LLVM does: its body counts as straight-line code of the enclosing loop. Each
   branch of an `if` is weighted 0.5, except that a condition outside every loop that reads sizes alone (`if n > 0 and p > 0:`, the guard
   passes/idioms.py puts around a library call) is decided at the profile: its taken branch
   weighs 1, the other 0. `break`, `continue` and `return` are assumed not to shorten loops.

2. Work. Each statement counts weighted arithmetic ops (add/sub/mul/compare 1, division 4,
   integer // and % 8, pow 20 except small integer powers, sqrt 4, transcendentals 20, unknown
   calls 10), array loads and array stores.

3. Strides. An access is classified against the variable of its innermost enclosing loop v for
   C-contiguous arrays: `invariant` (v absent from the index), `unit` (v only in the last position,
   coefficient magnitude at most 1: `A[i, v]`, `A[i, v + 1]`), `strided` (v in another position,
   `B[v, j]`, or a larger last-position coefficient), `irregular` (v inside another array's index,
   `x[idx[v]]`). Locals defined from loop variables (`ii = i + 1`) are substituted.
   Invariant accesses cost nothing in that loop: they are charged to the nearest enclosing loop in
   which they vary, as loop-invariant code motion would (so hoisting by hand never looks worse).

4. Bytes and where they come from. Per iteration: unit -> itemsize; strided -> a 64 B line (or
   2 x itemsize when the whole array fits in L2) plus, when an outer loop walks along that line,
   the itemsize each element costs once at the outer level; irregular -> a 64 B line from the level
   that holds the whole array. A store that overwrites an element loaded in the same body only
   writes back (its line is in L1); any other store reads its line first (write-allocate) and
   writes back, twice the bytes. The level serving a term follows from its reuse distance, the
   bytes touched between two uses of the same data:
     * temporal reuse: the access is invariant in an outer loop L -> footprint of one iteration
       of L (each array's distinct bytes touched inside it, capped at the array's size);
     * spatial reuse of strided lines: footprint of one iteration of the loop walking the line;
     * group reuse: `a[i-1, j]` after `a[i+1, j]` -> offset x footprint of one iteration of the
       loop carrying the offset; same line (`a[i, j+1]` after `a[i, j]`) -> L1;
     * no reuse inside the nest -> the nest's working set (repeated calls keep it warm).
   A term is served by the nearest level whose usable capacity (75% of its size: set conflicts,
   prefetched and unrelated lines) holds the distance, at L1 64, L2 32, L3 16 bytes/cycle, or
   from DRAM at min(mem_bandwidth_gbs, 16 GB/s) for one core; strided and irregular DRAM traffic
   moves at half that (hardware prefetchers stop at page boundaries). A strided access touching
   more pages than a 64-entry DTLB maps adds ~2 cycles per page change (2 MiB pages for arrays of
   4 MiB and more, which NumPy backs with huge pages).

5. Compute. issue = max(flops / 2, loads / 2, stores / 1) cycles per iteration. An innermost loop
   whose accesses are all unit or invariant, with no carried accumulator (a scalar read before it
   is written in the body and written in the loop, `s += ...`, `acc = acc + ...`, or an invariant
   array element both loaded and stored, `C[i, j] += ...` in a k loop; an integer counter stepped
   by a constant, `count += 1`, is a reduction LLVM vectorizes), no `while`/`break`, no `if` but
   one LLVM turns into selects (a call-free condition over branches that only step scalar locals)
   and no transcendental calls (no SVML assumed) is vectorized: issue / lanes,
   lanes = simd_bytes / itemsize. A carried accumulator is latency-bound: ~4 cycles per dependent
   add or multiply (14 per division, 1 for an integer counter `k += 1`),
   compute = max(issue, chain latency). Index arithmetic is addressing and counts no flops.

6. Time. cycles per iteration = max(compute, memory) + loop overhead (1 cycle per innermost
   iteration, 1 / lanes when vectorized; 2 per iteration of an outer loop), times the body's
   executions, divided by the clock; summed over bodies and nests, plus 0.3 us call overhead.
   `njit-parallel`: a body under a `prange` loop (the outermost one on its path) divides compute,
   cache traffic and overhead by p = trips / ceil(trips / cores) (load balance included), and DRAM
   traffic by min(p, 2), capped by mem_bandwidth_gbs. That is an assumption, not a measurement: one
   core is limited by the misses it keeps in flight, and about two cores saturate the memory of a
   desktop or a small VM (a large server socket scales further; calibration will tell);
   each entry into a prange loop costs ~10 us (thread wake-up and scheduling). `njit` runs prange
   loops serially.

Array expressions are lowered to the loop nests Numba generates for them (outermost loop a prange,
as Numba's parfors make it under parallel=True); reductions (`np.sum`, `a.max()`, `np.dot` of
vectors) become accumulating loops; matrix products (`@` of any operands, vectors included: Numba
calls BLAS xdot for `x @ y`) are costed as a library call (BLAS at 70% of peak FMA throughput on all
cores, or its compulsory traffic at the bandwidth of the level that holds it, plus a measured
fixed cost a call: ~0.05 us for a dot, ~0.3 us for a matrix product).

Caveats: dtypes of scalar locals are unknown, so integer accumulators other than constant-step
counters (which LLVM does vectorize) are treated like float ones; aliasing, prefetch quality,
branch mispredictions and the effect of partial unrolling are ignored; `numpy` and `cuda` targets are not modelled here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from optcompiler.costmodel.hardware import Hardware
from optcompiler.ir import ArgType, Target, Term, const, for_range, seq, var

Stride = Literal["invariant", "unit", "strided", "irregular"]
Level = Literal["L1", "L2", "L3", "DRAM"]

# ---- machine constants that Hardware does not describe (typical of current x86 cores) ------------

CACHE_LINE_BYTES = 64
PAGE_BYTES = 4096
HUGE_PAGE_BYTES = 2 * 1024 * 1024
HUGE_PAGE_THRESHOLD_BYTES = 4 * 1024 * 1024
DTLB_ENTRIES = 64
TLB_MISS_CYCLES = 2.0  # an L1 DTLB miss that hits the second-level TLB, mostly overlapped
USABLE_CACHE_FRACTION = (
    0.75  # set conflicts, prefetched and unrelated lines: caches hold less than their size
)
LEVEL_BYTES_PER_CYCLE = {"L1": 64.0, "L2": 32.0, "L3": 16.0}
SINGLE_CORE_DRAM_GBS = 16.0  # one core cannot keep more lines in flight than this
UNPREFETCHED_DRAM_FACTOR = 2.0  # hardware prefetchers stop at page boundaries: strided DRAM traffic
DRAM_SCALING_CORES = 2  # DRAM-bound nests stop scaling at about two cores
SCALAR_OPS_PER_CYCLE = 2.0
LOADS_PER_CYCLE = 2.0
STORES_PER_CYCLE = 1.0
INNER_LOOP_OVERHEAD_CYCLES = 1.0
OUTER_LOOP_OVERHEAD_CYCLES = 2.0
FMA_PORTS = 2
BLAS_EFFICIENCY = 0.7
# The fixed cost of one `@` in compiled code, measured with Numba 0.68 and OpenBLAS on tiny
# operands: a dot ~20 ns over the loop; a matrix product ~250 ns (shape checks, the result's
# allocation, the gemv/gemm call). Threaded BLAS waking its pool on a busy machine is not modelled.
DOT_CALL_SECONDS = 0.05e-6
MATMUL_CALL_SECONDS = 0.3e-6
NJIT_CALL_SECONDS = 0.3e-6
PARALLEL_REGION_SECONDS = 10e-6
# An array expression (`b[1:n-1] = a[1:n-1] + alpha * (a[:n-2] - ...)`) in plain njit: Numba
# computes it in a loop of its own into a fresh temporary, with broadcasting index arithmetic and
# no SIMD, then copies: ~4-7 ns an element more than the loop it replaces on the 2.1 GHz Xeon of
# costmodel/data/aab01f153ef2 (heat1d, jacobi1d, gemv_t, rank1_update, gemm_axpby slice variants
# 4-19x slower than their loops). Under parallel=True such statements become parfors instead.
ARRAY_EXPR_CYCLES = 10.0
# A prange region in a kernel that also calls a multithreaded BLAS waits for cores while the BLAS
# threads spin after their call: 3.8 ms instead of 10 us on 16 cores (bench/parallel_probe.py),
# taken as growing with the threads that spin.
BLAS_SPIN_SECONDS_PER_CORE = 0.24e-3
BRANCH_WEIGHT = 0.5

# ---- operation weights --------------------------------------------------------------------------

OP_WEIGHTS = {
    "add": 1.0,
    "sub": 1.0,
    "mul": 1.0,
    "truediv": 4.0,
    "floordiv": 8.0,
    "mod": 8.0,
    "pow": 20.0,
    "matmul": 0.0,  # costed as a library call
    "neg": 1.0,
    "pos": 0.0,
    "not": 1.0,
    "invert": 1.0,
    "lt": 1.0,
    "le": 1.0,
    "gt": 1.0,
    "ge": 1.0,
    "eq": 1.0,
    "ne": 1.0,
    "and": 1.0,
    "or": 1.0,
    "ifexp": 1.0,
}
OP_LATENCY = {"truediv": 14.0, "floordiv": 24.0, "mod": 24.0, "pow": 40.0}
DEFAULT_LATENCY = 4.0  # dependent add, multiply, fma, min/max

CHEAP_CALLS = frozenset(
    "abs fabs min max minimum maximum fmin fmax floor ceil trunc rint round copysign sign "
    "int float bool isnan isinf isfinite where float64 float32 int64 int32".split()
)
FREE_CALLS = frozenset({"len", "range", "prange"})
SQRT_CALLS = frozenset({"sqrt", "cbrt", "reciprocal"})
TRANSCENDENTAL_CALLS = frozenset(
    "exp exp2 expm1 log log2 log10 log1p sin cos tan arcsin arccos arctan arctan2 asin acos atan atan2 "
    "sinh cosh tanh arcsinh arccosh arctanh asinh acosh atanh erf erfc gamma lgamma hypot power".split()
)
CALL_WEIGHTS = {
    **dict.fromkeys(CHEAP_CALLS, 1.0),
    **dict.fromkeys(FREE_CALLS, 0.0),
    **dict.fromkeys(SQRT_CALLS, 4.0),
    **dict.fromkeys(TRANSCENDENTAL_CALLS, 20.0),
}
UNKNOWN_CALL_WEIGHT = 10.0
CALL_LATENCY = {**dict.fromkeys(SQRT_CALLS, 16.0), **dict.fromkeys(TRANSCENDENTAL_CALLS, 40.0)}

ALLOCATORS = frozenset(
    {"zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like"}
)
REDUCTIONS = frozenset({"sum", "prod", "mean", "max", "min", "amax", "amin", "any", "all", "nansum"})
ELEMENTWISE_CALLS = CHEAP_CALLS | SQRT_CALLS | TRANSCENDENTAL_CALLS | {"square", "negative", "absolute"}
NUMPY_MODULES = frozenset({"np", "numpy"})

# ---- CPython interpreter costs, for estimate_python_seconds (CPython 3.11+, NumPy 2) -------------

PY_CALL_SECONDS = 0.1e-6
PY_LOOP_ITERATION_NS = 30.0
PY_NAME_NS = 2.0
PY_CONST_NS = 1.0
PY_OP_NS = 30.0  # arithmetic on Python or NumPy scalars
PY_POW_NS = 60.0
PY_ATTR_NS = 15.0
PY_INDEX_NS = 60.0  # + 25 ns per extra index position (tuple build, scalar boxing)
PY_INDEX_POSITION_NS = 25.0
PY_STORE_NS = 5.0
PY_MATH_CALL_NS = 45.0
PY_BUILTIN_CALL_NS = 60.0
PY_NUMPY_SCALAR_CALL_NS = 700.0  # np.sqrt(x) on one scalar goes through the ufunc machinery
PY_NUMPY_ARRAY_CALL_NS = 1500.0
PY_NUMPY_ELEMENT_NS = 1.0  # per element and operand of a vectorized NumPy operation
PY_UNKNOWN_CALL_NS = 150.0
PY_BLAS_FLOPS_PER_NS = 20.0  # NumPy's matmul/dot: a multithreaded BLAS, ~20 GFLOP/s

_SEVERITY: dict[str, int] = {"invariant": 0, "unit": 1, "strided": 2, "irregular": 3}


# ---- public results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """Bytes an access moves per execution, and the reuse distance that decides which level serves them.

    `reuse_bytes` None means no reuse inside the nest: the bytes come from wherever the nest's whole
    working set lives. `line` marks a strided line fetch, which costs 2 x itemsize instead when the
    array fits in L2.
    """

    bytes: float
    reuse_bytes: float | None
    line: bool = False


@dataclass(frozen=True)
class AccessStats:
    """One array reference, as charged to the loop body in which it varies."""

    array: str
    stride: Stride
    store: bool
    itemsize: int
    array_bytes: float
    per_iteration: float  # executions per iteration of the body it is charged to (branch weights)
    traffic: tuple[Traffic, ...]
    tlb_miss_rate: float  # DTLB misses per execution


@dataclass(frozen=True)
class BodyStats:
    """The statements directly inside one loop, and how often they run."""

    loop_vars: tuple[str, ...]  # induction variables of the loop (the for variable, or a while's)
    depth: int  # 1 for a nest's outermost loop
    trips: float  # per entry into the loop
    iterations: float  # executions of the body over one call, branch weights included
    innermost: bool
    flops: float  # weighted arithmetic ops per iteration
    loads: float  # array loads issued per iteration (hoisted invariants excluded)
    stores: float
    chain_cycles: float  # latency of the longest carried-accumulator update chain per iteration
    carried: tuple[str, ...]  # carried accumulators (scalars, or array elements as source text)
    vectorizable: bool
    itemsize: int  # widest element touched: sets the SIMD lanes
    parallel_trips: float  # trips of the outermost prange on the path (0 when none)
    accesses: tuple[AccessStats, ...]
    library_flops: float = 0.0  # per iteration, run by BLAS
    library_bytes: float = 0.0
    library_calls_seconds: float = 0.0  # per iteration: the fixed cost of the BLAS calls
    array_expr_elements: float = 0.0  # per iteration: elements computed by array expressions


@dataclass(frozen=True)
class LoopNestStats:
    """Per-nest figures the estimate is built from; reused as features by the learned model."""

    loop_vars: tuple[str, ...]  # induction variables along the deepest path, outermost first
    trips: tuple[float, ...]  # trip count per loop along that path
    kind: str  # outermost loop: "range", "prange", "while", or "array" for a lowered array expression
    depth: int
    iterations: float  # innermost-body executions
    flops: float
    loads: float
    stores: float
    footprint_bytes: float  # working set: distinct bytes the nest touches
    vectorizable: bool  # every innermost body vectorizes
    parallel: bool  # the outermost loop is a prange
    parallel_regions: float  # prange loops entered (parallel regions) under njit-parallel
    bodies: tuple[BodyStats, ...] = field(repr=False)

    def stride_counts(self) -> dict[str, float]:
        """Access executions per stride class: how much of the nest's traffic is unit, strided, ..."""
        counts = dict.fromkeys(_SEVERITY, 0.0)
        for body in self.bodies:
            for access in body.accesses:
                counts[access.stride] += body.iterations * access.per_iteration
        return counts


# ---- public functions ---------------------------------------------------------------------------


def estimate_seconds(
    body: Term,
    target: Target,
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    hardware: Hardware,
    default_size: int = 1000,
) -> float:
    """Predicted seconds for one call of `body` compiled for `target` on `hardware` at `sizes`."""
    if target.name in ("numpy", "cuda"):
        raise NotImplementedError(
            f"the analytic cost model does not model the {target.name!r} target yet; "
            "only 'njit' and 'njit-parallel' are estimated"
        )
    if target.name not in ("njit", "njit-parallel"):
        raise ValueError(f"unknown target {target.name!r}")
    return analysis_seconds(analyze(body, arg_types, sizes, default_size), target, hardware)


def analysis_seconds(analysis: Analysis, target: Target, hardware: Hardware) -> float:
    """`estimate_seconds` from an analysis already made (`analyze`): the learned model's features
    and the analytic estimate read one analysis of a candidate, not two."""
    return sum(analysis_breakdown(analysis, target, hardware).values())


PARTS = ("chain", "issue", "memory", "overhead", "library")


def analysis_breakdown(analysis: Analysis, target: Target, hardware: Hardware) -> dict[str, float]:
    """`analysis_seconds` split by what bounds it (`PARTS`): latency chains, instruction issue,
    cache and memory traffic, loop, call and thread start-up overhead, and library calls. Each
    body's time goes to the bound that decides it. The learned model reads the shares: where the
    analytic model errs depends mostly on which of its constants the time rests on."""
    if target.name not in ("njit", "njit-parallel"):
        raise ValueError(f"the analytic cost model estimates 'njit' and 'njit-parallel', not {target.name!r}")
    parallel = target.parallel
    parts = dict.fromkeys(PARTS, 0.0)
    parts["overhead"] = NJIT_CALL_SECONDS
    bodies = [(analysis.straight_working_set, analysis.straight)]
    bodies += [(nest.footprint_bytes, b) for nest in analysis.nests for b in nest.bodies]
    for working_set, body in bodies:
        for part, seconds in _body_parts(body, working_set, hardware, parallel).items():
            parts[part] += seconds
    if parallel:
        regions = sum(n.parallel_regions for n in analysis.nests)
        parts["overhead"] += regions * PARALLEL_REGION_SECONDS
        if any(b.library_flops for _, b in bodies):
            parts["overhead"] += regions * BLAS_SPIN_SECONDS_PER_CORE * hardware.cores
    return parts


def estimate_python_seconds(
    body: Term,
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    default_size: int = 1000,
) -> float:
    """Predicted seconds under CPython: interpreted ops per iteration at tens of ns each.

    Coarse on purpose: it answers "is compiling worth it" and fills reports, not rankings.
    """
    builder = _Builder(arg_types, sizes, default_size)
    root = builder.build(body)
    total_ns = 0.0
    for node in root.subtree():
        per_iteration = node.py_ns
        if node.kind in ("range", "prange", "while") and not node.implicit:
            per_iteration += PY_LOOP_ITERATION_NS
        per_iteration += node.library_flops / PY_BLAS_FLOPS_PER_NS
        total_ns += node.iterations() * per_iteration
    return PY_CALL_SECONDS + total_ns * 1e-9


def loop_stats(
    body: Term,
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    default_size: int = 1000,
) -> list[LoopNestStats]:
    """Hardware-independent figures per top-level loop nest, in program order."""
    return list(analyze(body, arg_types, sizes, default_size).nests)


def analyze(
    body: Term,
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    default_size: int = 1000,
) -> Analysis:
    """The hardware-independent analysis of a body at a size profile (what `loop_stats` and
    `estimate_seconds` are made of), memoized: ranking asks for one candidate's figures several
    times (its features, its analytic estimate, the original as the baseline), and the analysis is
    most of the cost of ranking. The result is immutable; `clear_analysis_cache` empties the memo."""
    return _analyze_memo(body, tuple(sorted(arg_types.items())), tuple(sorted(sizes.items())), default_size)


@functools.lru_cache(maxsize=1024)
def _analyze_memo(
    body: Term,
    arg_types: tuple[tuple[str, ArgType], ...],
    sizes: tuple[tuple[str, int], ...],
    default_size: int,
) -> Analysis:
    memo = _statement_memo((arg_types, sizes, default_size))
    return _analyze(body, dict(arg_types), dict(sizes), default_size, memo)


# Built loops and lowered array statements per size profile (`_Builder._for`, `_lower_arrays`): the
# candidates of one kernel are mostly the same statements, so building the second one copies them.
# A few profiles at a time (ranking asks for one; measuring a kernel, for its four sizes).
_STATEMENT_MEMOS: dict[object, dict[object, object]] = {}
_STATEMENT_MEMO_PROFILES = 4
_STATEMENT_MEMO_ENTRIES = 5_000  # a kernel of ~30 candidates makes ~350


def _statement_memo(profile: object) -> dict[object, object]:
    memo = _STATEMENT_MEMOS.pop(profile, None)
    if memo is None or len(memo) > _STATEMENT_MEMO_ENTRIES:
        memo = {}
    _STATEMENT_MEMOS[profile] = memo  # most recent last
    while len(_STATEMENT_MEMOS) > _STATEMENT_MEMO_PROFILES:
        del _STATEMENT_MEMOS[next(iter(_STATEMENT_MEMOS))]
    return memo


def clear_analysis_cache() -> None:
    """Forget every memoized analysis and statement (benchmarks time predictions from scratch)."""
    _analyze_memo.cache_clear()
    _STATEMENT_MEMOS.clear()
    _FORMS.clear()
    _TERM_FACTS.clear()
    _CANONICAL.clear()
    _CANONICAL_OF.clear()
    _TEXTS.clear()


def classify_stride(index: Term, loop_var: str) -> Stride:
    """Stride of `array[index]` with respect to `loop_var`, for a C-contiguous array.

    `index` is the index expression or a `tuple` term of them, as in an `index` term's second arg.
    """
    positions = index.args if index.op == "tuple" else (index,)
    forms = tuple(_linear_form(p, frozenset({loop_var}), {}, lambda _t: None) for p in positions)
    return _stride(forms, frozenset({loop_var}))


def _direct_subscripts(body: Term, name: str) -> Iterator[Term]:
    """The array of every `array[name]` and `array[name +- c]` in `body`."""
    for t in body.walk():
        if t.op == "index":
            index = t.args[1]
            if index.op == "tuple" and len(index.args) == 1:
                index = index.args[0]
            if index.op in ("add", "sub") and index.args[1].op == "const":
                index = index.args[0]
            if index.op == "var" and index.value == name:
                yield t.args[0]


UNROLL_TRIPS = 16  # LLVM unrolls a loop with literal bounds completely up to about this many trips
UNROLL_BODY_TRIPS = 64  # ... and a nest of such loops up to this many copies of its innermost body


def _computes_array(value: Term) -> bool:
    """An array statement's value that Numba computes element by element (arithmetic or an
    elementwise call), not a view, a copy, an allocation or a library call."""
    return value.op in _ELEMENTWISE_OPS or (value.op == "call" and _call_name(value) in ELEMENTWISE_CALLS)


def _unrolled_trips(stmt: Term, budget: float = UNROLL_BODY_TRIPS) -> float | None:
    """Trips of a `for` loop LLVM unrolls completely: literal integer bounds (`range(3)`, not
    `range(k.shape[0])`: the compiler sees only the literal), at most UNROLL_TRIPS trips, and a
    body free of `while` whose inner loops unroll too, UNROLL_BODY_TRIPS copies in all. None
    otherwise."""
    _, lo, hi, step, body = stmt.args
    bounds = (lo, hi, step)
    if stmt.value != "range" or any(b.op != "const" or not isinstance(b.value, int) for b in bounds):
        return None
    trips = trip_count(float(lo.value), float(hi.value), float(step.value), 0)
    if trips > UNROLL_TRIPS or trips > budget:
        return None
    stack = [body]
    while stack:
        t = stack.pop()
        if t.op == "while":
            return None
        if t.op == "for":
            if _unrolled_trips(t, budget / max(trips, 1.0)) is None:
                return None
            continue
        stack.extend(a for a in t.args if isinstance(a, Term))
    return trips


def _if_converted(stmt: Term) -> bool:
    """An `if` LLVM turns into selects, leaving its loop vectorizable: a call-free condition and
    branches that only step scalar locals by values already at hand (`count += 1`, `s += v`). A
    load inside a branch keeps it (`if i > 0: s += u[i - 1]` must not read u[-1] when i == 0), as
    do a store, a call, a loop or a jump."""
    if _has_op(stmt.args[0], _BRANCH_KEEPERS):
        return False
    for branch in stmt.args[1:]:
        for t in branch.args if branch.op == "seq" else (branch,):
            if t.op == "pass":
                continue
            if t.op != "augassign" or t.value not in ("add", "sub") or t.args[0].op != "var":
                return False
            if _has_op(t.args[1], _BRANCH_KEEPERS | {"index"}):
                return False
    return True


_BRANCH_KEEPERS = frozenset({"call", "for", "while", "if"})


def _has_op(t: Term, ops: frozenset[str]) -> bool:
    return any(u.op in ops for u in t.walk())


def _counters(body: Term) -> set[str]:
    """Names a loop body steps by a constant (`p += 1`) among its own statements."""
    statements = body.args if body.op == "seq" else (body,)
    return {
        t.args[0].value
        for t in statements
        if t.op == "augassign"
        and t.value in ("add", "sub")
        and t.args[0].op == "var"
        and t.args[1].op == "const"
    }


def trip_count(lo: float | None, hi: float | None, step: float | None, default_size: int) -> float:
    """max(0, ceil((hi - lo) / step)); `default_size` when a bound is unknown or the step is zero."""
    if lo is None or hi is None or step is None or step == 0:
        return float(default_size)
    return float(max(0, math.ceil((hi - lo) / step - 1e-9)))


# ---- affine index forms -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Affine:
    """sum(coeff * loop_var) + const over the loop variables in scope."""

    coeffs: tuple[tuple[str, float], ...]
    const: float

    def coeff(self, names: Iterable[str]) -> float:
        """Summed magnitude of the coefficients of `names`; memoized per set of loop variables."""
        if not isinstance(names, frozenset):
            return sum(abs(c) for v, c in self.coeffs if v in names)
        memo = self.__dict__.get("_coeff")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_coeff", memo)
        found = memo.get(names)
        if found is None:
            found = memo[names] = sum(abs(c) for v, c in self.coeffs if v in names)
        return found

    def variables(self) -> frozenset[str]:
        """Memoized (outside the fields: equality and hashing stay the coefficients'): every stride,
        home, footprint and charge of an access asks."""
        found = self.__dict__.get("_variables")
        if found is None:
            found = frozenset(v for v, c in self.coeffs if c != 0)
            object.__setattr__(self, "_variables", found)
        return found


@dataclass(frozen=True)
class _Opaque:
    """A non-affine index over `variables`; `indirect` when it reads another array."""

    variables_: frozenset[str]
    indirect: bool

    def variables(self) -> frozenset[str]:
        return self.variables_


_Form = _Affine | _Opaque


def _affine(coeffs: Mapping[str, float], constant: float) -> _Affine:
    if not coeffs:
        return _Affine((), constant)
    return _Affine(tuple(sorted((v, c) for v, c in coeffs.items() if c != 0)), constant)


def _combine(a: _Form, b: _Form, sign: float) -> _Form:
    if isinstance(a, _Affine) and isinstance(b, _Affine):
        coeffs = dict(a.coeffs)
        for v, c in b.coeffs:
            coeffs[v] = coeffs.get(v, 0.0) + sign * c
        return _affine(coeffs, a.const + sign * b.const)
    return _opaque(a, b)


def _opaque(*forms: _Form, indirect: bool = False) -> _Opaque:
    variables = frozenset().union(*(f.variables() for f in forms)) if forms else frozenset()
    return _Opaque(variables, indirect or any(isinstance(f, _Opaque) and f.indirect for f in forms))


def _scale(form: _Form, factor: float) -> _Form:
    if isinstance(form, _Opaque):
        return form
    return _affine({v: c * factor for v, c in form.coeffs}, form.const * factor)


def _linear_form(
    term: Term,
    loop_vars: frozenset[str],
    symbols: Mapping[str, _Form],
    evaluate: Callable[[Term], float | None],
) -> _Form:
    """Affine form of an index expression in the loop variables; other names are evaluated or dropped."""
    return _form_of(term, loop_vars, symbols, evaluate)


def _form_of(
    t: Term,
    loop_vars: frozenset[str],
    symbols: Mapping[str, _Form],
    evaluate: Callable[[Term], float | None],
) -> _Form:
    """`_linear_form`'s recursion: a module function (a nested one makes a reference cycle per call)."""
    op = t.op
    if op == "const":
        return _affine({}, float(t.value) if isinstance(t.value, (int, float)) else 0.0)
    if op == "var":
        if t.value in loop_vars:
            return _affine({t.value: 1.0}, 0.0)
        if t.value in symbols:
            return symbols[t.value]
        value = evaluate(t)
        return _affine({}, value if value is not None else 0.0)
    if op in ("add", "sub"):
        return _combine(
            _form_of(t.args[0], loop_vars, symbols, evaluate),
            _form_of(t.args[1], loop_vars, symbols, evaluate),
            1.0 if op == "add" else -1.0,
        )
    if op == "neg":
        return _scale(_form_of(t.args[0], loop_vars, symbols, evaluate), -1.0)
    if op == "pos":
        return _form_of(t.args[0], loop_vars, symbols, evaluate)
    if op == "mul":
        a, b = (
            _form_of(t.args[0], loop_vars, symbols, evaluate),
            _form_of(t.args[1], loop_vars, symbols, evaluate),
        )
        if isinstance(b, _Affine) and not b.coeffs:
            return _scale(a, b.const)
        if isinstance(a, _Affine) and not a.coeffs:
            return _scale(b, a.const)
        return _opaque(a, b)
    if op == "floordiv":
        a, b = (
            _form_of(t.args[0], loop_vars, symbols, evaluate),
            _form_of(t.args[1], loop_vars, symbols, evaluate),
        )
        if isinstance(b, _Affine) and not b.coeffs and b.const != 0:
            return _scale(a, 1.0 / b.const)  # i // 2 walks memory at half speed
        return _opaque(a, b)
    if op == "index":
        inner = [_form_of(p, loop_vars, symbols, evaluate) for p in _positions(t.args[1])]
        return _opaque(*inner, indirect=True)
    if op == "call":
        name = _call_name(t)
        args = [_form_of(a, loop_vars, symbols, evaluate) for a in t.args[1:] if a.op != "kw"]
        affine = [a for a in args if isinstance(a, _Affine)]
        if name in ("int", "min", "max", "abs") and affine and len(affine) == len(args):
            return max(affine, key=lambda a: len(a.coeffs))  # clamps keep the walking argument
        return _opaque(*args)
    if not t.args:
        return _affine({}, 0.0)
    return _opaque(*(_form_of(a, loop_vars, symbols, evaluate) for a in t.args))


# `_Builder._linear`'s memo: an index expression's form by what it reads of the builder's state.
_FORMS: dict[tuple[object, ...], _Form] = {}
_FORMS_MAX = 50_000
_LOOP_VARIABLE = ("loop variable",)  # a name's reading in a `_FORMS` key when it is a loop variable


@dataclass(frozen=True)
class _TermFacts:
    """What the builder asks of a term's syntax alone, found in one walk of it."""

    names: tuple[str, ...]  # variables, first occurrence first
    array_calls: bool  # a product, or a call that may reduce or multiply arrays (`_has_array_call`)
    assigned: frozenset[str]  # names assigned anywhere inside (`_assigned_scalars`)


# Per term object (a term's id, the term kept alive beside its facts): the candidates of a kernel
# hold many of their statements as the same objects.
_TERM_FACTS: dict[int, tuple[Term, _TermFacts]] = {}
_TERM_FACTS_MAX = 50_000
_ARRAY_CALLS = REDUCTIONS | {"dot", "matmul", "vdot", "inner", "norm"}


def _term_facts(t: Term) -> _TermFacts:
    hit = _TERM_FACTS.get(id(t))
    if hit is not None and hit[0] is t:
        return hit[1]
    names: dict[str, None] = {}
    array_calls = False
    assigned: set[str] = set()
    for sub in t.walk():
        op = sub.op
        if op == "var":
            names[sub.value] = None  # type: ignore[index]
        elif op == "matmul" or (op == "call" and _call_name(sub) in _ARRAY_CALLS):
            array_calls = True
        elif op in ("assign", "augassign"):
            targets = sub.args[0].args if sub.args[0].op == "tuple" else (sub.args[0],)
            assigned.update(str(x.value) for x in targets if x.op == "var")
    facts = _TermFacts(tuple(names), array_calls, frozenset(assigned))
    if len(_TERM_FACTS) >= _TERM_FACTS_MAX:
        _TERM_FACTS.clear()
    _TERM_FACTS[id(t)] = (t, facts)
    return facts


# One object per statement structure, by object: the memo keys of `_Builder` hold it, so a statement
# that candidates hold as equal but distinct objects is compared node by node once, not at every lookup.
_CANONICAL: dict[Term, Term] = {}
_CANONICAL_OF: dict[int, tuple[Term, Term]] = {}


def _canonical(stmt: Term) -> Term:
    hit = _CANONICAL_OF.get(id(stmt))
    if hit is not None and hit[0] is stmt:
        return hit[1]
    if len(_CANONICAL_OF) >= _TERM_FACTS_MAX:
        _CANONICAL.clear()
        _CANONICAL_OF.clear()
    found = _CANONICAL.setdefault(stmt, stmt)
    _CANONICAL_OF[id(stmt)] = (stmt, found)
    return found


def _var_names(t: Term) -> tuple[str, ...]:
    """The variables `t` reads, in order of first occurrence."""
    if t.op == "var":
        return (t.value,)  # type: ignore[return-value]
    if not t.args:
        return ()
    return _term_facts(t).names


def _stride(forms: Sequence[_Form], ivars: frozenset[str]) -> Stride:
    """Worst stride class over the index positions; see the module docstring, point 3."""
    worst: Stride = "invariant"
    last = len(forms) - 1
    for position, f in enumerate(forms):
        if f.variables().isdisjoint(ivars):
            continue
        if isinstance(f, _Opaque):
            kind: Stride = "irregular" if f.indirect else "strided"
        else:
            kind = "unit" if position == last and f.coeff(ivars) <= 1.0 else "strided"
        if _SEVERITY[kind] > _SEVERITY[worst]:
            worst = kind
    return worst


# ---- the analysis tree --------------------------------------------------------------------------


@dataclass
class _Array:
    shape: tuple[float, ...]
    itemsize: int
    base: str | None = None  # a view's underlying array: accesses through it touch the base's memory
    transposed: bool = False  # a `.T` view: its index positions walk the base's in reverse order
    # A slice view's index per base position: a fixed index term, or (None, lo, step) taking the
    # view's next index v as lo + step * v. `row = A[i]` maps row[j] to A[i, j].
    mapping: tuple[tuple[Term | None, float, float], ...] = ()

    @property
    def nbytes(self) -> float:
        return float(math.prod(self.shape)) * self.itemsize

    def key(self) -> tuple[object, ...]:
        """Everything the analysis reads of the array, for `_Builder.state`; made once (an array is
        never changed once made), the signs of its extents included (0.0 == -0.0)."""
        found = self.__dict__.get("_key")
        if found is None:
            signs = tuple(math.copysign(1.0, d) for d in self.shape)
            found = (self.shape, signs, self.itemsize, self.base, self.transposed, self.mapping)
            self.__dict__["_key"] = found
        return found


@dataclass
class _Access:
    array: str
    forms: tuple[_Form, ...]
    store: bool
    weight: float
    itemsize: int
    shape: tuple[float, ...]
    text: str
    _variables: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def variables(self) -> frozenset[str]:
        """The loop variables the index reads (memoized: every charge and footprint asks)."""
        if self._variables is None:
            found = frozenset().union(*(f.variables() for f in self.forms)) if self.forms else frozenset()
            self._variables = found
        return self._variables

    @property
    def nbytes(self) -> float:
        found = self.__dict__.get("_nbytes")  # memoized outside the fields, like `variables`
        if found is None:
            found = float(math.prod(self.shape)) * self.itemsize if self.shape else float(self.itemsize)
            self.__dict__["_nbytes"] = found
        return found


@dataclass(eq=False)
class _Node:
    """A loop (or the kernel's top level) while the analysis builds it."""

    kind: str  # "top" | "range" | "prange" | "while"
    ivars: frozenset[str]
    trips: float
    weight: float  # branch weight relative to one iteration of the parent
    parent: _Node | None
    implicit: bool = False  # lowered from an array expression
    children: list[_Node] = field(default_factory=list)
    accesses: list[_Access] = field(default_factory=list)
    flops: float = 0.0
    blocks_vectorization: bool = False  # if/while/break or a call LLVM will not vectorize
    defined: set[str] = field(default_factory=set)
    exposed: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    scalar_chains: dict[str, float] = field(default_factory=dict)
    # locals only ever stepped by an integer constant here (`count += 1`): LLVM vectorizes them
    counters: set[str] = field(default_factory=set)
    assigned: set[str] = field(default_factory=set)  # locals written any other way
    array_chains: list[tuple[_Access, float]] = field(default_factory=list)
    py_ns: float = 0.0
    library_flops: float = 0.0
    library_bytes: float = 0.0
    library_calls_seconds: float = 0.0
    array_expr_elements: float = 0.0
    _path: list[_Node] | None = field(default=None, repr=False)
    # The `_Builder.memo` key this loop was built under: every loop built under one key has the same
    # subtree, so what is computed from the subtree alone (footprints; a nest's statistics) is shared.
    origin: object = field(default=None, repr=False)

    def path(self) -> list[_Node]:
        """Loops from the nest's outermost down to this one (the top level excluded). Memoized: a
        node's parents never change, and the statistics ask for every node's path many times."""
        if self._path is None:
            nodes: list[_Node] = []
            node: _Node | None = self
            while node is not None and node.kind != "top":
                nodes.append(node)
                node = node.parent
            self._path = nodes[::-1]
        return list(self._path)

    def iterations(self) -> float:
        total = 1.0
        node: _Node | None = self
        while node is not None:
            total *= node.trips * node.weight
            node = node.parent
        return total

    def entries(self) -> float:
        """How many times this loop starts over one call."""
        return self.weight * (self.parent.iterations() if self.parent is not None else 1.0)

    def subtree(self) -> Iterable[_Node]:
        yield self
        for child in self.children:
            yield from child.subtree()


_BuilderState = tuple[dict[str, float], dict[str, "_Form"], dict[str, _Array], int]


def _copy_subtree(node: _Node, parent: _Node | None, weight: float) -> _Node:
    """A copy of a built loop and its inner loops under `parent`. Only the nodes are new: a finished
    loop's accesses, name sets and chains are never changed again (reads and writes after it start
    at its parent), so the copies share them with the template."""
    copy = object.__new__(_Node)
    fields = dict(node.__dict__)
    fields["parent"] = parent
    fields["weight"] = weight
    fields["_path"] = None
    copy.__dict__ = fields
    copy.children = [_copy_subtree(c, copy, c.weight) for c in node.children]
    return copy


class _Builder:
    """Walks a kernel body in program order, evaluating sizes and recording work per loop."""

    def __init__(
        self,
        arg_types: Mapping[str, ArgType],
        sizes: Mapping[str, int],
        default_size: int,
        python_costs: bool = True,
        memo: dict[object, object] | None = None,
    ):
        self.sizes = sizes
        # Loops and array statements already analysed at this profile in this state (`_StatementMemo`):
        # the candidates of one kernel share most of their statements.
        self.memo = memo
        self.python_costs = python_costs  # `py_ns`: only estimate_python_seconds reads them
        self.default = default_size
        self.size_symbols = {d for t in arg_types.values() for d in t.dims} | set(sizes)
        self.env: dict[str, float] = {}
        self.symbols: dict[str, _Form] = {}
        self.arrays: dict[str, _Array] = {}
        self.fresh = 0
        self.implicit_depth = 0
        # what `_library` adds to which loop while `_lower_arrays` lowers a statement (None: not asked)
        self._library_calls: list[tuple[_Node, float, float, float]] | None = None
        for name, t in arg_types.items():
            if t.kind == "array":
                ndim = max(t.ndim, len(t.dims), 1)
                dims = [float(sizes.get(d, default_size)) for d in t.dims]
                dims += [float(default_size)] * (ndim - len(dims))
                self.arrays[name] = _Array(tuple(dims), _itemsize(t.dtype))

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, t: Term) -> float | None:
        """Numeric value of a scalar size expression at the profile, None when unknown."""
        op = t.op
        if op == "const":
            v = t.value
            return float(v) if isinstance(v, (int, float)) else None
        if op == "var":
            return self._evaluate_name(t.value)  # type: ignore[arg-type]
        if op == "index" and t.args[0].op == "attr" and t.args[0].value == "shape":
            array = self._array_of(t.args[0].args[0])
            d = self.evaluate(t.args[1])
            if array is None or d is None or not array.shape:
                return float(self.default) if d is not None else None
            d = int(d)
            return array.shape[d] if -len(array.shape) <= d < len(array.shape) else None
        if op == "attr" and t.value in ("size", "ndim"):
            array = self._array_of(t.args[0])
            if array is None:
                return None
            return float(math.prod(array.shape)) if t.value == "size" else float(len(array.shape))
        if op == "call":
            name = _call_name(t)
            args = [a for a in t.args[1:] if a.op != "kw"]
            if name == "len" and len(args) == 1:
                array = self._array_of(args[0])
                if array is not None:
                    return array.shape[0] if array.shape else float(self.default)
                return None
            values = [self.evaluate(a) for a in args]
            if not values or any(v is None for v in values):
                return None
            if name in ("int", "round", "floor") and len(values) == 1:
                return float(math.floor(values[0]))
            if name == "ceil" and len(values) == 1:
                return float(math.ceil(values[0]))
            if name in ("min", "max", "abs"):
                return float({"min": min, "max": max, "abs": lambda *v: abs(v[0])}[name](*values))
            return None
        if op == "neg":
            v = self.evaluate(t.args[0])
            return -v if v is not None else None
        if op in ("add", "sub", "mul", "floordiv", "mod", "truediv", "pow"):
            a, b = self.evaluate(t.args[0]), self.evaluate(t.args[1])
            if a is None or b is None:
                return None
            try:
                return float(_ARITHMETIC[op](a, b))
            except (ZeroDivisionError, OverflowError, ValueError):
                return None
        return None

    def _decide(self, t: Term) -> bool | None:
        """Truth of a condition on sizes (`n > 0 and p > 0`) at the profile, None when unknown."""
        if t.op in _COMPARISONS:
            a, b = self.evaluate(t.args[0]), self.evaluate(t.args[1])
            return None if a is None or b is None else _COMPARISONS[t.op](a, b)
        if t.op in ("and", "or"):
            a, b = self._decide(t.args[0]), self._decide(t.args[1])
            if a is None or b is None:
                return None
            return (a and b) if t.op == "and" else (a or b)
        if t.op == "not":
            a = self._decide(t.args[0])
            return None if a is None else not a
        return None

    def _array_of(self, t: Term) -> _Array | None:
        return self.arrays.get(t.value) if t.op == "var" else None

    def shape(self, t: Term) -> tuple[float, ...] | None:
        """Shape of an array-valued expression, None for scalars (and for what is not understood)."""
        op = t.op
        if op == "var":
            array = self.arrays.get(t.value)
            return array.shape if array is not None else None
        if op == "index":
            base = self.shape(t.args[0])
            if base is None:
                return None
            result: list[float] = []
            positions = _positions(t.args[1])
            for axis, p in enumerate(positions):
                extent = base[axis] if axis < len(base) else float(self.default)
                if p.op == "slice":
                    result.append(trip_count(*self._slice_bounds(p, extent), self.default))
                elif (inner := self.shape(p)) is not None:
                    result.extend(inner)
            result.extend(base[len(positions) :])
            return tuple(result) or None
        if op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", *_COMPARES):
            return _broadcast(self.shape(t.args[0]), self.shape(t.args[1]))
        if op in ("neg", "pos", "invert", "not"):
            return self.shape(t.args[0])
        if op == "matmul":
            return _matmul_shape(self.shape(t.args[0]), self.shape(t.args[1]))
        if op == "attr" and t.value == "T":
            inner = self.shape(t.args[0])
            return inner[::-1] if inner is not None else None
        if op == "call":
            return self._call_shape(t)
        return None

    def _call_shape(self, t: Term) -> tuple[float, ...] | None:
        name = _call_name(t)
        args = [a for a in t.args[1:] if a.op != "kw"]
        func = t.args[0]
        if name in ALLOCATORS:
            if name.endswith("_like"):
                return self.shape(args[0]) if args else None
            return self._shape_argument(args[0]) if args else None
        if name == "arange" and args:
            values = [self.evaluate(a) for a in args]
            if any(v is None for v in values):
                return (float(self.default),)
            lo, hi, step = (0.0, values[0], 1.0) if len(values) == 1 else (*values[:2], 1.0)
            if len(values) >= 3:
                step = values[2]
            return (trip_count(lo, hi, step, self.default),)
        if name == "copy":
            source = args[0] if args else func.args[0] if func.op == "attr" else None
            return self.shape(source) if source is not None else None
        if name in ("dot", "matmul") and len(args) == 2:
            a, b = self.shape(args[0]), self.shape(args[1])
            return _matmul_shape(a, b) if a is not None and b is not None else None
        if name in REDUCTIONS or name == "norm":
            return None
        if name in ELEMENTWISE_CALLS:
            shapes = [self.shape(a) for a in args]
            result = None
            for s in shapes:
                result = _broadcast(result, s)
            return result
        return None

    def _shape_argument(self, t: Term) -> tuple[float, ...]:
        parts = t.args if t.op == "tuple" else (t,)
        values = [self.evaluate(p) for p in parts]
        return tuple(float(v) if v is not None else float(self.default) for v in values)

    def _slice_bounds(self, s: Term, extent: float) -> tuple[float | None, float | None, float | None]:
        lo_t, hi_t, step_t = s.args
        step = 1.0 if _is_none(step_t) else self.evaluate(step_t)
        if step is None or step == 0:
            return None, None, None
        lo = self.evaluate(lo_t) if not _is_none(lo_t) else (0.0 if step > 0 else extent - 1)
        hi = self.evaluate(hi_t) if not _is_none(hi_t) else (extent if step > 0 else -1.0)
        if lo is not None and lo < 0 and not _is_none(lo_t):
            lo += extent
        if hi is not None and hi < 0 and not _is_none(hi_t):
            hi += extent
        if lo is not None:
            lo = min(max(lo, -1.0), extent)
        if hi is not None:
            hi = min(max(hi, -1.0), extent)
        return lo, hi, step

    # -- building ----------------------------------------------------------------------------

    def build(self, body: Term) -> _Node:
        root = _Node("top", frozenset(), 1.0, 1.0, None)
        self._block(body, root, 1.0, conditional=False)
        return root

    def _block(self, block: Term, node: _Node, weight: float, conditional: bool) -> None:
        for stmt in block.args if block.op == "seq" else (block,):
            self._stmt(stmt, node, weight, conditional)

    def _stmt(self, stmt: Term, node: _Node, weight: float, conditional: bool) -> None:
        op = stmt.op
        if op == "for":
            self._for(stmt, node, weight, conditional)
        elif op == "while":
            self._while(stmt, node, weight, conditional)
        elif op == "if":
            if not _if_converted(stmt):
                node.blocks_vectorization = True
            self._expr(stmt.args[0], node, weight)
            if self.python_costs:
                self._add_py(node, weight * (_py_expr_ns(stmt.args[0]) + PY_OP_NS))
            # outside loops no induction variable is in scope: a condition on sizes is decided
            taken = self._decide(stmt.args[0]) if node.kind == "top" else None
            weights = (BRANCH_WEIGHT,) * 2 if taken is None else (float(taken), float(not taken))
            for branch, share in zip(stmt.args[1:], weights, strict=True):
                self._block(branch, node, weight * share, conditional=True)
        elif op in ("assign", "augassign"):
            self._assignment(stmt, node, weight, conditional)
        elif op in ("expr", "return"):
            if stmt.args:
                value = stmt.args[0]
                if self.shape(value) is not None or _has_array_call(value, self):
                    name = self._fresh("t")
                    self._assignment(Term("assign", (var(name), value)), node, weight, conditional)
                else:
                    if self.python_costs:
                        self._add_py(node, weight * _py_expr_ns(value))
                    self._expr(value, node, weight)
        elif op in ("break", "continue"):
            node.blocks_vectorization = True
        elif op == "seq":
            self._block(stmt, node, weight, conditional)

    def state(self, node: _Node) -> tuple[object, ...]:
        """Everything building a statement under `node` reads besides the statement itself (the
        profile aside): locals' values (all floats; a -0.0 told from 0.0), affine symbols, arrays, the
        names made so far, the lowering depth and the loop variables in scope."""
        env = self.env
        negative_zeros = (
            frozenset(k for k, v in env.items() if v == 0 and math.copysign(1.0, v) < 0)
            if 0.0 in env.values()
            else frozenset()
        )
        arrays = frozenset((k, a.key()) for k, a in self.arrays.items())
        # an affine form's zero coefficients and constants are read through abs, comparisons and
        # sums that start at 0: their signs never show
        symbols = frozenset(self.symbols.items())
        return (
            self.fresh,
            self.implicit_depth,
            self._loop_vars(node),
            frozenset(env.items()),
            negative_zeros,
            symbols,
            arrays,
        )

    def _restore(self, after: _BuilderState) -> None:
        env, symbols, arrays, fresh = after
        self.env, self.symbols, self.arrays, self.fresh = dict(env), dict(symbols), dict(arrays), fresh

    def _snapshot(self) -> _BuilderState:
        return dict(self.env), dict(self.symbols), dict(self.arrays), self.fresh

    def _for(self, stmt: Term, node: _Node, weight: float, conditional: bool) -> None:
        """A loop, from `_memo` when this state has built it before: its subtree is copied under
        `node`, and what it did above itself is redone (its loop variable's write, the reads and
        writes of its body that reach the enclosing loops, the locals and arrays it leaves)."""
        unrolled = None if self.python_costs else _unrolled_trips(stmt)
        if unrolled is not None:
            self._unrolled_for(stmt, unrolled, node, weight, conditional)
            return
        if self.memo is None:
            self._build_for(stmt, node, weight, conditional)
            return
        # the enclosing loops' trips: a loop inside with a bound read from the data is estimated
        # from them (`_segment_trips`), and the state does not otherwise hold them
        key = ("for", _canonical(stmt), self.state(node), node.iterations())
        hit = self.memo.get(key)
        if hit is None:
            self._build_for(stmt, node, weight, conditional)
            child = node.children[-1]
            child.origin = key
            # the loop itself is the template: nothing changes a finished loop (`_copy_subtree`)
            self.memo[key] = (child, self._snapshot())
            return
        template, after = hit  # type: ignore[misc]
        child = _copy_subtree(template, node, weight)
        node.children.append(child)
        self._write(stmt.args[0].value, node, conditional)
        for name in sorted(child.exposed):
            self._read(name, node)
        if child.writes:
            current: _Node | None = node
            while current is not None:
                current.writes |= child.writes
                current = current.parent
        self._restore(after)

    def _build_for(self, stmt: Term, node: _Node, weight: float, conditional: bool) -> None:
        loop_var, lo_t, hi_t, step_t, body = stmt.args
        lo, hi, step = self.evaluate(lo_t), self.evaluate(hi_t), self.evaluate(step_t)
        trips = trip_count(lo, hi, step, self.default)
        name = loop_var.value
        if lo is None or hi is None:
            trips = self._segment_trips(body, name, node, trips)
        child = _Node(stmt.value, frozenset({name}), trips, weight, node, implicit=self.implicit_depth > 0)
        node.children.append(child)
        self._write(name, node, conditional)
        child.defined.add(name)
        saved = self.env.get(name)
        if lo is not None and step is not None:
            self.env[name] = lo + step * max(trips - 1.0, 0.0) / 2.0  # mean value for inner bounds
        else:
            self.env.pop(name, None)
        self.symbols.pop(name, None)
        self._block(body, child, 1.0, conditional=False)
        self.env.pop(name, None)
        if saved is not None:
            self.env[name] = saved

    def _unrolled_for(self, stmt: Term, trips: float, node: _Node, weight: float, conditional: bool) -> None:
        """A loop LLVM unrolls completely (`_unrolled_trips`): its body, `trips` times over, is
        straight-line code of the enclosing loop, which may then vectorize (a 3x3 stencil's taps
        are no loop of their own). The variable reads as its mean value, as for inner bounds."""
        loop_var, lo_t, _, step_t, body = stmt.args
        name = loop_var.value
        self._write(name, node, conditional)
        saved = self.env.get(name)
        self.env[name] = float(lo_t.value) + float(step_t.value) * max(trips - 1.0, 0.0) / 2.0
        self.symbols.pop(name, None)
        self._block(body, node, weight * trips, conditional)
        self.env.pop(name, None)
        if saved is not None:
            self.env[name] = saved

    def _segment_trips(self, body: Term, name: str, node: _Node, default: float) -> float:
        """Trips of a loop whose bounds are data (`range(indptr[i], indptr[i + 1])`, a CSR row):
        where its variable subscripts a 1-D array directly, the loops around it together walk that
        array about once (rows partition the stored entries), so one entry runs extent / (the
        enclosing iterations) trips. Without such a subscript, `default`."""
        extents = [
            array.shape[0]
            for a in _direct_subscripts(body, name)
            if (array := self._array_of(a)) is not None and len(array.shape) == 1
        ]
        if not extents:
            return default
        return max(1.0, min(extents) / max(node.iterations(), 1.0))

    def _while(self, stmt: Term, node: _Node, weight: float, conditional: bool) -> None:
        cond, body = stmt.args
        assigned = frozenset(_assigned_scalars(body)) - set(self.arrays)
        trips = float(self.default)
        for name in sorted(_counters(body)):  # `while p < end: ...; p += 1` walks a segment
            trips = self._segment_trips(body, name, node, trips)
        child = _Node("while", assigned, trips, weight, node)
        child.blocks_vectorization = True
        node.children.append(child)
        for name in assigned:
            self.env.pop(name, None)
            self.symbols.pop(name, None)
        self._expr(cond, child, 1.0)
        if self.python_costs:
            self._add_py(child, _py_expr_ns(cond))
        self._block(body, child, 1.0, conditional=False)

    def _assignment(self, stmt: Term, node: _Node, weight: float, conditional: bool) -> None:
        target, value = stmt.args
        lowered = self._lower_arrays(stmt, node, weight) if self.implicit_depth < _MAX_LOWERING else None
        if lowered is not None:
            if self.implicit_depth == 0 and _computes_array(value):
                shape = self.shape(value)
                if shape:  # Numba's array-expression loop over a temporary (`ARRAY_EXPR_CYCLES`)
                    node.array_expr_elements += weight * math.prod(shape)
            aliasing = not lowered and value.op == "var"
            if self.python_costs:
                self._add_py(node, weight * (PY_STORE_NS if aliasing else _py_numpy_ns(stmt, self)))
            self.implicit_depth += 1
            try:
                for part in lowered:
                    self._stmt(part, node, weight, conditional)
            finally:
                self.implicit_depth -= 1
            return
        if self.python_costs:
            self._add_py(node, weight * (_py_expr_ns(value) + _py_target_ns(target, stmt.op)))
        if stmt.op == "augassign":
            self._augassign(stmt, node, weight, conditional)
            return
        self._expr(value, node, weight)
        if target.op == "var":
            name = target.value
            self._chain(name, value, node, weight, extra=0.0)
            self._write(name, node, conditional)
            self._bind(name, value, node)
        elif target.op == "tuple":
            sources = value.args if value.op == "tuple" and len(value.args) == len(target.args) else None
            shape_of = (
                self._array_of(value.args[0]) if value.op == "attr" and value.value == "shape" else None
            )
            for position, element in enumerate(target.args):
                if element.op != "var":
                    self._expr(element, node, weight, store=True)
                    continue
                self._write(element.value, node, conditional)
                self.symbols.pop(element.value, None)
                self.arrays.pop(element.value, None)
                if sources is not None:
                    self._chain(element.value, sources[position], node, weight, extra=0.0)
                    self._bind(element.value, sources[position], node)
                elif shape_of is not None and position < len(shape_of.shape):
                    self.env[element.value] = shape_of.shape[position]
                else:
                    self.env.pop(element.value, None)
        else:
            self._expr(target, node, weight, store=True, value=value)

    def _augassign(self, stmt: Term, node: _Node, weight: float, conditional: bool) -> None:
        target, value = stmt.args
        op_name = str(stmt.value)
        node.flops += weight * OP_WEIGHTS.get(op_name, 1.0)
        self._expr(value, node, weight)
        latency = OP_LATENCY.get(op_name, DEFAULT_LATENCY)
        counter = op_name in ("add", "sub") and value.op == "const" and isinstance(value.value, int)
        if counter:
            latency = 1.0  # a counter: integer add, one cycle
        if target.op == "var":
            self._read(target.value, node)
            self._chain(target.value, value, node, weight, extra=latency, counter=counter)
            self._write(target.value, node, conditional)
            if target.value in self.env:
                self._bind(target.value, Term(op_name, (target, value)), node)
        else:
            load = self._expr(target, node, weight)
            store = self._expr(target, node, weight, store=True, address_done=True)
            if store is not None and load is not None:
                node.array_chains.append((store, latency + _chain_latency(value, lambda t: t == target)))

    def _bind(self, name: str, value: Term, node: _Node) -> None:
        """Remember what a scalar local is: a number, an affine form of loop variables, or an alias."""
        self.arrays.pop(name, None)
        self.symbols.pop(name, None)
        self.env.pop(name, None)
        if value.op == "var" and value.value in self.arrays:
            self.arrays[name] = self.arrays[value.value]
            return
        loop_vars = self._loop_vars(node)
        form = self._linear(value, loop_vars)
        if not form.variables().isdisjoint(loop_vars):
            self.symbols[name] = form
            return
        number = self.evaluate(value)
        if number is not None:
            self.env[name] = number

    def _loop_vars(self, node: _Node) -> frozenset[str]:
        names: set[str] = set()
        current: _Node | None = node
        while current is not None:
            names |= current.ivars
            current = current.parent
        return frozenset(names)

    def _chain(
        self, name: str, value: Term, node: _Node, weight: float, extra: float, counter: bool = False
    ) -> None:
        (node.counters if counter else node.assigned).add(name)
        latency = extra + _chain_latency(value, lambda t: t.op == "var" and t.value == name)
        if latency > 0:
            node.scalar_chains[name] = node.scalar_chains.get(name, 0.0) + weight * latency

    def _read(self, name: str, node: _Node) -> None:
        current: _Node | None = node
        while current is not None and name not in current.defined:
            current.exposed.add(name)
            current = current.parent

    def _write(self, name: str, node: _Node, conditional: bool) -> None:
        current: _Node | None = node
        while current is not None:
            current.writes.add(name)
            current = current.parent
        if not conditional:
            node.defined.add(name)

    def _add_py(self, node: _Node, ns: float) -> None:
        if self.implicit_depth == 0:
            node.py_ns += ns

    def _expr(
        self,
        t: Term,
        node: _Node,
        weight: float,
        store: bool = False,
        value: Term | None = None,
        address_done: bool = False,
    ) -> _Access | None:
        """Count the work of an expression; record its array accesses. Returns a top-level access.

        Index arithmetic is address computation folded into the access, so it counts no flops.
        """
        op = t.op
        if op == "var":
            if not store and t.value not in self.arrays:
                self._read(t.value, node)
            return None
        if op == "const":
            return None
        if op == "index":
            flat = _flatten_index(t)
            if flat is None:
                for a in t.args:
                    self._expr(a, node, weight)
                return None
            name, positions = flat
            if not address_done:
                flops = node.flops
                for p in positions:
                    self._expr(p, node, weight)
                node.flops = flops
            access = self._access(name, positions, node, weight, store)
            node.accesses.append(access)
            if store and value is not None:
                target = t
                latency = _chain_latency(value, lambda x: x == target)
                if latency > 0:
                    node.array_chains.append((access, latency))
            return access
        if op == "attr":
            if t.args and t.args[0].op != "var":
                self._expr(t.args[0], node, weight)
            return None
        if op == "call":
            name = _call_name(t)
            weight_of_call = CALL_WEIGHTS.get(name, UNKNOWN_CALL_WEIGHT)
            args = t.args[1:]
            if name in ("min", "max") and len(args) > 2:
                weight_of_call *= len(args) - 1
            node.flops += weight * weight_of_call
            if name not in CALL_WEIGHTS or weight_of_call >= CALL_WEIGHTS["exp"]:
                node.blocks_vectorization = True  # no SVML: libm and unknown calls stay scalar
            if t.args[0].op == "attr" and t.args[0].args[0].op not in ("var",):
                self._expr(t.args[0].args[0], node, weight)
            for a in args:
                self._expr(a, node, weight)
            return None
        if op == "pow":
            node.flops += weight * _pow_weight(t.args[1])
            for a in t.args:
                self._expr(a, node, weight)
            return None
        node.flops += weight * OP_WEIGHTS.get(op, 0.0)
        for a in t.args:
            self._expr(a, node, weight)
        return None

    def _access(
        self, name: str, positions: Sequence[Term], node: _Node, weight: float, store: bool
    ) -> _Access:
        array = self.arrays.get(name) or _Array((float(self.default),) * len(positions), 8)
        text = _access_text(name, positions)
        shape = array.shape
        if array.mapping:
            views = iter(positions)
            positions = [
                fixed if fixed is not None else _affine_term(lo, step, next(views, const(0)))
                for fixed, lo, step in array.mapping
            ] + list(views)
            shape = self.arrays[array.base].shape if array.base in self.arrays else shape
        loop_vars = self._loop_vars(node)
        forms = tuple(self._linear(p, loop_vars) for p in positions)
        if array.transposed:
            forms, shape = forms[::-1], shape[::-1]
        return _Access(array.base or name, forms, store, weight, array.itemsize, shape, text)

    def _linear(self, t: Term, loop_vars: frozenset[str]) -> _Form:
        """`_linear_form` of `t` here, memoized (`_FORMS`) by what it reads of this state: per name in
        `t`, whether it is a loop variable, its affine symbol, or else its value (`evaluate`, the sign
        of a zero included). Candidates share most of their index expressions and loop contexts."""
        names = _var_names(t)
        if not names:
            key: tuple[object, ...] = (t,)
        else:
            parts: list[object] = [t]
            symbols = self.symbols
            for name in names:
                if name in loop_vars:
                    parts.append(_LOOP_VARIABLE)
                elif name in symbols:
                    parts.append(symbols[name])
                else:
                    value = self._evaluate_name(name)
                    parts.append(value if value is None else (value, math.copysign(1.0, value)))
            key = tuple(parts)
        found = _FORMS.get(key)
        if found is None:
            found = _linear_form(t, loop_vars, self.symbols, self.evaluate)
            if len(_FORMS) >= _FORMS_MAX:
                _FORMS.clear()
            _FORMS[key] = found
        return found

    def _evaluate_name(self, name: str) -> float | None:
        """`evaluate` of the variable `name` (without making its term)."""
        if name in self.env:
            return self.env[name]
        if name in self.symbols:
            form = self.symbols[name]
            if isinstance(form, _Affine) and all(v in self.env for v, _ in form.coeffs):
                return form.const + sum(c * self.env[v] for v, c in form.coeffs)
            return None
        if name in self.arrays:
            return None
        if name in self.sizes:
            return float(self.sizes[name])
        if name in self.size_symbols:
            return float(self.default)
        return None

    def _fresh(self, stem: str) -> str:
        self.fresh += 1
        return f"__{stem}{self.fresh}"

    # -- array expressions -------------------------------------------------------------------

    def _lower_arrays(self, stmt: Term, node: _Node, weight: float) -> list[Term] | None:
        """The loop nests Numba generates for an array statement, or None for a scalar statement;
        from `_memo` when this state has lowered it before (unless it recorded a library call on
        `node`: that is not redone)."""
        target, value = stmt.args
        if not _has_array_call(value, self) and self.shape(value) is None and self._region(target) is None:
            return None
        if self.memo is None:
            return self._lower_array_statement(stmt, node, weight)
        canonical, state = _canonical(stmt), self.state(node)
        key = ("lower", canonical, state)
        # a statement that calls BLAS (`_library`) adds its calls to `node`, by the branch weight: its
        # lowering is remembered per weight too, with the amounts to add again, in their order
        library_key = ("lower library", canonical, state, weight, math.copysign(1.0, weight))
        hit = self.memo.get(key) or self.memo.get(library_key)
        if hit is not None:
            lowered, after, calls = hit  # type: ignore[misc]
            for flops, nbytes, seconds in calls:
                node.library_flops += flops
                node.library_bytes += nbytes
                node.library_calls_seconds += seconds
            self._restore(after)
            return list(lowered) if lowered is not None else None
        library = (node.library_flops, node.library_bytes, node.library_calls_seconds)
        outer, self._library_calls = self._library_calls, []
        try:
            lowered = self._lower_array_statement(stmt, node, weight)
            recorded = self._library_calls
        finally:
            self._library_calls = outer
        if outer is not None:
            outer.extend(recorded)
        template = tuple(lowered) if lowered is not None else None
        if library == (node.library_flops, node.library_bytes, node.library_calls_seconds):
            self.memo[key] = (template, self._snapshot(), ())
        elif all(on is node for on, *_ in recorded):
            calls = tuple((flops, nbytes, seconds) for _, flops, nbytes, seconds in recorded)
            self.memo[library_key] = (template, self._snapshot(), calls)
        return lowered

    def _lower_array_statement(self, stmt: Term, node: _Node, weight: float) -> list[Term] | None:
        target, value = stmt.args
        pre: list[Term] = []
        value = self._extract_calls(value, pre, node, weight)
        value_shape = self.shape(value)
        if stmt.op == "assign" and target.op == "var":
            view = self._view(value)
            if view is not None:
                self.arrays[target.value] = view  # a name or a view of existing memory: no copy
                self.env.pop(target.value, None)
                self.symbols.pop(target.value, None)
                return pre
            if value_shape is None:
                return [*pre, Term("assign", (target, value))] if pre else None
            self.arrays[target.value] = _Array(value_shape, self._itemsize_of(value))
            self.env.pop(target.value, None)
            self.symbols.pop(target.value, None)
            if _call_name(value) in ("empty", "empty_like") and value.op == "call":
                return pre
            region = value_shape
        else:
            region = self._region(target)
            if region is None:
                return [*pre, Term(stmt.op, (target, value), stmt.value)] if pre else None
        evars = [self._fresh("e") for _ in region]
        lhs = self._scalarize(target, evars, region)
        rhs = self._scalarize(value, evars, region)
        if target.op == "index" and value_shape is not None and self._view(value) is None:
            # Numba evaluates an array expression into a new array, then copies it into the slice
            tmp = self._temporary(value_shape, self._itemsize_of(value), value, pre)
            rhs = self._scalarize(var(tmp), evars, region)
        inner = Term(stmt.op, (lhs, rhs), stmt.value)
        return [*pre, self._nest(evars, region, inner)]

    def _temporary(self, shape: tuple[float, ...], itemsize: int, value: Term, pre: list[Term]) -> str:
        """A fresh array holding `value`, computed by a nest appended to `pre`."""
        tmp = self._fresh("t")
        evars = [self._fresh("e") for _ in shape]
        element = self._scalarize(value, evars, shape)
        self.arrays[tmp] = _Array(tuple(shape), itemsize)
        store = Term("assign", (_element(var(tmp), [var(e) for e in evars]), element))
        pre.append(self._nest(evars, shape, store))
        return tmp

    def _view(self, t: Term) -> _Array | None:
        """What `t` is when it is an existing array, a `.T` or a basic slice of one (no data moves)."""
        if t.op == "var":
            return self.arrays.get(t.value)
        if t.op == "attr" and t.value == "T" and (inner := self._view(t.args[0])) is not None:
            base = inner.base or (t.args[0].value if t.args[0].op == "var" else None)
            return _Array(inner.shape[::-1], inner.itemsize, base, not inner.transposed)
        if t.op == "index" and t.args[0].op == "var" and (inner := self.arrays.get(t.args[0].value)):
            positions = _positions(t.args[1])
            basic = all(p.op == "slice" or self.shape(p) is None for p in positions)
            shape = self.shape(t)
            if not basic or shape is None:
                return None
            if inner.base is not None:  # a view of a view: keep the memory, drop the index mapping
                return _Array(shape, inner.itemsize, inner.base, inner.transposed)
            mapping: list[tuple[Term | None, float, float]] = []
            for axis, p in enumerate(positions):
                if p.op == "slice":
                    extent = inner.shape[axis] if axis < len(inner.shape) else float(self.default)
                    lo, _, step = self._slice_bounds(p, extent)
                    mapping.append((None, lo or 0.0, step or 1.0))
                else:
                    mapping.append((p, 0.0, 1.0))
            return _Array(shape, inner.itemsize, t.args[0].value, mapping=tuple(mapping))
        return None

    def _region(self, target: Term) -> tuple[float, ...] | None:
        if target.op == "index" or (target.op == "var" and target.value in self.arrays):
            return self.shape(target)
        return None

    def _nest(self, evars: Sequence[str], shape: Sequence[float], inner: Term) -> Term:
        body = inner
        for depth in reversed(range(len(evars))):
            kind = "prange" if depth == 0 else "range"
            body = for_range(evars[depth], const(0), const(int(shape[depth])), const(1), seq(body), kind)
        return body

    def _itemsize_of(self, t: Term) -> int:
        for kw in (a for a in t.args if a.op == "kw" and a.value == "dtype"):
            return _itemsize(_dtype_name(kw.args[0]))
        sizes = [self.arrays[v.value].itemsize for v in t.walk() if v.op == "var" and v.value in self.arrays]
        return max(sizes, default=8)

    def _extract_calls(self, t: Term, pre: list[Term], node: _Node, weight: float) -> Term:
        """Replace reductions and matrix products inside `t` by temporaries computed in `pre`."""
        if not t.args:
            return t
        args = tuple(self._extract_calls(a, pre, node, weight) for a in t.args)
        t = Term(t.op, args, t.value) if args != t.args else t
        if t.op == "matmul":
            return self._library(t.args[0], t.args[1], node, weight) or t
        if t.op != "call":
            return t
        name = _call_name(t)
        positional = [a for a in t.args[1:] if a.op != "kw"]
        func = t.args[0]
        receiver = func.args[0] if func.op == "attr" and self.shape(func.args[0]) is not None else None
        operands = [receiver, *positional] if receiver is not None else positional
        if name in ("dot", "matmul", "vdot", "inner") and len(operands) == 2:
            a, b = self.shape(operands[0]), self.shape(operands[1])
            if a is not None and b is not None and (len(a) > 1 or len(b) > 1):
                return self._library(operands[0], operands[1], node, weight) or t
            if a is not None and b is not None:
                return self._reduce("sum", Term("mul", (operands[0], operands[1])), None, pre)
        if name in REDUCTIONS and operands and self.shape(operands[0]) is not None:
            axis_term = _keyword(t, "axis") or (
                positional[1] if receiver is None and len(positional) > 1 else None
            )
            axis = self.evaluate(axis_term) if axis_term is not None else None
            return self._reduce(name, operands[0], None if axis is None else int(axis), pre)
        if name == "norm" and operands and self.shape(operands[0]) is not None:
            total = self._reduce("sum", Term("mul", (operands[0], operands[0])), None, pre)
            return Term("call", (var("sqrt"), total))
        return t

    def _reduce(self, name: str, operand: Term, axis: int | None, pre: list[Term]) -> Term:
        shape = self.shape(operand) or (float(self.default),)
        if self.shape(operand) is not None and self._view(operand) is None:
            # `np.sum(x * y)`: Numba makes the array `x * y` first, then reduces it
            operand = var(self._temporary(shape, self._itemsize_of(operand), operand, pre))
        result = self._fresh("r")
        evars = [self._fresh("e") for _ in shape]
        element = self._scalarize(operand, evars, shape)
        if axis is None or len(shape) < 2:
            acc: Term = var(result)
            pre.append(Term("assign", (acc, const(0.0))))
        else:
            axis %= len(shape)
            kept = [var(e) for d, e in enumerate(evars) if d != axis]
            self.arrays[result] = _Array(tuple(s for d, s in enumerate(shape) if d != axis), 8)
            acc = _element(var(result), kept)
        if name in ("max", "min", "amax", "amin"):
            update = Term("assign", (acc, Term("call", (var(name.removeprefix("a")), acc, element))))
        else:
            op_name = {"prod": "mul", "any": "or", "all": "and"}.get(name, "add")
            update = Term("augassign", (acc, element), op_name)
        pre.append(self._nest(evars, shape, update))
        if name == "mean" and axis is None:
            pre.append(Term("assign", (acc, Term("truediv", (acc, const(float(math.prod(shape))))))))
        return var(result)

    def _library(self, a: Term, b: Term, node: _Node, weight: float) -> Term | None:
        """A matrix product runs in BLAS: record its flops and compulsory bytes, return its result.

        Two vectors make a dot product (BLAS xdot, as `x @ y` is in Numba) with a scalar result;
        an operand used twice (`x @ x`, `A @ A`) is read from memory once."""
        sa, sb = self.shape(a), self.shape(b)
        if sa is None or sb is None:
            return None
        result_shape = () if len(sa) == 1 and len(sb) == 1 else _matmul_shape(sa, sb)
        if result_shape is None:
            return None
        inner = sa[-1]
        itemsize = max(self._itemsize_of(a), self._itemsize_of(b))
        operands = math.prod(sa) + (0.0 if a == b else math.prod(sb))
        flops = weight * 2.0 * math.prod(result_shape) * inner
        nbytes = weight * itemsize * (operands + math.prod(result_shape))
        seconds = weight * (MATMUL_CALL_SECONDS if result_shape else DOT_CALL_SECONDS)
        node.library_flops += flops
        node.library_bytes += nbytes
        node.library_calls_seconds += seconds
        if self._library_calls is not None:
            self._library_calls.append((node, flops, nbytes, seconds))
        name = self._fresh("m")
        if result_shape:
            self.arrays[name] = _Array(result_shape, itemsize)
        return var(name)

    def _scalarize(self, t: Term, evars: Sequence[str], shape: Sequence[float]) -> Term:
        """The element of array expression `t` at loop variables `evars` (right-aligned broadcasting)."""
        rank = len(shape)
        op = t.op
        if op == "var" and t.value in self.arrays:
            dims = self.arrays[t.value].shape
            return _element(t, self._broadcast_index(dims, evars, shape))
        if op == "attr" and t.value == "T" and t.args[0].op == "var" and t.args[0].value in self.arrays:
            dims = self.arrays[t.args[0].value].shape[::-1]
            return _element(t.args[0], self._broadcast_index(dims, evars, shape)[::-1])
        if op == "index" and (sub := self.shape(t)) is not None:
            base = self.shape(t.args[0]) or ()
            offset = rank - len(sub)
            consumed = 0
            index: list[Term] = []
            positions = _positions(t.args[1])
            for axis, p in enumerate(positions):
                extent = base[axis] if axis < len(base) else float(self.default)
                if p.op == "slice":
                    lo, _, step = self._slice_bounds(p, extent)
                    e = self._result_var(evars, shape, offset + consumed, sub[consumed])
                    index.append(_affine_term(lo or 0.0, step or 1.0, e))
                    consumed += 1
                elif (inner := self.shape(p)) is not None:
                    start, stop = offset + consumed, offset + consumed + len(inner)
                    index.append(self._scalarize(p, evars[start:stop], shape[start:stop]))  # gather
                    consumed += len(inner)
                else:
                    index.append(p)
            for _ in range(len(positions), len(base)):
                index.append(self._result_var(evars, shape, offset + consumed, sub[consumed]))
                consumed += 1
            return _element(t.args[0], index)
        if op == "call":
            name = _call_name(t)
            args = [a for a in t.args[1:] if a.op != "kw"]
            if name in ALLOCATORS:
                fill = {"zeros": 0.0, "zeros_like": 0.0, "ones": 1.0, "ones_like": 1.0}.get(name)
                if fill is not None:
                    return const(fill)
                return args[1] if name.startswith("full") and len(args) > 1 else const(0.0)
            if name == "arange":
                return var(evars[-1])
            if name == "copy":
                func = t.args[0]
                source = args[0] if args else func.args[0] if func.op == "attr" else None
                return self._scalarize(source, evars, shape) if source is not None else t
            if name == "where" and len(args) == 3:
                cond, a, b = (self._scalarize(x, evars, shape) for x in args)
                return Term("ifexp", (cond, a, b))
            if name in ELEMENTWISE_CALLS:
                return Term("call", (t.args[0], *(self._scalarize(a, evars, shape) for a in args)))
            return t
        if op in _ELEMENTWISE_OPS:
            return Term(op, tuple(self._scalarize(a, evars, shape) for a in t.args), t.value)
        return t

    def _broadcast_index(
        self, dims: Sequence[float], evars: Sequence[str], shape: Sequence[float]
    ) -> list[Term]:
        offset = len(shape) - len(dims)
        return [
            const(0) if dims[d] == 1 and shape[offset + d] != 1 else var(evars[offset + d])
            for d in range(len(dims))
            if offset + d >= 0
        ]

    @staticmethod
    def _result_var(evars: Sequence[str], shape: Sequence[float], position: int, extent: float) -> Term:
        if position >= len(evars) or (extent == 1 and shape[position] != 1):
            return const(0)
        return var(evars[position])


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b,
    "mod": lambda a, b: a % b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
_COMPARES = ("lt", "le", "gt", "ge", "eq", "ne")
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}
_ELEMENTWISE_OPS = frozenset(
    ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "invert", "not", *_COMPARES)
)
_MAX_LOWERING = 4  # array statements nest no deeper than this when lowered (a guard, never reached)


# ---- from the tree to statistics ----------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """What `analyze` finds in a body: its loop nests and the statements outside every loop."""

    nests: tuple[LoopNestStats, ...]
    straight: BodyStats
    straight_working_set: float


def _analyze(
    body: Term,
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    default_size: int,
    memo: dict[object, object] | None = None,
) -> Analysis:
    root = _Builder(arg_types, sizes, default_size, python_costs=False, memo=memo).build(body)
    nests = tuple(_shared_nest_stats(child, memo) for child in root.children)
    straight_ws = sum(a.nbytes for a in {acc.array: acc for acc in root.accesses}.values())
    footprints = _Footprints(memo)
    # an access of the top level is charged to the top level; every other is charged inside its nest
    straight = _body_stats(root, _charges((root,), footprints).get(id(root), []))
    _unlink(root)
    return Analysis(nests, straight, straight_ws)


def _unlink(root: _Node) -> None:
    """Drop the upward links of a finished tree (parents and the paths cached from them). Nothing
    reads them once the statistics are made (a memo's loop is only ever copied, and its copy gets
    its own parent), and without them the tree holds no reference cycle: what the memo keeps stays,
    the rest is freed at once instead of piling up for the cyclic garbage collector, whose full
    collections (over the whole heap) then came every few kernels."""
    stack = [root]
    while stack:
        node = stack.pop()
        node.parent = None
        node._path = None
        stack.extend(node.children)


def _shared_nest_stats(top: _Node, memo: dict[object, object] | None) -> LoopNestStats:
    """`_nest_stats` of a top-level loop, from `memo` when another candidate has the same loop (same
    `origin`) at the same branch weight: a top-level nest's figures depend on its subtree alone."""
    if memo is None or top.origin is None:
        return _nest_stats(top, memo)
    key = ("nest", top.origin, top.weight)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _nest_stats(top, memo)
    return found  # type: ignore[return-value]


class _Footprints:
    """Distinct bytes touched by one iteration (or all iterations) of a loop, memoized per loop, and
    in `memo` per `origin` (a loop's footprints depend on its subtree alone)."""

    def __init__(self, memo: dict[object, object] | None = None) -> None:
        self.cache: dict[tuple[int, bool], float] = {}
        self.memo = memo

    def __call__(self, node: _Node, include_self: bool) -> float:
        key = (id(node), include_self)
        found = self.cache.get(key)
        if found is None:
            shared = self.memo is not None and node.origin is not None
            if shared:
                found = self.memo.get(("footprint", node.origin, include_self))  # type: ignore[union-attr]
            if found is None:
                # a nest's outermost loop is asked for both footprints (its working set, and one
                # iteration's for the reuse distances below it): one walk of its subtree gives both
                outermost = node.kind != "top" and node.parent is not None and node.parent.kind == "top"
                if outermost:
                    both = self._compute_both(node)
                    for flag, value in zip((False, True), both, strict=True):
                        self.cache[(id(node), flag)] = value
                        if shared:
                            self.memo[("footprint", node.origin, flag)] = value  # type: ignore[index]
                    found = both[include_self]
                else:
                    found = self._compute(node, include_self)
                    if shared:
                        self.memo[("footprint", node.origin, include_self)] = found  # type: ignore[index]
            self.cache[key] = found
        return found

    @staticmethod
    def _compute_both(node: _Node) -> tuple[float, float]:
        """`_compute(node, False)` and `_compute(node, True)` of a loop in one walk: each product and
        footprint is accumulated separately, in the same order as either walk alone."""
        without: dict[str, float] = {}
        with_self: dict[str, float] = {}
        own_trips = max(node.trips, 1.0)
        stack: list[tuple[_Node, list[_Node]]] = [(node, [])]
        while stack:
            inner, below = stack.pop()
            for access in inner.accesses:
                variables = access.variables()
                last = access.forms[-1] if access.forms else None
                affine = isinstance(last, _Affine)
                distinct = distinct_self = 1.0
                granularity = granularity_self = float(CACHE_LINE_BYTES)
                if not variables.isdisjoint(node.ivars):
                    distinct_self *= own_trips
                    if affine and 0 < last.coeff(node.ivars) <= 1.0:  # type: ignore[union-attr]
                        granularity_self = float(access.itemsize)
                for loop in below:
                    if not variables.isdisjoint(loop.ivars):
                        trips = max(loop.trips, 1.0)
                        distinct *= trips
                        distinct_self *= trips
                        if affine and 0 < last.coeff(loop.ivars) <= 1.0:  # type: ignore[union-attr]
                            granularity = granularity_self = float(access.itemsize)
                if access.shape:
                    touched = min(access.nbytes, distinct * granularity)
                    touched_self = min(access.nbytes, distinct_self * granularity_self)
                else:
                    touched, touched_self = granularity, granularity_self
                name = access.array
                without[name] = max(without.get(name, 0.0), touched)
                with_self[name] = max(with_self.get(name, 0.0), touched_self)
            stack.extend((c, [*below, c]) for c in reversed(inner.children))
        return sum(without.values()), sum(with_self.values())

    @staticmethod
    def _compute(node: _Node, include_self: bool) -> float:
        """Over `node`'s subtree in pre-order, each access varying along the loops from `node` (if
        `include_self`, else from below it) down to its own: the top level varies along none."""
        per_array: dict[str, float] = {}
        top = node.kind == "top"
        stack: list[tuple[_Node, list[_Node]]] = [(node, [node] if include_self and not top else [])]
        while stack:
            inner, varying_loops = stack.pop()
            for access in inner.accesses:
                variables = access.variables()
                distinct = 1.0
                granularity = float(CACHE_LINE_BYTES)
                last = access.forms[-1] if access.forms else None
                for loop in varying_loops:
                    if not variables.isdisjoint(loop.ivars):
                        distinct *= max(loop.trips, 1.0)
                        if isinstance(last, _Affine) and 0 < last.coeff(loop.ivars) <= 1.0:
                            granularity = float(access.itemsize)
                touched = min(access.nbytes, distinct * granularity) if access.shape else granularity
                per_array[access.array] = max(per_array.get(access.array, 0.0), touched)
            stack.extend((c, varying_loops if top else [*varying_loops, c]) for c in reversed(inner.children))
        return sum(per_array.values())


def _nest_stats(top: _Node, memo: dict[object, object] | None = None) -> LoopNestStats:
    footprints = _Footprints(memo)
    working_set = footprints(top, include_self=True)
    bodies, _ = _subtree_stats(top, [], footprints, memo)
    deepest: list[_Node] = [top]
    while deepest[-1].children:
        deepest.append(max(deepest[-1].children, key=_height))
    leaves = [b for b in bodies if b.innermost]
    regions = sum(
        node.entries()
        for node in top.subtree()
        if node.kind == "prange" and not any(p.kind == "prange" for p in node.path()[:-1])
    )
    return LoopNestStats(
        loop_vars=tuple(",".join(sorted(n.ivars)) or "<while>" for n in deepest),
        trips=tuple(n.trips for n in deepest),
        kind="array" if top.implicit else top.kind,
        depth=len(deepest),
        iterations=sum(b.iterations for b in leaves),
        flops=sum(b.iterations * b.flops for b in bodies),
        loads=sum(b.iterations * b.loads for b in bodies),
        stores=sum(b.iterations * b.stores for b in bodies),
        footprint_bytes=working_set,
        vectorizable=all(b.vectorizable for b in leaves),
        parallel=top.kind == "prange",
        parallel_regions=regions,
        bodies=bodies,
    )


def _height(node: _Node) -> int:
    return 1 + max((_height(c) for c in node.children), default=0)


def _repeated_load(access: _Access, earlier: Sequence[_Access]) -> bool:
    """An identical load earlier in the same body with no store to that array in between."""
    if access.store:
        return False
    for previous in reversed(earlier):
        if previous.array == access.array:
            if previous.store:
                return False
            if previous.forms == access.forms:
                return True
    return False


def _charges(nodes: Iterable[_Node], footprints: _Footprints) -> dict[int, list[AccessStats]]:
    """The accesses of `nodes` (the top level alone: a nest's go through `_subtree_stats`), charged
    to the loop each belongs to (by id): the loop it varies in, or the nest's outermost loop, in
    the pre-order of `nodes`."""
    charged: dict[int, list[AccessStats]] = {}
    for inner in nodes:
        inner_path = inner.path()
        for position, access in enumerate(inner.accesses):
            if _repeated_load(access, inner.accesses[:position]):
                continue  # the compiler reuses the value (GVN): `x[i] * x[i]` loads once
            home = _home(access, inner_path)
            owner = home if home is not None else (inner_path[0] if inner_path else inner)
            stats = _charge(access, inner_path, home, inner.accesses[:position], footprints)
            charged.setdefault(id(owner), []).append(stats)
    return charged


_Escaped = tuple[tuple[int, AccessStats], ...]


def _subtree_stats(
    node: _Node, above: list[_Node], footprints: _Footprints, memo: dict[object, object] | None
) -> tuple[tuple[BodyStats, ...], _Escaped]:
    """`_body_stats` of `node` and of every loop under it, in pre-order, and the accesses of its
    subtree charged to the loops `above` it (outermost first), as (position in `above`, charge), in
    pre-order. A loop's list of charges is its own accesses', then each child subtree's, which is
    the pre-order of its subtree.

    In `memo` per `origin` and what is read of the loops above: their kinds, loop variables, trips,
    branch weights and footprints of one iteration (reuse distances); the same loop under another
    nest's outermost loop (candidates that differ elsewhere in the nest) is not charged again."""
    key: tuple[object, ...] | None = None
    if memo is not None and node.origin is not None:
        key = (
            "stats",
            node.origin,
            node.weight,
            tuple((a.kind, a.ivars, a.trips, a.weight, footprints(a, include_self=False)) for a in above),
        )
        found = memo.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
    path = [*above, node]
    charged: list[AccessStats] = []
    escaped: list[tuple[int, AccessStats]] = []
    for position, access in enumerate(node.accesses):
        earlier = node.accesses[:position]
        if _repeated_load(access, earlier):
            continue  # the compiler reuses the value (GVN): `x[i] * x[i]` loads once
        home = _home(access, path)
        owner = home if home is not None else path[0]  # invariant in every loop: the nest's outermost
        stats = _charge(access, path, home, earlier, footprints)
        if owner is node:
            charged.append(stats)
        else:
            escaped.append((path.index(owner), stats))
    below: list[BodyStats] = []
    depth = len(above)
    for child in node.children:
        child_bodies, child_escaped = _subtree_stats(child, path, footprints, memo)
        below.extend(child_bodies)
        for owner_depth, stats in child_escaped:
            if owner_depth == depth:
                charged.append(stats)
            else:
                escaped.append((owner_depth, stats))
    result = ((_body_stats(node, charged), *below), tuple(escaped))
    if key is not None:
        memo[key] = result  # type: ignore[index]
    return result


def _body_stats(node: _Node, charged: list[AccessStats]) -> BodyStats:
    """Own work of `node`, plus the accesses of its subtree that are charged to it (`_charges`)."""
    path = node.path()
    loads = stores = 0.0
    for stats in charged:
        if stats.store:
            stores += stats.per_iteration
        else:
            loads += stats.per_iteration
    vectorizable, carried, chain = _vectorization(node)
    parallel_loop = next((p for p in path if p.kind == "prange"), None)
    return BodyStats(
        loop_vars=tuple(sorted(node.ivars)),
        depth=len(path),
        trips=node.trips,
        iterations=node.iterations(),
        innermost=not node.children and node.kind != "top",
        flops=node.flops,
        loads=loads,
        stores=stores,
        chain_cycles=chain,
        carried=carried,
        vectorizable=vectorizable,
        itemsize=max((a.itemsize for a in node.accesses), default=8),
        parallel_trips=parallel_loop.trips if parallel_loop is not None else 0.0,
        accesses=tuple(charged),
        library_flops=node.library_flops,
        library_bytes=node.library_bytes,
        library_calls_seconds=node.library_calls_seconds,
        array_expr_elements=node.array_expr_elements,
    )


def _home(access: _Access, path: Sequence[_Node]) -> _Node | None:
    """The innermost loop on `path` in which `access` varies: where it costs, after hoisting.

    An access invariant in every loop of its nest (None) is charged once per entry into the nest.
    """
    variables = access.variables()
    for loop in reversed(path):
        if not variables.isdisjoint(loop.ivars):
            return loop
    return None


def _charge(
    access: _Access,
    path: Sequence[_Node],
    home: _Node | None,
    earlier: Sequence[_Access],
    footprints: _Footprints,
) -> AccessStats:
    """Stride, traffic terms and TLB behaviour of one access, charged to its home loop."""
    itemsize = float(access.itemsize)
    if home is None:
        rate = access.weight / max(path[0].trips, 1.0) if path else access.weight
        terms = (Traffic(itemsize, 0.0),)
        return AccessStats(
            access.array, "invariant", access.store, access.itemsize, access.nbytes, rate, terms, 0.0
        )
    m = path.index(home)
    per_iteration = access.weight
    for loop in path[m + 1 :]:
        per_iteration *= loop.weight  # hoisted out of these loops: runs once per home iteration
    stride = _stride(access.forms, home.ivars)
    variables = access.variables()

    temporal = None
    for j in range(m - 1, -1, -1):
        if variables.isdisjoint(path[j].ivars):
            temporal = footprints(path[j], include_self=False)
            break
    # A store that overwrites an element loaded just before writes back where the load came from.
    paired = access.store and any(
        not e.store and e.array == access.array and e.forms == access.forms for e in earlier
    )
    sources = [e for e in earlier if e.forms != access.forms] if paired else earlier
    group = _group_reuse(access, sources, path[: m + 1], footprints)
    near = _min_reuse(temporal, group)

    tlb = 0.0
    if group is not None and (temporal is None or group <= temporal):
        terms: tuple[Traffic, ...] = (Traffic(itemsize, group),)  # the line a sibling reference brought
    elif stride == "unit":
        terms = (Traffic(itemsize, near),)
    elif stride == "irregular":
        terms = (Traffic(float(CACHE_LINE_BYTES), access.nbytes),)
        tlb = 1.0 if access.nbytes / _page_bytes(access.nbytes) > DTLB_ENTRIES else 0.0
    else:
        step = _step_bytes(access, home.ivars)
        line = min(float(CACHE_LINE_BYTES), max(step, itemsize))
        spatial = None
        last = access.forms[-1]
        for j in range(m - 1, -1, -1):
            if isinstance(last, _Affine) and 0 < last.coeff(path[j].ivars) * itemsize < CACHE_LINE_BYTES:
                spatial = footprints(path[j], include_self=False)  # loop j walks along the line
                break
        if spatial is not None:
            # The line comes from the nearest reuse; each of its elements costs its own bytes once
            # at the level of the temporal reuse (or of the working set).
            terms = (Traffic(line, _min_reuse(spatial, near), line=True), Traffic(itemsize, near))
        else:
            terms = (Traffic(line, near, line=True),)
        if home.trips * step / _page_bytes(access.nbytes) > DTLB_ENTRIES:
            tlb = min(1.0, step / _page_bytes(access.nbytes))
    if paired:
        # Overwriting what was just loaded: the line is in L1; only the write-back costs.
        far = [t for t in terms if not t.line]
        terms = tuple(far) if far else terms
        tlb = 0.0
    elif access.store and terms[-1].reuse_bytes != 0.0:
        # Write-allocate: the line is read like a load's, and the element is written back too.
        *lines, back = terms
        terms = (*lines, Traffic(2 * back.bytes, back.reuse_bytes, back.line))
    return AccessStats(
        access.array, stride, access.store, access.itemsize, access.nbytes, per_iteration, terms, tlb
    )


def _page_bytes(array_bytes: float) -> float:
    """NumPy asks Linux for 2 MiB huge pages for arrays of 4 MiB and more; smaller ones get 4 KiB pages."""
    return HUGE_PAGE_BYTES if array_bytes >= HUGE_PAGE_THRESHOLD_BYTES else PAGE_BYTES


def _group_reuse(
    access: _Access, earlier: Sequence[_Access], path: Sequence[_Node], footprints: _Footprints
) -> float | None:
    """Reuse distance from an earlier reference to the same array differing only by constants."""
    best: float | None = None
    for other in earlier:
        if other.array != access.array or len(other.forms) != len(access.forms):
            continue
        distance = _offset_distance(access, other, path, footprints)
        best = _min_reuse(best, distance)
    return best


def _offset_distance(
    access: _Access, other: _Access, path: Sequence[_Node], footprints: _Footprints
) -> float | None:
    differing: list[tuple[int, float, _Affine]] = []
    for position, (a, b) in enumerate(zip(access.forms, other.forms, strict=True)):
        if a is b or a == b:
            continue
        if not (isinstance(a, _Affine) and isinstance(b, _Affine)) or a.coeffs != b.coeffs:
            return None  # different data, or a relation the analysis cannot see
        if a.const != b.const:
            differing.append((position, abs(a.const - b.const), a))
    if not differing:
        return 0.0  # the very same element
    last = len(access.forms) - 1
    if (
        len(differing) == 1
        and differing[0][0] == last
        and differing[0][1] * access.itemsize < CACHE_LINE_BYTES
    ):
        return 0.0  # the same cache line
    distance = 0.0
    for _, delta, form in differing:
        carrier = None
        for depth in range(len(path) - 1, -1, -1):
            c = form.coeff(path[depth].ivars)
            if c > 0:
                carrier = (depth, delta / c)
                break
        if carrier is None:
            return None  # different rows or planes: different data
        depth, iterations_apart = carrier
        distance = max(distance, iterations_apart * footprints(path[depth], include_self=False))
    return distance


def _min_reuse(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _step_bytes(access: _Access, ivars: frozenset[str]) -> float:
    """Bytes between the elements two consecutive iterations touch."""
    total = 0.0
    for position, f in enumerate(access.forms):
        row = float(math.prod(access.shape[position + 1 :])) if position + 1 < len(access.shape) else 1.0
        coeff = (
            f.coeff(ivars) if isinstance(f, _Affine) else (0.0 if f.variables().isdisjoint(ivars) else 1.0)
        )
        total += coeff * row * access.itemsize
    return total


def _vectorization(node: _Node) -> tuple[bool, tuple[str, ...], float]:
    """Whether `node` vectorizes, its carried accumulators, and their latency chain per iteration."""
    loop_vars = set(node.ivars) if node.kind != "while" else set()  # a while's variables do carry
    carried_scalars = sorted(v for v in node.exposed & node.writes if v not in loop_vars)
    chains = [node.scalar_chains.get(v, 0.0) for v in carried_scalars]
    carried = list(carried_scalars)
    loads = {(a.array, a.forms) for a in node.accesses if not a.store}
    for access, latency in node.array_chains:
        invariant = access.variables().isdisjoint(node.ivars) and node.kind != "top"
        if invariant and (access.array, access.forms) in loads:
            carried.append(access.text)
            chains.append(latency)
    chain = max(chains, default=0.0) if node.kind != "top" else 0.0
    # an integer counter is a sum LLVM may reorder (no rounding): it vectorizes as a reduction
    blocking = [v for v in carried if not (v in node.counters and v not in node.assigned)]
    vectorizable = (
        node.kind in ("range", "prange")
        and not node.children
        and not node.blocks_vectorization
        and not blocking
        and all(_stride(a.forms, node.ivars) in ("unit", "invariant") for a in node.accesses)
    )
    return vectorizable, tuple(carried), chain


# ---- from statistics to seconds -----------------------------------------------------------------


def _level(reuse_bytes: float | None, working_set: float, hardware: Hardware) -> Level:
    """The nearest level whose usable capacity holds the reuse distance."""
    distance = (working_set if reuse_bytes is None else reuse_bytes) / USABLE_CACHE_FRACTION
    if distance <= hardware.l1d_bytes:
        return "L1"
    if distance <= hardware.l2_bytes:
        return "L2"
    if distance <= hardware.l3_bytes:
        return "L3"
    return "DRAM"


def _effective_cores(trips: float, cores: int) -> float:
    """Cores a prange of `trips` iterations keeps busy: the slowest thread runs ceil(trips / cores)."""
    if trips <= 1:
        return 1.0
    return trips / math.ceil(trips / max(cores, 1))


def _body_parts(body: BodyStats, working_set: float, hardware: Hardware, parallel: bool) -> dict[str, float]:
    """Points 5 and 6 of the module docstring for one loop body, over all its iterations, by
    `PARTS`: the larger of compute and memory goes to its bound. Memoized on the body (outside its
    fields), per working set and target, for the last machine asked: the candidates of a kernel
    share most of their nests' bodies (the analysis memo), and every candidate is estimated. The
    result is read, never changed."""
    memo = body.__dict__.get("_parts")
    if memo is None:
        memo = {}
        object.__setattr__(body, "_parts", memo)
    hit = memo.get((working_set, parallel))
    if hit is not None and hit[0] is hardware:
        return hit[1]
    parts = _compute_body_parts(body, working_set, hardware, parallel)
    memo[(working_set, parallel)] = (hardware, parts)
    return parts


def _compute_body_parts(
    body: BodyStats, working_set: float, hardware: Hardware, parallel: bool
) -> dict[str, float]:
    if body.iterations <= 0:
        return {}
    lanes = max(1.0, hardware.simd_bytes / body.itemsize) if body.vectorizable else 1.0
    issue = max(
        body.flops / SCALAR_OPS_PER_CYCLE, body.loads / LOADS_PER_CYCLE, body.stores / STORES_PER_CYCLE
    )
    compute = max(issue / lanes, body.chain_cycles)
    cache_cycles = dram_bytes = 0.0
    for access in body.accesses:
        for term in access.traffic:
            nbytes = term.bytes
            if term.line and access.array_bytes <= hardware.l2_bytes:
                nbytes = min(nbytes, 2.0 * access.itemsize)
            level = _level(term.reuse_bytes, working_set, hardware)
            if level == "DRAM":
                prefetched = access.stride in ("unit", "invariant")
                dram_bytes += (
                    access.per_iteration * nbytes * (1.0 if prefetched else UNPREFETCHED_DRAM_FACTOR)
                )
            else:
                cache_cycles += access.per_iteration * nbytes / LEVEL_BYTES_PER_CYCLE[level]
        cache_cycles += access.per_iteration * access.tlb_miss_rate * TLB_MISS_CYCLES
    if body.innermost:
        overhead = INNER_LOOP_OVERHEAD_CYCLES / lanes
    else:
        overhead = OUTER_LOOP_OVERHEAD_CYCLES if body.depth > 0 else 0.0
    cores = 1.0
    if parallel and body.parallel_trips > 0:
        cores = _effective_cores(body.parallel_trips, hardware.cores)
    dram_cores = min(cores, DRAM_SCALING_CORES)
    freq = max(hardware.freq_ghz, 0.1)
    dram_gbs = min(hardware.mem_bandwidth_gbs, SINGLE_CORE_DRAM_GBS * dram_cores)
    dram_cycles = dram_bytes / (max(dram_gbs, 0.1) / freq)
    memory = cache_cycles / cores + dram_cycles
    if compute / cores >= memory:
        bound = "chain" if body.chain_cycles >= issue / lanes and body.chain_cycles > 0 else "issue"
    else:
        bound = "memory"
    scale = body.iterations / (freq * 1e9)
    parts = {bound: max(compute / cores, memory) * scale, "overhead": overhead / cores * scale}
    if body.array_expr_elements and not parallel:  # under parallel=True they become parfor loops
        parts["overhead"] += body.array_expr_elements * ARRAY_EXPR_CYCLES * scale
    if body.library_flops or body.library_bytes:
        parts["library"] = body.iterations * _library_seconds(body, hardware)
    return parts


def _library_seconds(body: BodyStats, hardware: Hardware) -> float:
    """BLAS: flops at a fraction of peak FMA throughput on every core, or its compulsory traffic."""
    lanes = max(1.0, hardware.simd_bytes / 8)
    peak = FMA_PORTS * 2.0 * lanes * hardware.freq_ghz * 1e9 * hardware.cores
    compute = body.library_flops / (BLAS_EFFICIENCY * peak)
    bandwidth = (
        hardware.mem_bandwidth_gbs * 1e9
        if body.library_bytes > hardware.l3_bytes
        else LEVEL_BYTES_PER_CYCLE["L3"] * hardware.freq_ghz * 1e9
    )
    return max(compute, body.library_bytes / bandwidth) + body.library_calls_seconds


# ---- small helpers ------------------------------------------------------------------------------


def _positions(index: Term) -> tuple[Term, ...]:
    return index.args if index.op == "tuple" else (index,)


def _flatten_index(t: Term) -> tuple[str, tuple[Term, ...]] | None:
    """`A[i][j]` and `A[i, j]` alike: the array's name and all index positions."""
    base, index = t.args
    positions = _positions(index)
    if base.op == "var":
        return str(base.value), positions
    if base.op == "index":
        inner = _flatten_index(base)
        if inner is not None:
            return inner[0], inner[1] + positions
    return None


def _element(array: Term, index: Sequence[Term]) -> Term:
    if not index:
        return array
    return Term("index", (array, index[0] if len(index) == 1 else Term("tuple", tuple(index))))


def _affine_term(lo: float, step: float, e: Term) -> Term:
    """lo + step * e, as the index term a slice maps its n-th element to."""
    scaled = e if step == 1 else Term("mul", (const(int(step)), e))
    return scaled if lo == 0 else Term("add", (const(int(lo)), scaled))


def _call_name(t: Term) -> str:
    if t.op != "call":
        return ""
    func = t.args[0]
    if func.op == "var":
        return str(func.value)
    if func.op == "attr":
        return str(func.value)
    return ""


def _keyword(t: Term, name: str) -> Term | None:
    for a in t.args[1:]:
        if a.op == "kw" and a.value == name:
            return a.args[0]
    return None


def _is_none(t: Term) -> bool:
    return t.op == "const" and t.value is None


def _has_array_call(t: Term, builder: _Builder) -> bool:
    """Whether `t` holds a reduction or product over arrays (which lowers to loops or BLAS)."""
    if not _term_facts(t).array_calls:
        return False  # no product, nor a call that could reduce or multiply arrays
    for sub in t.walk():
        if sub.op == "matmul":
            return True
        if sub.op == "call":
            name = _call_name(sub)
            if name in REDUCTIONS or name in ("dot", "matmul", "vdot", "inner", "norm"):
                operands = [a for a in sub.args[1:] if a.op != "kw"]
                func = sub.args[0]
                if func.op == "attr":
                    operands.append(func.args[0])
                if any(builder.shape(a) is not None for a in operands):
                    return True
    return False


def _broadcast(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> tuple[float, ...] | None:
    if a is None:
        return b
    if b is None:
        return a
    rank = max(len(a), len(b))
    a = (1.0,) * (rank - len(a)) + a
    b = (1.0,) * (rank - len(b)) + b
    return tuple(y if x == 1 else x for x, y in zip(a, b, strict=True))


def _matmul_shape(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> tuple[float, ...] | None:
    if a is None or b is None:
        return None
    if len(a) == 1 and len(b) == 1:
        return None
    if len(a) == 1:
        return b[1:]
    if len(b) == 1:
        return a[:-1]
    return (*a[:-1], b[-1])


@functools.lru_cache(maxsize=64)
def _itemsize(dtype: str) -> int:
    try:
        return int(np.dtype(dtype).itemsize)
    except TypeError:
        return 8


def _dtype_name(t: Term) -> str:
    if t.op == "attr":
        return str(t.value)
    if t.op == "var":
        return {"float": "float64", "int": "int64", "bool": "bool", "complex": "complex128"}.get(
            str(t.value), str(t.value)
        )
    if t.op == "const" and isinstance(t.value, str):
        return t.value
    return "float64"


def _pow_weight(exponent: Term) -> float:
    if exponent.op == "const" and isinstance(exponent.value, (int, float)):
        e = float(exponent.value)
        if e == 0.5:
            return CALL_WEIGHTS["sqrt"]
        if e.is_integer() and 0 <= e <= 4:
            return max(1.0, e - 1.0)  # LLVM expands small integer powers into multiplies
    return OP_WEIGHTS["pow"]


def _chain_latency(value: Term, is_source: Callable[[Term], bool]) -> float:
    """Latency of the ops between a read of the accumulator and the result: the carried chain."""
    return _chain_walk(value, is_source)[1]


def _chain_walk(t: Term, is_source: Callable[[Term], bool]) -> tuple[bool, float]:
    """Whether `t` reads the accumulator, and the latency from that read to `t`'s value."""
    if is_source(t):
        return True, 0.0
    found, latency = False, 0.0
    for a in t.args:
        f, lat = _chain_walk(a, is_source)
        if f:
            found, latency = True, max(latency, lat)
    if not found:
        return False, 0.0
    if t.op == "call":
        return True, latency + CALL_LATENCY.get(_call_name(t), DEFAULT_LATENCY)
    if t.op in OP_WEIGHTS and OP_WEIGHTS[t.op] > 0:
        return True, latency + OP_LATENCY.get(t.op, DEFAULT_LATENCY)
    return True, latency


def _assigned_scalars(body: Term) -> set[str]:
    return set(_term_facts(body).assigned)


_TEXTS: dict[tuple[str, tuple[Term, ...]], str] = {}


def _access_text(name: str, positions: tuple[Term, ...]) -> str:
    """`name[positions]` as `_source` writes it, remembered (it names carried array elements only)."""
    key = (name, positions)
    found = _TEXTS.get(key)
    if found is None:
        found = f"{name}[{', '.join(_source(p) for p in positions)}]"
        if len(_TEXTS) >= _TERM_FACTS_MAX:
            _TEXTS.clear()
        _TEXTS[key] = found
    return found


def _source(t: Term) -> str:
    """Short Python-ish text of an index expression, for naming carried array elements."""
    if t.op == "var":
        return str(t.value)
    if t.op == "const":
        return repr(t.value)
    symbols = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "mod": "%", "truediv": "/"}
    if t.op in symbols:
        return f"{_source(t.args[0])} {symbols[t.op]} {_source(t.args[1])}"
    return repr(t)


# ---- CPython costs ------------------------------------------------------------------------------


def _py_expr_ns(t: Term) -> float:
    op = t.op
    if op == "var":
        return PY_NAME_NS
    if op == "const":
        return PY_CONST_NS
    children = sum(_py_expr_ns(a) for a in t.args)
    if op == "index":
        positions = len(_positions(t.args[1]))
        return children + PY_INDEX_NS + PY_INDEX_POSITION_NS * (positions - 1)
    if op == "attr":
        return children + PY_ATTR_NS
    if op == "call":
        func = t.args[0]
        module = func.args[0].value if func.op == "attr" and func.args[0].op == "var" else None
        if module == "math":
            cost = PY_MATH_CALL_NS
        elif module in NUMPY_MODULES:
            cost = PY_NUMPY_SCALAR_CALL_NS
        elif func.op == "var" and _call_name(t) in CALL_WEIGHTS:
            cost = PY_BUILTIN_CALL_NS
        else:
            cost = PY_UNKNOWN_CALL_NS
        return children - _py_expr_ns(func) + cost
    if op == "pow":
        return children + PY_POW_NS
    if op in ("tuple", "slice", "kw"):
        return children + PY_NAME_NS
    return children + PY_OP_NS


def _py_target_ns(target: Term, op: str) -> float:
    cost = PY_STORE_NS if target.op == "var" else _py_expr_ns(target)
    return cost + (PY_OP_NS if op == "augassign" else 0.0)


def _py_numpy_ns(stmt: Term, builder: _Builder) -> float:
    """A vectorized NumPy statement: a fixed cost per array operation plus a per-element cost."""
    target, value = stmt.args
    operations = 0
    elements = 0.0
    for t in (value, target):
        for sub in t.walk():
            shape = builder.shape(sub) if sub.op != "const" else None
            if shape is None:
                continue
            size = float(math.prod(shape))
            if sub.op in ("var", "index"):
                elements += size
            else:
                operations += 1
                elements += size
    if any(sub.op in ("call", "matmul") for sub in value.walk()):
        operations += 1
    return PY_NUMPY_ARRAY_CALL_NS * max(operations, 1) + PY_NUMPY_ELEMENT_NS * elements
