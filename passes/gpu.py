"""CUDA lowering: a kernel whose top-level loop nests are parallel becomes numba-cuda kernels and a host wrapper.

What
    Each top-level `for` nest becomes one `@cuda.jit` kernel. The outermost one, two or three parallel
    loops become thread indices (a 1-D, 2-D or 3-D grid, each index guarded by `if i < hi`); the rest
    of the nest runs inside the thread, in its original order. A host wrapper with the kernel's
    signature runs the statements outside the loops (shape unpacking, allocations, returns) as
    written, copies to the device the arrays a nest touches, allocates fresh arrays on the
    device (filled there, for `np.zeros`/`np.ones` and their `_like` forms), launches, and copies
    back every argument a nest mutates and every array the host reads afterwards (the return
    value included). Arrays stay on the device between nests. `lower_cuda` returns the source of
    all of it; it is a lowering to the `cuda` target, not an e-graph rule set.
Why faster
    Thousands of GPU threads run the independent iterations at once, with 10-30x the memory
    bandwidth of the host. The copies over PCIe cost ~25 GB/s plus ~10 us a launch, so it pays
    for work that does many operations per element moved (stencils kept on the device across
    steps, all-pairs, dense products), not for one pass over a large array (see GPU.md).
Legal when
    `analysis.parallel_plan` proves each grid loop parallel with no reduction: every dependence
    has distance 0 on the loop, scalars are private, nothing assigned is read after the nest.
    Two loops become a 2-D grid only when the inner one is parallel too for a fixed outer index
    (then no two (i, j) iterations touch the same element, so any thread order is legal), its
    bounds do not depend on the outer loop, and the statements before it are pure scalar
    assignments that read no array the nest writes (each thread recomputes them, same values).
    A third loop inside the second becomes the third dimension on the same conditions one level
    down, its bounds reading neither outer grid variable.
    A grid loop may sum into scalars (`s += e`, `s -= e`, read nowhere else in the loop): each
    thread sums its iteration into a private accumulator, each block adds its threads' sums by
    halving in shared memory, one thread per block atomically adds the block's sum to a total,
    and the host adds the total to `s` after the launch.
    A sequential loop around nests (time steps) stays on the host: its arrays go to the device
    once, before it, and come back once, after it. Inside it, ping-pong buffers (`a, b = b, a`,
    locals bound once to fresh allocations and only ever permuted) trade their device copies with
    their names, and a statement that only stores array elements (`x[0] = y[0]`) runs in one
    device thread, in order with the launches around it (one stream).
    With `tile=T` (T x T blocks), a 2-D nest whose thread runs a loop over k reading 2-D arrays at
    `X[g, k]` / `X[k, g]` (g a grid variable; arrays the nest does not write; outside branches;
    k's bounds the same for the whole block) stages T values of k of each such operand in shared
    memory per step, each thread loading one element: `_tiled` says why that is exact. With
    `micro=r` as well (register blocking, T/r x T/r blocks), each thread runs r x r of the T x T
    iterations of its block, interleaved, and an element they update at grid indices only
    (`C[i, j] += ...`) stays in a register across the loop over k: `_tiled_micro` says why.
    Array arguments are assumed distinct, as for every reordering variant: the emitted alias
    guard (`analysis.alias_guard_pairs`) routes overlapping calls to the original.
Refuses when
    A nest is not parallel (`x[i] = x[i - 1] + ...`), a grid loop carries a reduction (`s += ...`
    over i other than a sum, or a float sum under a policy that forbids reassociation), there is
    a `while` loop, `break` or a return inside a loop, a call other than sqrt/abs/fabs/float (and
    the libdevice transcendental functions with `inexact_math=True`), `**` other than `** 2`, an
    array of a dtype other than float64, float32, int64 or bool (Numba's int32 promotion differs
    from NumPy's), a value whose type the analysis cannot name, a slice or whole-array
    expression in a loop, a host statement that binds a view of an array, or no loop to offload.
Float safety
    float32 kernels follow NumPy's scalar kinds (NEP 50), not Numba's: a Python number beside a
    float32 is rounded to float32 first and the operation is float32 (`0.1 * x[i]`), a float32
    beside a float64 widens; each float32 + - * / is computed in float64 on the float32 operands and
    rounded once to float32, which is the float32 result exactly (53 >= 2 x 24 + 2 bits: the double
    rounding is innocuous; likewise sqrt). A local first bound to a Python number and later to a
    float32 (`s = 0.0; s += x[i]`) is float32 throughout: exact where each read of it meets a float32
    or is stored to one, else a difference in the last bits the float policy must allow
    (`allow_reassoc`). The dispatcher takes the GPU only for exact Python scalars then.
    Exact, but for float sums: each thread does the operations of one iteration in the original order, and f64
    division and sqrt are IEEE on the GPU (numba-cuda compiles without fastmath). libNVVM would
    contract `a * b + c` into one FMA, which rounds once; every float product is therefore
    written `_optc_mul(a, b)`, libdevice's `dmul_rn`, which never fuses (plain `a * b` under the
    simulator, where Python never fuses). The libdevice exp/log/sin... differ from the host's libm
    in the last bits: only `inexact_math=True` (a tolerance-verified policy) admits them.
    A float sum across threads is reassociated (tree order within a block, atomics in arrival
    order across blocks, so it may differ from run to run in the last bits): `reassoc`, lowered
    only with `allow_reassoc=True` and verified within the float policy's tolerance. Int sums are
    exact in any order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from optcompiler.analysis import (
    ALLOCATORS,
    LIKE_ALLOCATORS,
    NUMPY_MODULES,
    KernelFacts,
    accesses,
    all_names,
    arrays_written,
    call_name,
    dotted_name,
    expr_kind,
    has_early_exit,
    index_parts,
    is_pure_call,
    is_pure_expr,
    names_assigned,
    names_read,
    parallel_plan,
)
from optcompiler.ir import NONE, ArgType, Kernel, Param, Term, const, lower_function, seq, var
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import Rewrite

NAME = "gpu"
PREVIEW = True
WHY: dict[str, str] = {}

DEVICE_DTYPES = ("float64", "float32", "int64", "bool")
SCALAR_KINDS = ("int", "float", "bool")
RESERVED = frozenset({"cuda", "math", "numba", "numpy", "abs", "float"})  # names the generated code relies on

# Calls a thread may make, as numba-cuda spells them. All exact: IEEE sqrt, sign-bit clears, a
# conversion. numpy's forms are rewritten to `math`'s (scalar arguments only, inside a thread).
_EXACT_CALLS = {
    "math.sqrt": "math.sqrt",
    "np.sqrt": "math.sqrt",
    "numpy.sqrt": "math.sqrt",
    "math.fabs": "math.fabs",
    "np.fabs": "math.fabs",
    "numpy.fabs": "math.fabs",
    "abs": "abs",
    "np.abs": "abs",
    "numpy.abs": "abs",
    "np.absolute": "abs",
    "numpy.absolute": "abs",
    "float": "float",
}
# libdevice implementations, within a few ulp of the host's libm but not bit-identical to it.
_INEXACT_FUNCS = ("exp", "log", "log2", "log10", "log1p", "expm1", "sin", "cos", "tan", "tanh")
_INEXACT_CALLS = {
    f"{module}.{func}": f"math.{func}" for module in ("math", *NUMPY_MODULES) for func in _INEXACT_FUNCS
}
_FILLS = {"zeros": 0, "zeros_like": 0, "ones": 1, "ones_like": 1, "empty": None, "empty_like": None}
_NO_FILL = "no fill"  # a fresh array whose contents must be copied (A.copy(), np.full, ...)
_AUGMENTED_IN_THREAD = ("add", "sub", "mul", "truediv", "floordiv", "mod")

MUL = "_optc_mul"
_HELPERS = {
    MUL: """\
if hasattr(cuda, "libdevice"):
    # A product rounds on its own: libNVVM would otherwise fuse `a * b + c` into one FMA,
    # which rounds once and so differs from CPython.
    _optc_mul = cuda.libdevice.dmul_rn
else:  # the CUDA simulator runs kernels as Python, which never fuses

    def _optc_mul(a, b):
        return a * b
""",
    "_optc_to_device": """\
def _optc_to_device(host):
    return cuda.to_device(numpy.ascontiguousarray(host))
""",
    "_optc_to_host": """\
def _optc_to_host(device, host):
    if host.flags.c_contiguous:
        device.copy_to_host(host)
    else:
        host[...] = device.copy_to_host()
""",
    "_optc_to_device pinned": """\
def _optc_to_device(host):
    host = numpy.ascontiguousarray(host)
    with cuda.pinned(host):  # page-locked while it is copied: DMA straight from it
        return cuda.to_device(host)
""",
    "_optc_to_host pinned": """\
def _optc_to_host(device, host):
    if host.flags.c_contiguous:
        with cuda.pinned(host):
            device.copy_to_host(host)
    else:
        host[...] = device.copy_to_host()
""",
    "_optc_device_like": '''\
@cuda.jit
def _optc_fill(flat, value):
    k = cuda.grid(1)
    if k < flat.shape[0]:
        flat[k] = value


def _optc_device_like(host, fill):
    """A device array of `host`'s shape and dtype, every element `fill` (None: unset, like np.empty)."""
    device = cuda.device_array(host.shape, host.dtype)
    if fill is not None and device.size > 0:
        _optc_fill[_optc_blocks(device.size, 256), 256](device.reshape(device.size), fill)
    return device
''',
    "_optc_blocks": """\
def _optc_blocks(extent, size):
    return (extent + size - 1) // size
""",
    "_optc_sum_of": """\
def _optc_new_sum(dtype):
    return cuda.to_device(numpy.zeros(1, dtype))


def _optc_sum_of(total):
    return total.copy_to_host()[0].item()


def _optc_sum32_of(total):
    return total.copy_to_host()[0]  # a numpy.float32, as CPython's own float32 sum would be
""",
    "_optc_check": '''\
def _optc_check(array, dtype, ndim):
    """The kernels were lowered (and verified) for this dtype and rank only: numba-cuda would
    compile others too, with its own promotion rules (float32 sums in float64, say)."""
    if not isinstance(array, numpy.ndarray) or array.dtype != numpy.dtype(dtype) or array.ndim != ndim:
        raise TypeError(f"lowered for {dtype} arrays of {ndim} dimensions, got {getattr(array, 'dtype', type(array))}")
''',
}
_HELPER_ORDER = (
    "_optc_check",
    MUL,
    "_optc_blocks",
    "_optc_to_device",
    "_optc_to_host",
    "_optc_device_like",
    "_optc_sum_of",
)


def rules(ctx: PassContext) -> list[Rewrite]:
    """No e-graph rules: the GPU is a target that variants are lowered to, not an equivalence."""
    del ctx
    return []


def lower_cuda(
    kernel: Kernel,
    body: Term,
    facts: KernelFacts,
    *,
    name: str | None = None,
    block_2d: tuple[int, int] = (16, 16),
    block_1d: int = 256,
    inexact_math: bool = False,
    allow_reassoc: bool = True,
    tile: int | None = None,
    block_3d: tuple[int, int, int] = (32, 4, 2),
    micro: int = 1,
    pinned: bool = False,
) -> str | None:
    """Python source of the CUDA kernels and the host wrapper (named `name`, by default the kernel's
    own name, with its signature) for `body`, a variant of `kernel`; None when it cannot be lowered.

    The source needs the kernel's module prelude (its imports and constants) before it. `block_2d`
    is (x, y) threads per block for 2-D grids, x running along the last array index; `block_1d`
    the threads per block of 1-D grids. `tile`: stage the operands of matmul-like nests in shared
    memory, `tile` x `tile` at a time (needs `block_2d == (tile, tile)`; None when nothing to tile).
    `micro` > 1: register blocking of a tiled nest, each thread computing `micro` x `micro` outputs
    of the block's `tile` x `tile` (needs `block_2d == (tile // micro, tile // micro)`). `block_3d`:
    (x, y, z) threads per block of 3-D grids. `pinned`: page-lock each host array while it is copied
    (`cuda.pinned`), which numba-cuda otherwise copies from pageable memory (~5 GB/s on the H100 host).
    """
    lowered = _lower(
        kernel, body, facts, name, (block_2d, block_1d, block_3d), inexact_math, allow_reassoc, tile, micro
    )
    if isinstance(lowered, str) and pinned:
        lowered = lowered.replace(_HELPERS["_optc_to_device"], _HELPERS["_optc_to_device pinned"])
        lowered = lowered.replace(_HELPERS["_optc_to_host"], _HELPERS["_optc_to_host pinned"])
    return lowered if isinstance(lowered, str) else None


def refusal_reason(
    kernel: Kernel,
    body: Term,
    facts: KernelFacts,
    *,
    inexact_math: bool = False,
    allow_reassoc: bool = True,
    block_1d: int = 256,
    tile: int | None = None,
    micro: int = 1,
    block_3d: tuple[int, int, int] = (32, 4, 2),
) -> str | None:
    """Why `lower_cuda` returns None for `body`, in one line; None when it lowers."""
    side = tile // micro if tile and micro >= 1 else 16
    blocks = ((side, side), block_1d, block_3d)
    lowered = _lower(kernel, body, facts, None, blocks, inexact_math, allow_reassoc, tile, micro)
    return lowered.reason if isinstance(lowered, _Refuse) else None


class _Refuse(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _lower(
    kernel: Kernel,
    body: Term,
    facts: KernelFacts,
    name: str | None,
    blocks: tuple[tuple[int, int], int, tuple[int, int, int]],
    inexact_math: bool,
    allow_reassoc: bool,
    tile: int | None,
    micro: int = 1,
) -> str | _Refuse:
    block_2d, block_1d, block_3d = blocks
    try:
        if micro < 1 or (micro > 1 and (tile is None or tile % micro)):
            raise _Refuse(f"micro-tiles of {micro} need a tile that {micro} divides")
        if tile is not None and block_2d != (tile // micro, tile // micro):
            side = tile // micro
            raise _Refuse(f"tiles of {tile} need {side}x{side} blocks, not {block_2d[0]}x{block_2d[1]}")
        if math.prod(block_3d) > 1024 or block_3d[2] > 64:
            raise _Refuse(f"{block_3d[0]}x{block_3d[1]}x{block_3d[2]} threads: over CUDA's block limits")
        lowering = _Lowering(
            kernel, _as_range(body), facts, name or kernel.name, inexact_math, allow_reassoc, tile
        )
        lowering.micro = micro
        lowering.block_3d = block_3d
        return lowering.source(block_2d, block_1d)
    except _Refuse as refusal:
        return refusal


# ---- the plan of one nest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GridLoop:
    var: str
    lo: Term
    hi: Term
    lo_name: str  # host temporaries holding the bounds, passed to the kernel
    hi_name: str


@dataclass(frozen=True)
class _Reduction:
    """`name += ...` over the grid loop: each thread sums into `acc`, each block adds its threads'
    sums in shared memory (`part`), and one thread of each block atomically adds that into `total`,
    a one-element device array the host adds to `name` after the launch."""

    name: str
    kind: str  # "int" (exact in any order) or "float" (reassociated: needs the float policy's consent)
    acc: str
    part: str
    total: str
    dtype: str = "float64"  # of the accumulators: float32 where NumPy sums in float32


@dataclass(frozen=True)
class _Nest:
    """One top-level loop nest as a kernel: grid loops (x first) and what each thread runs."""

    kernel_name: str
    grid: tuple[_GridLoop, ...]  # grid[0] is the x dimension
    outer_first: tuple[_GridLoop, ...]  # the same loops, outermost first (host evaluation order)
    thread_body: Term  # device-ready: products rewritten, `continue` at thread level is `return`
    arrays: tuple[str, ...]
    scalars: tuple[str, ...]
    writes: frozenset[str]
    reductions: tuple[_Reduction, ...] = ()


@dataclass
class _Lowering:
    kernel: Kernel
    body: Term
    facts: KernelFacts
    wrapper: str
    inexact_math: bool
    allow_reassoc: bool
    tile: int | None = None
    micro: int = 1  # outputs a side per thread in tiled nests (register blocking)
    micro_nests: set[str] = field(default_factory=set)  # kernels micro-tiled: a block covers tile^2 outputs
    block_3d: tuple[int, int, int] = (32, 4, 2)
    tiled: int = 0  # nests whose operands are staged in shared memory
    types: dict[str, ArgType] = field(default_factory=dict)  # params, and fresh arrays with a dtype
    kinds: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    plan_facts: KernelFacts = field(init=False)
    rotating: dict[str, ArgType] = field(default_factory=dict)
    fresh_arrays: frozenset[str] = frozenset()
    # float32 kernels: NumPy's scalar kinds (NEP 50) of the locals, and those a Python scalar first
    # binds and a float32 later (`s = 0.0; s += x[i]`): lowered as float32 from the start
    single: bool = False
    np_locals: dict[str, str] = field(default_factory=dict)
    promoted: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        params = {p.name for p in self.kernel.params}
        self.used = all_names(self.body) | params
        clash = sorted((names_assigned(self.body) | params) & RESERVED)
        clash += sorted(n for n in self.used if n.startswith("_optc"))
        if clash:
            raise _Refuse(f"the kernel binds `{clash[0]}`, a name the CUDA lowering needs")
        self.types = dict(self.facts.arg_types)
        self.rotating = _rotating_arrays(self.body, params, self.types)
        self.fresh_arrays = self.facts.fresh_arrays | frozenset(self.rotating)
        for stmt in self.body.args:
            if stmt.op == "assign" and stmt.args[0].op == "var":
                target = str(stmt.args[0].value)
                if target in self.facts.fresh_arrays and target not in params:
                    dtype = _fresh_dtype(stmt.args[1], self.types)
                    ndim = len(self.facts.array_dims.get(target, ()))
                    if dtype is not None and ndim:
                        self.types[target] = ArgType("array", dtype, ndim)
        self.types.update(self.rotating)
        self.kinds = _local_kinds(self.body, self.types, self.fresh_arrays)
        self.single = any(at.kind == "array" and at.dtype == "float32" for at in self.types.values())
        if self.single:
            self.np_locals, self.promoted = _np_locals(self.body, self.types)
            inexact = sorted(n for n in self.promoted if not _absorbed(self.body, n, self.np_kind))
            if inexact and not self.allow_reassoc:
                raise _Refuse(
                    f"`{inexact[0]}` is first a Python number, then a float32: lowered as float32 "
                    "throughout, which rounds its uses before that differently (the float policy forbids it)"
                )
        self.plan_facts = replace(
            self.facts,
            escaping=_escaping(self.body),
            fresh_arrays=self.fresh_arrays,
            local_kinds={**self.facts.local_kinds, **dict.fromkeys(self.rotating, "array")},
            array_dims={
                **self.facts.array_dims,
                **{name: ("_",) * at.ndim for name, at in self.rotating.items()},
            },
        )

    def fresh(self, base: str) -> str:
        """`base`, or `base_2`, `base_3`...: a name neither the kernel nor the lowering uses yet."""
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}_{n}"
        self.used.add(candidate)
        return candidate

    def kind(self, name: str) -> str:
        if name in self.types:
            return "array" if self.types[name].kind == "array" else self.types[name].kind
        return self.kinds.get(name, "unknown")

    def expr_kind(self, term: Term) -> str:
        return expr_kind(term, self.types, self.kinds)

    def np_kind(self, term: Term) -> str:
        """NumPy's scalar kind of `term` (float32 kernels): f32, f64, i64, b strong; py* weak; ? unknown."""
        return _np_kind(term, self.types, self.np_locals)

    # -- the host wrapper ----------------------------------------------------------------------------

    def source(self, block_2d: tuple[int, int], block_1d: int) -> str:
        statements = self.body.args
        if not any(stmt.op in ("for", "while") for stmt in statements):
            raise _Refuse("no top-level loop to run on the GPU")
        for k, stmt in enumerate(statements):
            if stmt.op == "while" or any(t.op == "while" for t in stmt.walk()):
                raise _Refuse("a while loop: its trip count is not known before launch")
            if stmt.op == "return" and k != len(statements) - 1:
                raise _Refuse("a return before the end of the body")
            if stmt.op != "return" and has_early_exit(stmt):
                raise _Refuse("an early exit (break or return) inside a loop or branch")
            if stmt.op not in ("for", "return") and any(t.op == "for" for t in stmt.walk()):
                raise _Refuse("a loop inside a top-level branch")

        host = _Host(self)
        for param in self.kernel.params:
            at = self.types.get(param.name)
            if at is not None and at.kind == "array" and at.dtype in DEVICE_DTYPES:
                self.helpers.add("_optc_check")
                check = _call(var("_optc_check"), var(param.name), const(at.dtype), const(at.ndim))
                host.lines.append(Term("expr", (check,)))
        kernels: list[str] = []
        for stmt in statements:
            steps = self.host_loop(stmt) if stmt.op == "for" else None
            if steps is not None:
                nests = []
                for step in steps:
                    if step.op == "for":
                        nests.append(self.nest(step, len(kernels)))
                    elif self.is_element_store(step):
                        nests.append(self.serial_nest(step, len(kernels)))
                    else:
                        nests.append(None)
                    if nests[-1] is not None:
                        kernels.append(self.kernel_source(nests[-1], block_1d))
                host.loop(stmt, list(zip(steps, nests, strict=True)), block_2d, block_1d)
            elif stmt.op == "for":
                nest = self.nest(stmt, len(kernels))
                kernels.append(self.kernel_source(nest, block_1d))
                host.launch(nest, block_2d, block_1d)
            elif stmt.op == "return":
                host.finish(stmt)
            else:
                host.statement(stmt)
        if not statements or statements[-1].op != "return":
            host.finish(None)
        if self.tile is not None and not self.tiled:
            raise _Refuse("no matmul-like nest to tile: no 2-D nest reads rows and columns along a loop")
        wrapper = lower_function(
            self.wrapper, self.kernel.params, seq(*host.lines), self.kernel.docstring, (), self.kernel.returns
        )
        helpers = [_HELPERS[h] for h in _HELPER_ORDER if h in self.helpers]
        header = "import math\n\nimport numba\nimport numpy\nfrom numba import cuda\n"
        return "\n\n".join([header, *helpers, *kernels, wrapper])

    def host_loop(self, loop: Term) -> tuple[Term, ...] | None:
        """The statements of a sequential loop that stays on the host and launches the parallel nests
        in its body each iteration (time steps), or None when `loop` is to be a nest itself."""
        plan = parallel_plan(loop, self.plan_facts, allow_reassoc=True, mixed_add_sub=True)
        body = loop.args[4]
        steps = body.args if body.op == "seq" else (body,)
        if plan is not None or not any(s.op == "for" for s in steps):
            return None
        for step in steps:
            if step.op == "for":
                continue
            if any(t.op == "for" for t in step.walk()):
                raise _Refuse("a loop inside a branch of a sequential loop")
            if self.is_rotation(step):
                continue
            touched = sorted(n for n in _data_names(step) if self.kind(n) == "array")
            if touched and not self.is_element_store(step):
                raise _Refuse(
                    f"a statement between the nests of a sequential loop uses the array `{touched[0]}`"
                )
        return steps

    def is_rotation(self, stmt: Term) -> bool:
        """`a, b = b, a`: fresh arrays trading names (ping-pong buffers), on host and device alike."""
        return (
            stmt.op == "assign"
            and stmt.args[0].op == "tuple"
            and all(t.op == "var" and str(t.value) in self.rotating for t in stmt.args[0].args)
        )

    def is_element_store(self, stmt: Term) -> bool:
        """`x[0] = y[0]`: a statement that stores array elements and binds no name; it runs on the
        device in a single thread, so the arrays can stay there across the steps."""
        return stmt.op in ("assign", "augassign") and stmt.args[0].op == "index" and not names_assigned(stmt)

    # -- one nest ----------------------------------------------------------------------------------

    def nest(self, loop: Term, index: int) -> _Nest:
        outer_var = str(loop.args[0].value)
        reductions = self.reductions(loop, self.check_grid_loop(loop))
        outer = _GridLoop(
            outer_var,
            loop.args[1],
            loop.args[2],
            self.fresh(f"{outer_var}_lo"),
            self.fresh(f"{outer_var}_hi"),
        )
        inner_split = None if reductions else self.two_dimensional(loop)
        if inner_split is None:
            grid: tuple[_GridLoop, ...] = (outer,)
            thread = loop.args[4]
        else:
            sunk, inner = inner_split
            v = str(inner.args[0].value)
            inner_loop = _GridLoop(
                v, inner.args[1], inner.args[2], self.fresh(f"{v}_lo"), self.fresh(f"{v}_hi")
            )
            thread = seq(*sunk, inner.args[4])
            grid = (outer, inner_loop)
            # a third parallel loop inside makes a 3-D grid, on the same conditions one level down
            outside = {outer_var, v} | set().union(*(names_assigned(t) for t in sunk))
            third = self.two_dimensional(inner, frozenset(outside))
            if third is not None:
                sunk2, innermost = third
                w = str(innermost.args[0].value)
                third_loop = _GridLoop(
                    w, innermost.args[1], innermost.args[2], self.fresh(f"{w}_lo"), self.fresh(f"{w}_hi")
                )
                thread = seq(*sunk, *sunk2, innermost.args[4])
                grid = (outer, inner_loop, third_loop)
        outer_first = grid
        # x is the fastest-varying thread index: give it the loop that runs along the last (contiguous)
        # index of most accesses, so a warp's loads coalesce (ties: the innermost); y and z the others,
        # innermost first. Any assignment is legal (see Legal when).
        if len(grid) >= 2:
            inner_first = tuple(reversed(grid))
            x = max(inner_first, key=lambda g: _last_index_score(thread, g.var))  # first of the best
            grid = (x, *(g for g in inner_first if g is not x))
        if reductions:
            # each thread sums into its own accumulator; `s` itself is read nowhere else in the
            # body (`analysis.parallel_plan` checked), so renaming it changes nothing else
            renamed = _rename(thread, {r.name: r.acc for r in reductions})
            zeros = [Term("assign", (var(r.acc), const(0.0 if r.kind == "float" else 0))) for r in reductions]
            # the body runs in a one-trip loop so that `continue` ends the iteration without
            # skipping the block's barriers below (a returning thread would never reach them)
            if any(t.op == "continue" for t in renamed.walk()):
                renamed = Term("for", (var("_optc_once"), const(0), const(1), const(1), renamed), "range")
            thread = seq(*zeros, renamed)
        bound_in_thread = names_assigned(thread) | {g.var for g in grid}
        device_body = _Device(self).block(thread, 1 if reductions else 0)
        arrays, scalars = set(), set()
        for name in sorted(_free_names(device_body) - bound_in_thread):
            kind = self.kind(name)
            if kind == "array":
                arrays.add(name)
            elif kind in SCALAR_KINDS:
                scalars.add(name)
            else:
                raise _Refuse(f"`{name}` is read in a loop and its type is not known")
        writes = frozenset(arrays_written(thread)) & arrays
        for array in sorted(arrays):
            self.check_device_array(array)
        kernel_name = f"_{self.wrapper.lstrip('_')}_nest{index}"
        return _Nest(
            kernel_name,
            grid,
            outer_first,
            device_body,
            tuple(sorted(arrays)),
            tuple(sorted(scalars)),
            writes,
            reductions,
        )

    def serial_nest(self, stmt: Term, index: int) -> _Nest:
        """A statement between the nests of a time loop, run by one thread in the step's order (a
        launch waits for the one before it), so its arrays need not come back to the host."""
        device_body = _Device(self).block(stmt, 1)
        arrays, scalars = set(), set()
        for name in sorted(_free_names(device_body)):
            kind = self.kind(name)
            if kind == "array":
                arrays.add(name)
            elif kind in SCALAR_KINDS:
                scalars.add(name)
            else:
                raise _Refuse(f"`{name}` is read between the nests of a time loop and its type is not known")
        for array in sorted(arrays):
            self.check_device_array(array)
        writes = frozenset(arrays_written(stmt)) & arrays
        kernel_name = f"_{self.wrapper.lstrip('_')}_nest{index}"
        return _Nest(kernel_name, (), (), device_body, tuple(sorted(arrays)), tuple(sorted(scalars)), writes)

    def reductions(self, loop: Term, names: tuple[str, ...]) -> tuple[_Reduction, ...]:
        """The grid loop's reductions as block sums plus atomics, or a refusal saying why not."""
        v = str(loop.args[0].value)
        out = []
        for name in names:
            kind = self.facts.kind(name)
            ops = {
                str(t.value)
                for t in loop.args[4].walk()
                if t.op == "augassign" and t.args[0].op == "var" and t.args[0].value == name
            }
            if kind not in ("int", "float") or not ops <= {"add", "sub"}:
                raise _Refuse(f"the loop over `{v}` is a reduction into `{name}` other than a sum")
            if kind == "float" and not self.allow_reassoc:
                raise _Refuse(
                    f"the loop over `{v}` is a reduction into `{name}`: a float sum on the GPU is "
                    "reordered (the float policy forbids it)"
                )
            dtype = "int64" if kind == "int" else "float64"
            if self.single:
                np_kind = self.np_locals.get(name, "?")
                if np_kind not in ("f32", "f64", "pyfloat", "i64", "pyint"):
                    raise _Refuse(f"the NumPy type of the sum `{name}` is not known")
                dtype = "float32" if np_kind == "f32" else dtype
            out.append(
                _Reduction(
                    name,
                    kind,
                    self.fresh(f"{name}_acc"),
                    self.fresh(f"{name}_part"),
                    self.fresh(f"{name}_sum"),
                    dtype,
                )
            )
            self.kinds[out[-1].acc] = kind
            if self.single:
                self.np_locals[out[-1].acc] = self.np_locals[name]
        return tuple(out)

    def check_grid_loop(self, loop: Term) -> tuple[str, ...]:
        """The loop's reductions (scalars summed over it), after checking that it can be a grid loop."""
        v = str(loop.args[0].value)
        plan = parallel_plan(loop, self.plan_facts, allow_reassoc=True, mixed_add_sub=True)
        if plan is None and not is_pure_expr(loop.args[4]):
            raise _Refuse(f"the loop over `{v}` calls a function whose effects are not known")
        if plan is None:
            raise _Refuse(
                f"the loop over `{v}` is not parallel: an iteration depends on another, "
                "or a value it assigns is read after it"
            )
        if loop.args[3] != const(1):
            raise _Refuse(f"the loop over `{v}` has a step other than 1")
        if accesses(Term("tuple", loop.args[1:3])) or not is_pure_expr(Term("tuple", loop.args[1:3])):
            raise _Refuse(f"the bounds of the loop over `{v}` read array elements or call functions")
        return tuple(plan.reductions)

    def two_dimensional(
        self, loop: Term, outside: frozenset[str] = frozenset()
    ) -> tuple[tuple[Term, ...], Term] | None:
        """(statements each thread recomputes, inner loop) when the nest can be a 2-D grid; `outside`:
        names of enclosing grid levels, which the inner loop's bounds may not read either."""
        outer_var = str(loop.args[0].value)
        stmts = loop.args[4].args if loop.args[4].op == "seq" else (loop.args[4],)
        if not stmts or stmts[-1].op != "for":
            return None
        *sunk, inner = stmts
        bounds = Term("tuple", inner.args[1:4])
        written = arrays_written(loop)
        for stmt in sunk:
            if stmt.op != "assign" or stmt.args[0].op != "var" or not is_pure_expr(stmt.args[1]):
                return None
            if {a.array for a in accesses(stmt)} & written or self.expr_kind(
                stmt.args[1]
            ) not in SCALAR_KINDS:
                return None
        if names_read(bounds) & (names_assigned(loop) | {outer_var} | outside) or accesses(bounds):
            return None
        if not is_pure_expr(bounds) or inner.args[3] != const(1):
            return None
        if any(str(inner.args[0].value) in names_read(stmt) for stmt in sunk):
            return None
        plan = parallel_plan(inner, self.plan_facts, allow_reassoc=True, mixed_add_sub=True)
        if plan is None or plan.reductions:
            return None
        return tuple(sunk), inner

    def check_device_array(self, name: str) -> None:
        at = self.types.get(name)
        if at is None:
            raise _Refuse(f"`{name}` is used in a loop but its dtype is not known")
        if at.dtype not in DEVICE_DTYPES:
            raise _Refuse(f"`{name}` is {at.dtype}: only float64, int64 and bool arrays are lowered")
        if name not in self.facts.arg_types and name not in self.fresh_arrays:
            raise _Refuse(f"`{name}` is an array bound on the host that may alias another")

    def kernel_source(self, nest: _Nest, block_1d: int) -> str:
        params = [*nest.arrays, *nest.scalars, *(r.total for r in nest.reductions)]
        header: list[Term] = []
        guards: list[Term] = []
        for axis, g in enumerate(nest.grid):
            params += [g.lo_name, g.hi_name]
            position = _index(_call(_attr(var("cuda"), "grid"), const(len(nest.grid))), const(axis))
            if len(nest.grid) == 1:
                position = _call(_attr(var("cuda"), "grid"), const(1))
            header.append(Term("assign", (var(g.var), Term("add", (var(g.lo_name), position)))))
        for g in nest.outer_first:
            guards.append(Term("lt", (var(g.var), var(g.hi_name))))
        if not nest.grid:  # a serial step: one thread
            return lower_function(
                nest.kernel_name, [Param(p) for p in params], nest.thread_body, None, ["cuda.jit"]
            )
        cond = guards[0]
        for guard in guards[1:]:
            cond = Term("and", (cond, guard))
        if nest.reductions and (block_1d < 1 or block_1d & (block_1d - 1) or block_1d > 1024):
            raise _Refuse(f"{block_1d} threads per block: the block sums need a power of two up to 1024")
        if nest.reductions:
            # the accumulators start at 0 in every thread (the first statements of the thread body)
            # and threads past the end keep that 0, so they take part in the block sum harmlessly
            zeros, rest = (
                nest.thread_body.args[: len(nest.reductions)],
                nest.thread_body.args[len(nest.reductions) :],
            )
            body = seq(*header, *zeros, Term("if", (cond, seq(*rest), seq())), *_block_sums(nest, block_1d))
        else:
            if self.tile and len(nest.grid) == 2 and self.micro > 1:
                micro_body = _tiled_micro(nest, self.tile, self.micro, self.types, self.fresh)
                if micro_body is not None:
                    self.tiled += 1
                    self.micro_nests.add(nest.kernel_name)
                    return lower_function(
                        nest.kernel_name, [Param(p) for p in params], seq(*micro_body), None, ["cuda.jit"]
                    )
            tiled = _tiled(nest, cond, self.tile, self.types) if self.tile and len(nest.grid) == 2 else None
            if self.micro > 1:
                tiled = None  # blocks of tile // micro threads a side only fit the micro-tiled form
            self.tiled += tiled is not None
            body = seq(*header, *(tiled or [Term("if", (cond, nest.thread_body, seq()))]))
        return lower_function(nest.kernel_name, [Param(p) for p in params], body, None, ["cuda.jit"])


# ---- host code: transfers, launches, the statements outside loops -----------------------------------------


class _Host:
    """Builds the wrapper's statements, tracking where each array's current value lives."""

    def __init__(self, lowering: _Lowering) -> None:
        self.lowering = lowering
        self.lines: list[Term] = []
        self.where: dict[str, str] = {}  # array -> "host" | "device" | "both"; absent means host
        self.fill: dict[str, object] = {}  # fresh arrays untouched since allocation -> fill value
        self.device: dict[str, str] = {}  # array -> name of its device copy

    def dev(self, array: str) -> str:
        if array not in self.device:
            self.device[array] = self.lowering.fresh(f"{array}_dev")
        return self.device[array]

    def to_device(self, array: str) -> None:
        if self.where.get(array, "host") != "host":
            return
        if array in self.fill and self.fill[array] != _NO_FILL:
            self.lowering.helpers.update({"_optc_device_like", "_optc_blocks"})
            value = _call(var("_optc_device_like"), var(array), const(self.fill[array]))  # type: ignore[arg-type]
        else:
            self.lowering.helpers.add("_optc_to_device")
            value = _call(var("_optc_to_device"), var(array))
        self.lines.append(Term("assign", (var(self.dev(array)), value)))
        self.where[array] = "both"

    def to_host(self, array: str) -> None:
        if self.where.get(array, "host") != "device":
            return
        self.lowering.helpers.add("_optc_to_host")
        self.lines.append(Term("expr", (_call(var("_optc_to_host"), var(self.dev(array)), var(array)),)))
        self.where[array] = "both"

    def arrays_in(self, term: Term) -> set[str]:
        """Arrays whose elements `term` may read or write (`A.shape` alone needs no copy back)."""
        return {n for n in _data_names(term) if self.lowering.kind(n) == "array"}

    def statement(self, stmt: Term) -> None:
        """A statement outside the loops runs on the host, as written, on up-to-date host arrays."""
        lowering = self.lowering
        mentioned = self.arrays_in(stmt)
        for array in sorted(mentioned):
            self.to_host(array)
        self.lines.append(stmt)
        rebound = names_assigned(stmt)
        written = arrays_written(stmt) | {n for n in rebound if lowering.kind(n) == "array"}
        if any(t.op == "call" and not is_pure_call(t) for t in stmt.walk()):
            written |= mentioned  # an unknown call may write any array it is given
        for array in written:
            self.where[array] = "host"
            self.fill.pop(array, None)
            self.device.pop(array, None)
        if stmt.op != "assign":
            return
        target, value = stmt.args
        for name in sorted(rebound):
            if target.op == "var" and name in lowering.fresh_arrays:
                self.fill[name] = _fill_value(value)
            elif lowering.kind(name) not in SCALAR_KINDS and self.arrays_in(value):
                raise _Refuse(f"`{name}` is bound to a view or alias of an array on the host")

    def launch(self, nest: _Nest, block_2d: tuple[int, int], block_1d: int) -> None:
        for array in nest.arrays:
            self.to_device(array)
        self.lowering.helpers.add("_optc_blocks")
        blocks: tuple[int, ...] = (
            self.lowering.block_3d
            if len(nest.grid) == 3
            else block_2d
            if len(nest.grid) == 2
            else (block_1d,)
            if nest.grid
            else ()
        )
        extents = [Term("sub", (var(g.hi_name), var(g.lo_name))) for g in nest.grid]
        covered = blocks
        if nest.kernel_name in self.lowering.micro_nests:  # each block covers tile x tile outputs
            covered = (self.lowering.tile or 1,) * 2
        grid = [
            _call(var("_optc_blocks"), extent, const(size))
            for extent, size in zip(extents, covered, strict=True)
        ]
        if not nest.grid:
            shape = Term("tuple", (const(1), const(1)))
        elif len(nest.grid) >= 2:
            shape = Term(
                "tuple", (Term("tuple", tuple(grid)), Term("tuple", tuple(const(b) for b in blocks)))
            )
        else:
            shape = Term("tuple", (grid[0], const(blocks[0])))
        args = [var(self.device[a]) for a in nest.arrays] + [var(s) for s in nest.scalars]
        args += [var(r.total) for r in nest.reductions]
        for g in nest.grid:
            args += [var(g.lo_name), var(g.hi_name)]
        launch: Term = seq(Term("expr", (_call(_index(var(nest.kernel_name), shape), *args),)))
        if nest.reductions:
            self.lowering.helpers.add("_optc_sum_of")
            start = [
                Term("assign", (var(r.total), _call(var("_optc_new_sum"), _attr(var("numpy"), r.dtype))))
                for r in nest.reductions
            ]
            # one addition on the host: `s = s + (the sum over the grid)`; for ints the same value
            # as the original's additions in order, for floats a reassociation of them
            finish = [
                Term(
                    "assign",
                    (
                        var(r.name),
                        Term(
                            "add",
                            (
                                var(r.name),
                                _call(
                                    var("_optc_sum32_of" if r.dtype == "float32" else "_optc_sum_of"),
                                    var(r.total),
                                ),
                            ),
                        ),
                    ),
                )
                for r in nest.reductions
            ]
            launch = seq(*start, *launch.args, *finish)
        for g in reversed(nest.outer_first):
            bounds = Term(
                "assign", (Term("tuple", (var(g.lo_name), var(g.hi_name))), Term("tuple", (g.lo, g.hi)))
            )
            nonempty = Term("if", (Term("gt", (var(g.hi_name), var(g.lo_name))), launch, seq()))
            launch = seq(bounds, nonempty)
        self.lines.extend(launch.args)
        for array in nest.writes:
            self.where[array] = "device"
            self.fill.pop(array, None)

    def loop(
        self, loop: Term, steps: Sequence[tuple[Term, _Nest | None]], block_2d: tuple[int, int], block_1d: int
    ) -> None:
        """A sequential loop on the host around launches: its arrays go to the device once, before it,
        and stay there (statements in it touch no array, `host_loop` checked)."""
        rotations = [step for step, nest in steps if nest is None and self.lowering.is_rotation(step)]
        rotated = {str(t.value) for step in rotations for t in step.args[0].args}
        for array in sorted({a for _, nest in steps if nest is not None for a in nest.arrays} | rotated):
            self.to_device(array)
        outside, self.lines = self.lines, []
        for step, nest in steps:
            if nest is not None:
                self.launch(nest, block_2d, block_1d)
                continue
            self.lines.append(step)
            if step in rotations:
                # the device copies trade names with the host arrays, so each name keeps its pair;
                # either may hold what a launch wrote, so the device side is the current one
                targets, values = step.args
                device_targets = Term("tuple", tuple(var(self.dev(str(t.value))) for t in targets.args))
                device_values = Term("tuple", tuple(var(self.dev(str(t.value))) for t in values.args))
                self.lines.append(Term("assign", (device_targets, device_values)))
                for array in rotated:
                    self.where[array] = "device"
                    self.fill.pop(array, None)
        body, self.lines = self.lines, outside
        self.lines.append(Term("for", (*loop.args[:4], seq(*body)), "range"))

    def finish(self, stmt: Term | None) -> None:
        """Copy back what the caller can see: mutated arguments and whatever is returned."""
        for param in self.lowering.kernel.params:
            self.to_host(param.name)
        if stmt is not None:
            for array in sorted(self.arrays_in(stmt)):
                self.to_host(array)
            self.lines.append(stmt)


# ---- device code: what a thread may run ---------------------------------------------------------------


class _Device:
    """Checks a thread's statements against what numba-cuda compiles exactly, and rewrites them:
    float products through `_optc_mul`, `x ** 2` as a product, numpy calls as `math` calls."""

    def __init__(self, lowering: _Lowering) -> None:
        self.lowering = lowering

    def block(self, term: Term, depth: int) -> Term:
        stmts = term.args if term.op == "seq" else (term,)
        return seq(*(self.statement(s, depth) for s in stmts))

    def statement(self, term: Term, depth: int) -> Term:
        op, args = term.op, term.args
        if op == "assign":
            if self.lowering.single and args[0].op == "var":
                kind = self.lowering.np_kind(args[0])
                value = self.as_kind(self.expr(args[1]), self.lowering.np_kind(args[1]), kind)
                return Term("assign", (self.target(args[0]), value))
            return Term("assign", (self.target(args[0]), self.expr(args[1])))
        if op == "augassign":
            if term.value not in _AUGMENTED_IN_THREAD:
                raise _Refuse(f"augmented assignment `{term.value}=` in a loop")
            if self.lowering.single:  # `x op= e` is `x = x op e`, each step in NumPy's kinds
                combined = Term(str(term.value), (args[0], args[1]))
                return self.statement(Term("assign", (args[0], combined)), depth)
            target = self.target(args[0])
            combined = Term(str(term.value), (args[0], args[1]))
            if term.value == "mul" and self.lowering.expr_kind(combined) == "float":
                return Term("assign", (target, self.expr(combined)))
            self.expr(combined)  # type check of the combined operation
            return Term("augassign", (target, self.expr(args[1])), term.value)
        if op == "for":
            loop_var, lo, hi, step, body = args
            bounds = tuple(self.expr(b) for b in (lo, hi, step))
            for bound in (lo, hi, step):
                if self.lowering.expr_kind(bound) != "int":
                    raise _Refuse("a loop bound in a thread is not an integer")
            return Term("for", (loop_var, *bounds, self.block(body, depth + 1)), "range")
        if op == "if":
            cond, then, orelse = args
            return Term("if", (self.expr(cond), self.block(then, depth), self.block(orelse, depth)))
        if op == "seq":
            return self.block(term, depth)
        if op == "continue":
            return Term("return") if depth == 0 else term  # the thread's iteration is over
        if op == "pass":
            return term
        raise _Refuse(f"a `{op}` statement in a loop")

    def target(self, term: Term) -> Term:
        if term.op == "var":
            if self.lowering.kind(str(term.value)) not in SCALAR_KINDS:
                raise _Refuse(f"`{term.value}` is assigned in a loop and its type is not known")
            return term
        if term.op == "index":
            return self.element(term)
        raise _Refuse("a tuple or attribute assignment in a loop")

    def element(self, term: Term) -> Term:
        base = term.args[0]
        if base.op != "var" or self.lowering.kind(str(base.value)) != "array":
            raise _Refuse("indexing something other than an array in a loop")
        name = str(base.value)
        parts = index_parts(term)
        ndim = self.lowering.types[name].ndim if name in self.lowering.types else 0
        if len(parts) != ndim or any(p.op == "slice" or p == NONE for p in parts):
            raise _Refuse(f"`{name}` is sliced or partly indexed in a loop (whole-array work)")
        for part in parts:
            if self.lowering.expr_kind(part) != "int":
                raise _Refuse(f"a subscript of `{name}` is not an integer")
        new_parts = tuple(self.expr(p) for p in parts)
        index = new_parts[0] if term.args[1].op != "tuple" else Term("tuple", new_parts)
        return Term("index", (base, index))

    def expr(self, term: Term) -> Term:
        op, args = term.op, term.args
        lowering = self.lowering
        if op == "const":
            if type(term.value) not in (int, float, bool):
                raise _Refuse(f"the constant {term.value!r} in a loop")
            return term
        if op == "var":
            if lowering.kind(str(term.value)) not in SCALAR_KINDS:
                raise _Refuse(f"`{term.value}` is used in a loop as a whole, or its type is not known")
            return term
        if op == "index":
            if _is_shape(term):
                return term
            return self.element(term)
        if op == "pow":
            if args[1] != const(2):
                raise _Refuse("a power other than `** 2` (pow differs between libdevice and libm)")
            return self.expr(Term("mul", (args[0], args[0])))
        if lowering.single and op in ("add", "sub", "mul", "truediv", "lt", "le", "gt", "ge", "eq", "ne"):
            return self.single_binary(term)
        if lowering.single and op in ("floordiv", "mod", "ifexp", "neg", "pos"):
            kinds = {lowering.np_kind(a) for a in (args[1:] if op == "ifexp" else args)}
            if "?" in kinds or (op in ("floordiv", "mod") and kinds & {"f32", "f64", "pyfloat"}):
                raise _Refuse(f"`{op}` on values whose NumPy types the float32 lowering does not follow")
            if op == "ifexp" and len(kinds) > 1:
                raise _Refuse("a conditional expression whose branches have different NumPy types")
        if op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pos", "ifexp"):
            kind = lowering.expr_kind(term)
            if kind not in SCALAR_KINDS:
                raise _Refuse(f"an operation whose type is not known in a loop: {term!r}")
            new = Term(op, tuple(self.expr(a) for a in args), term.value)
            if op == "mul" and kind == "float":
                lowering.helpers.add(MUL)
                return _call(var(MUL), *new.args)
            return new
        if op in ("lt", "le", "gt", "ge", "eq", "ne", "not"):
            return Term(op, tuple(self.expr(a) for a in args))
        if op in ("and", "or"):
            if any(lowering.expr_kind(a) != "bool" for a in args):
                raise _Refuse("`and`/`or` on non-booleans in a loop")
            return Term(op, tuple(self.expr(a) for a in args))
        if op == "invert":
            if lowering.expr_kind(args[0]) != "int":
                raise _Refuse("`~` on a non-integer in a loop")
            return Term(op, (self.expr(args[0]),))
        if op == "call":
            return self.call(term)
        raise _Refuse(f"`{op}` in a loop is not lowered to CUDA")

    def as_kind(self, lowered: Term, kind: str, to: str) -> Term:
        """`lowered` (of NumPy kind `kind`) converted as NumPy converts it to kind `to`."""
        if to == "f32" and kind != "f32":
            return _call(_attr(var("numpy"), "float32"), lowered)
        if to in ("f64", "pyfloat") and kind == "f32":
            return _call(_attr(var("numpy"), "float64"), lowered)
        return lowered

    def single_binary(self, term: Term) -> Term:
        """An operation of a float32 kernel in NumPy's kinds (NEP 50): a float32 result is computed
        in float64 on operands first rounded to float32, then rounded to float32, which is the
        float32 operation's result exactly (+ - * / on binary32 values need 2 x 24 + 2 <= 53 bits
        not to round twice); other results as before, float32 operands widened exactly."""
        op, (a, b) = term.op, term.args
        ka, kb = self.lowering.np_kind(a), self.lowering.np_kind(b)
        common = _np_combine("add" if op in ("lt", "le", "gt", "ge", "eq", "ne") else op, ka, kb)
        if common == "?":
            raise _Refuse(f"an operation whose NumPy type is not known in a loop: {term!r}")
        la, lb = self.expr(a), self.expr(b)
        if common == "f32":
            wide = _attr(var("numpy"), "float64")
            la = _call(wide, self.as_kind(la, ka, "f32"))
            lb = _call(wide, self.as_kind(lb, kb, "f32"))
        elif common in ("f64", "pyfloat"):
            la, lb = self.as_kind(la, ka, common), self.as_kind(lb, kb, common)
        if op == "mul" and common in ("f32", "f64", "pyfloat"):
            self.lowering.helpers.add(MUL)
            result = _call(var(MUL), la, lb)
        else:
            result = Term(op, (la, lb))
        if common == "f32" and op not in ("lt", "le", "gt", "ge", "eq", "ne"):
            return _call(_attr(var("numpy"), "float32"), result)
        return result

    def call(self, term: Term) -> Term:
        name = call_name(term) or "?"
        allowed = dict(_EXACT_CALLS)
        if self.lowering.inexact_math:
            allowed.update(_INEXACT_CALLS)
        if name not in allowed:
            raise _Refuse(f"a call to `{name}`, which the CUDA lowering does not make")
        args = term.args[1:]
        scalar = (
            self.lowering.np_kind(args[0]) != "?"
            if self.lowering.single and len(args) == 1
            else len(args) == 1 and self.lowering.expr_kind(args[0]) in SCALAR_KINDS
        )
        if len(args) != 1 or args[0].op == "kw" or not scalar:
            raise _Refuse(f"`{name}` is called with other than one scalar argument")
        module, _, func = allowed[name].rpartition(".")
        func_term = _attr(var(module), func) if module else var(func)
        if self.lowering.single:
            # math.f(float32) computes in double and returns a Python float; np.f and abs keep
            # float32, which rounding the double result gives exactly (sqrt, abs: innocuous)
            kind, result = self.lowering.np_kind(args[0]), self.lowering.np_kind(term)
            if result == "?":
                raise _Refuse(f"`{name}` of a value whose NumPy type is not known")
            lowered = _call(func_term, self.as_kind(self.expr(args[0]), kind, "f64"))
            if kind == "f32" and result == "f32" and name not in _EXACT_CALLS:
                raise _Refuse(f"`{name}` of a float32: libdevice's float32 functions differ from NumPy's")
            return self.as_kind(lowered, "f64", "f32") if result == "f32" else lowered
        return _call(func_term, self.expr(args[0]))


# ---- small helpers -----------------------------------------------------------------------------------


def _block_sums(nest: _Nest, block: int) -> list[Term]:
    """After the thread body: each block sums its threads' accumulators by halving in shared memory,
    then its thread 0 adds the block's sum to the total with one atomic add."""
    t = var("_optc_t")
    out: list[Term] = [Term("assign", (t, _attr(_attr(var("cuda"), "threadIdx"), "x")))]
    for r in nest.reductions:
        shared = _call(
            _attr(_attr(var("cuda"), "shared"), "array"), const(block), _attr(var("numba"), r.dtype)
        )
        out.append(Term("assign", (var(r.part), shared)))
        out.append(Term("assign", (_index(var(r.part), t), var(r.acc))))
    sync = Term("expr", (_call(_attr(var("cuda"), "syncthreads")),))
    out.append(sync)
    stride = block // 2
    while stride >= 1:
        adds = [
            Term(
                "augassign",
                (_index(var(r.part), t), _index(var(r.part), Term("add", (t, const(stride))))),
                "add",
            )
            for r in nest.reductions
        ]
        out += [Term("if", (Term("lt", (t, const(stride))), seq(*adds), seq())), sync]
        stride //= 2
    atomics = [
        Term(
            "expr",
            (
                _call(
                    _attr(_attr(var("cuda"), "atomic"), "add"),
                    var(r.total),
                    const(0),
                    _index(var(r.part), const(0)),
                ),
            ),
        )
        for r in nest.reductions
    ]
    out.append(Term("if", (Term("eq", (t, const(0))), seq(*atomics), seq())))
    return out


def _tiled(nest: _Nest, inside: Term, tile: int, types: Mapping[str, ArgType]) -> list[Term] | None:
    """The thread body of a 2-D nest with its first top-level loop tiled (None: not matmul-like).

    Legal when that loop's bounds are the same for every thread of a block and it reads 2-D arrays
    the nest never writes at `X[g, k]` or `X[k, g]` (g a grid variable, k the loop's), outside any
    branch. Then the block loads `tile` values of k at a time of each such operand into shared
    memory, each thread one element, and every thread runs its iterations of k in the original order
    on those copies: the same values, the same operations, bit-identical results. Only elements the
    original reads are loaded (g and k both in range). Threads past the end still load and meet the
    barriers, so the guard `inside` wraps the statements before and after the loop and its body.
    """
    body = nest.thread_body.args
    if any(t.op == "return" for t in nest.thread_body.walk()):
        return None  # a thread leaving early would miss the barriers
    position = next((n for n, stmt in enumerate(body) if stmt.op == "for"), None)
    if position is None:
        return None
    loop = body[position]
    k, lo, hi, step, inner = loop.args
    gx, gy = nest.grid[0].var, nest.grid[1].var
    assigned = names_assigned(nest.thread_body) | {gx, gy}
    if step != const(1) or any(names_read(b) & assigned for b in (lo, hi)):
        return None
    if names_assigned(inner) & {gx, gy, str(k.value)}:
        return None
    written = arrays_written(nest.thread_body)
    # an access under a condition may be one the original never makes (out of bounds, say)
    conditional = {
        id(t) for branch in inner.walk() if branch.op in ("if", "ifexp", "and", "or") for t in branch.walk()
    }
    staged: dict[Term, tuple[str, str, int]] = {}  # access -> (tile array, grid var, its position)
    for t in inner.walk():
        if t.op != "index" or t.args[0].op != "var" or t.args[1].op != "tuple" or len(t.args[1].args) != 2:
            continue
        name = str(t.args[0].value)
        a, b = t.args[1].args
        for g in (gx, gy):
            spot = 0 if (a == var(g) and b == k) else 1 if (a == k and b == var(g)) else None
            if spot is None or name in written or id(t) in conditional:
                continue
            if types.get(name) is None or types[name].ndim != 2:
                continue
            staged.setdefault(t, (f"_optc_{name}_{'row' if spot == 0 else 'col'}_{g}", g, spot))
    if not staged:
        return None
    tx, ty, k0, k1 = var("_optc_tx"), var("_optc_ty"), var("_optc_k0"), var("_optc_k1")
    numba_types = {"float64": "float64", "float32": "float32", "int64": "int64", "bool": "boolean"}
    out: list[Term] = [
        Term("assign", (tx, _attr(_attr(var("cuda"), "threadIdx"), "x"))),
        Term("assign", (ty, _attr(_attr(var("cuda"), "threadIdx"), "y"))),
    ]
    loads: list[Term] = []
    replaced: dict[Term, Term] = {}
    made: set[str] = set()
    for access, (tile_name, g, spot) in staged.items():
        array = str(access.args[0].value)
        # thread (ty, tx) loads the element of its own g at k0 + its other index into [ty, tx], so a
        # warp (consecutive tx) loads consecutive addresses when the array runs along tx; reading it
        # back, a warp reads one address (g along y) or consecutive ones (g along x): no bank conflicts
        other = ty if g == gx else tx
        kk = Term("add", (k0, other))
        hi_name = nest.grid[0].hi_name if g == gx else nest.grid[1].hi_name
        if tile_name not in made:
            made.add(tile_name)
            dtype = numba_types[types[array].dtype]
            shape = Term("tuple", (const(tile), const(tile)))
            out.append(
                Term(
                    "assign",
                    (
                        var(tile_name),
                        _call(
                            _attr(_attr(var("cuda"), "shared"), "array"), shape, _attr(var("numba"), dtype)
                        ),
                    ),
                )
            )
            source = (var(g), kk) if spot == 0 else (kk, var(g))
            load = Term(
                "assign",
                (
                    _index(var(tile_name), Term("tuple", (ty, tx))),
                    _index(var(array), Term("tuple", source)),
                ),
            )
            in_range = Term("and", (Term("lt", (var(g), var(hi_name))), Term("lt", (kk, hi))))
            loads.append(Term("if", (in_range, seq(load), seq())))
        offset = Term("sub", (k, k0))
        replaced[access] = _index(var(tile_name), Term("tuple", (offset, tx) if g == gx else (ty, offset)))
    sync = Term("expr", (_call(_attr(var("cuda"), "syncthreads")),))
    before, after = body[:position], body[position + 1 :]
    # leading constant initialisations (`acc = 0.0`) run in every thread, so no variable is
    # defined on one path only; the rest, which may read arrays, only inside the ranges
    plain = 0
    while (
        plain < len(before)
        and before[plain].op == "assign"
        and before[plain].args[0].op == "var"
        and before[plain].args[1].op == "const"
    ):
        plain += 1
    out.extend(before[:plain])
    if before[plain:]:
        out.append(Term("if", (inside, seq(*before[plain:]), seq())))
    steps = [
        *loads,
        sync,
        Term("assign", (k1, Term("add", (k0, const(tile))))),
        Term("if", (Term("gt", (k1, hi)), seq(Term("assign", (k1, hi))), seq())),
        Term(
            "if",
            (inside, seq(Term("for", (k, k0, k1, const(1), _substitute(inner, replaced)), "range")), seq()),
        ),
        sync,
    ]
    out.append(Term("for", (k0, lo, hi, const(tile), seq(*steps)), "range"))
    if after:
        out.append(Term("if", (inside, seq(*after), seq())))
    return out


def _tiled_micro(
    nest: _Nest, tile: int, micro: int, types: Mapping[str, ArgType], fresh: Callable[[str], str]
) -> list[Term] | None:
    """The whole kernel body of a 2-D matmul-like nest with register blocking (None: not one).

    A block of S x S threads (S = tile // micro) covers tile x tile outputs: thread (tx, ty) runs
    the iterations (x0 + tx + a S, y0 + ty + b S) for a, b < micro, interleaved statement by
    statement, which is legal because the grid loops are parallel (no two iterations touch the
    same element) and each iteration keeps its own order. The loop over k is staged as in
    `_tiled`, S values of k at a time: the block loads tile x S elements of each operand `X[g, k]`
    (S x tile of `X[k, g]`), each thread `micro` of them, consecutive threads along the array's
    contiguous index. An element the loop updates at grid indices only (`C[i, j] += ...`), and
    that the nest reads nowhere else at another index, is kept in a register across the loop: the
    same operations in the same order, so the same bits, without a memory round trip per k.
    """
    body = nest.thread_body.args
    if any(t.op == "return" for t in nest.thread_body.walk()):
        return None
    position = next((n for n, stmt in enumerate(body) if stmt.op == "for"), None)
    if position is None:
        return None
    k, lo, hi, step, inner = body[position].args
    gx, gy = nest.grid[0].var, nest.grid[1].var
    assigned = names_assigned(nest.thread_body) | {gx, gy}
    if step != const(1) or any(names_read(b) & assigned for b in (lo, hi)):
        return None
    if names_assigned(inner) & {gx, gy, str(k.value)}:
        return None
    written = arrays_written(nest.thread_body)
    conditional = {
        id(t) for branch in inner.walk() if branch.op in ("if", "ifexp", "and", "or") for t in branch.walk()
    }
    staged: dict[Term, tuple[str, str, int]] = {}
    for t in inner.walk():
        if t.op != "index" or t.args[0].op != "var" or t.args[1].op != "tuple" or len(t.args[1].args) != 2:
            continue
        name = str(t.args[0].value)
        first, second = t.args[1].args
        for g in (gx, gy):
            spot = (
                0 if (first == var(g) and second == k) else 1 if (first == k and second == var(g)) else None
            )
            if spot is None or name in written or id(t) in conditional:
                continue
            if types.get(name) is None or types[name].ndim != 2:
                continue
            staged.setdefault(t, (f"_optc_{name}_{'row' if spot == 0 else 'col'}_{g}", g, spot))
    if not staged:
        return None
    side = tile // micro
    tx, ty, k0, k1 = var("_optc_tx"), var("_optc_ty"), var("_optc_k0"), var("_optc_k1")
    x0, y0 = var("_optc_x0"), var("_optc_y0")
    lo_x, hi_x = var(nest.grid[0].lo_name), var(nest.grid[0].hi_name)
    lo_y, hi_y = var(nest.grid[1].lo_name), var(nest.grid[1].hi_name)
    cuda_attr = _attr(var("cuda"), "threadIdx")
    block_attr = _attr(var("cuda"), "blockIdx")
    out: list[Term] = [
        Term("assign", (tx, _attr(cuda_attr, "x"))),
        Term("assign", (ty, _attr(cuda_attr, "y"))),
        Term("assign", (x0, Term("add", (lo_x, Term("mul", (_attr(block_attr, "x"), const(tile))))))),
        Term("assign", (y0, Term("add", (lo_y, Term("mul", (_attr(block_attr, "y"), const(tile))))))),
    ]
    # register accumulators: an element written in the loop at grid indices only, every access to
    # its array in the thread body that same element
    registers: dict[Term, str] = {}
    for t in inner.walk():
        if t.op not in ("assign", "augassign") or t.args[0].op != "index" or t.args[0].args[0].op != "var":
            continue
        target = t.args[0]
        array = str(target.args[0].value)
        if not names_read(target.args[1]) <= {gx, gy} or target in registers:
            continue
        uses = [a for a in accesses(nest.thread_body) if a.array == array]
        if all(a.term == target for a in uses) and id(t) not in conditional:
            registers[target] = fresh(f"_optc_{array}_reg")
    numba_types = {"float64": "float64", "float32": "float32", "int64": "int64", "bool": "boolean"}
    made: set[str] = set()
    loads: list[Term] = []
    for tile_name, g, spot in staged.values():
        if tile_name in made:
            continue
        made.add(tile_name)
        array = next(str(t.args[0].value) for t, v in staged.items() if v[0] == tile_name)
        dtype = numba_types[types[array].dtype]
        shape = (tile, side) if spot == 0 else (side, tile)
        out.append(
            Term(
                "assign",
                (
                    var(tile_name),
                    _call(
                        _attr(_attr(var("cuda"), "shared"), "array"),
                        Term("tuple", tuple(const(d) for d in shape)),
                        _attr(var("numba"), dtype),
                    ),
                ),
            )
        )
        base, g_hi = (x0, hi_x) if g == gx else (y0, hi_y)
        for a in range(micro):
            # consecutive threads along x load consecutive addresses: k for X[g, k], g for X[k, g]
            g_local = Term("add", (ty if spot == 0 else tx, const(a * side)))
            k_local = tx if spot == 0 else ty
            gg, kk = Term("add", (base, g_local)), Term("add", (k0, k_local))
            source = (gg, kk) if spot == 0 else (kk, gg)
            where = (g_local, k_local) if spot == 0 else (k_local, g_local)
            load = Term(
                "assign",
                (_index(var(tile_name), Term("tuple", where)), _index(var(array), Term("tuple", source))),
            )
            in_range = Term("and", (Term("lt", (gg, g_hi)), Term("lt", (kk, hi))))
            loads.append(Term("if", (in_range, seq(load), seq())))
    local_names = sorted((names_assigned(nest.thread_body) - {str(k.value)}) | set(registers.values()))
    before, after = body[:position], body[position + 1 :]
    starts: list[Term] = []
    ends: list[Term] = []
    steps_compute: list[Term] = []
    for b in range(micro):
        for a in range(micro):
            gx_ab, gy_ab = fresh(f"{gx}_{a}{b}"), fresh(f"{gy}_{a}{b}")
            names = {gx: gx_ab, gy: gy_ab, **{n: fresh(f"{n}_{a}{b}") for n in local_names}}
            inside = Term("and", (Term("lt", (var(gx_ab), hi_x)), Term("lt", (var(gy_ab), hi_y))))
            out.append(Term("assign", (var(gx_ab), Term("add", (x0, Term("add", (tx, const(a * side))))))))
            out.append(Term("assign", (var(gy_ab), Term("add", (y0, Term("add", (ty, const(b * side))))))))
            replaced: dict[Term, Term] = {}
            for access, (tile_name, g, spot) in staged.items():
                g_local = (
                    Term("add", (tx, const(a * side))) if g == gx else Term("add", (ty, const(b * side)))
                )
                offset = Term("sub", (k, k0))
                where = (g_local, offset) if spot == 0 else (offset, g_local)
                replaced[access] = _index(var(tile_name), Term("tuple", where))
            for target, register in registers.items():
                replaced[target] = var(register)
            plain = 0
            while (
                plain < len(before)
                and before[plain].op == "assign"
                and before[plain].args[0].op == "var"
                and before[plain].args[1].op == "const"
            ):
                plain += 1
            starts += [_rename(s, names) for s in before[:plain]]
            guarded = [*before[plain:]]
            for target, register in registers.items():
                zero = _zero_of(types[str(target.args[0].value)].dtype)
                starts.append(Term("assign", (var(names[register]), zero)))
                guarded.append(Term("assign", (var(register), target)))
            if guarded:
                starts.append(Term("if", (inside, seq(*(_rename(s, names) for s in guarded)), seq())))
            finish = [Term("assign", (target, var(register))) for target, register in registers.items()]
            if finish or after:
                ends.append(Term("if", (inside, seq(*(_rename(s, names) for s in (*finish, *after))), seq())))
            copy = _rename(_substitute(inner, replaced), names)
            steps_compute.append(Term("if", (inside, copy, seq())))
    sync = Term("expr", (_call(_attr(var("cuda"), "syncthreads")),))
    steps = [
        *loads,
        sync,
        Term("assign", (k1, Term("add", (k0, const(side))))),
        Term("if", (Term("gt", (k1, hi)), seq(Term("assign", (k1, hi))), seq())),
        Term("for", (k, k0, k1, const(1), seq(*steps_compute)), "range"),
        sync,
    ]
    return [*out, *starts, Term("for", (k0, lo, hi, const(side), seq(*steps)), "range"), *ends]


def _zero_of(dtype: str) -> Term:
    """A zero of `dtype` in device code (numba types the register from it)."""
    if dtype == "float32":
        return _call(_attr(var("numpy"), "float32"), const(0.0))
    if dtype == "float64":
        return const(0.0)
    return const(False) if dtype == "bool" else const(0)


def _substitute(term: Term, replacements: Mapping[Term, Term]) -> Term:
    if term in replacements:
        return replacements[term]
    if not term.args:
        return term
    return Term(term.op, tuple(_substitute(a, replacements) for a in term.args), term.value)


def _escaping(body: Term) -> dict[str, frozenset[str]]:
    """`KernelFacts.escaping` for this body, without counting a loop variable as read after its loop
    where the read is inside another loop over the same name (which rebinds it first): time-step
    bodies reuse `i` in consecutive nests, and each nest is still parallel."""
    out: dict[str, set[str]] = {}
    for loop in (t for t in body.walk() if t.op == "for"):
        outside = _reads_skipping(body, loop)
        out.setdefault(str(loop.args[0].value), set()).update(names_assigned(loop) & outside)
    return {k: frozenset(v) for k, v in out.items()}


def _reads_skipping(term: Term, skip: Term) -> set[str]:
    """Names read in `term` outside the loop `skip` (the very node), a loop's variable not counted as
    read in that loop's own body."""
    if term is skip:
        return set()
    if term.op == "for":
        loop_var, lo, hi, step, body = term.args
        inner = _reads_skipping(body, skip) - {str(loop_var.value)}
        return inner.union(*(names_read(b) for b in (lo, hi, step)))
    if term.op in ("seq", "if", "while"):  # statements around statements; their conditions are reads
        return set().union(*(_reads_skipping(a, skip) for a in term.args))
    return names_read(term)


def _rename(term: Term, names: Mapping[str, str]) -> Term:
    if term.op == "var" and str(term.value) in names:
        return var(names[str(term.value)])
    if not term.args:
        return term
    return Term(term.op, tuple(_rename(a, names) for a in term.args), term.value)


def _call(func: Term, *args: Term) -> Term:
    return Term("call", (func, *args))


def _attr(obj: Term, name: str) -> Term:
    return Term("attr", (obj,), name)


def _index(array: Term, index: Term) -> Term:
    return Term("index", (array, index))


def _is_shape(term: Term) -> bool:
    """`A.shape[d]`: device arrays have shapes too."""
    base = term.args[0]
    return (
        base.op == "attr"
        and base.value == "shape"
        and base.args[0].op == "var"
        and term.args[1].op == "const"
        and type(term.args[1].value) is int
    )


def _as_range(term: Term) -> Term:
    """prange loops (from the parallel pass) as plain range loops: the GPU grid replaces them."""
    if not term.args:
        return term
    args = tuple(_as_range(a) for a in term.args)
    value = "range" if term.op == "for" else term.value
    if args == term.args and value == term.value:
        return term
    return Term(term.op, args, value)


def _free_names(term: Term) -> set[str]:
    """Names read, not counting the functions called (`math.sqrt`, `_optc_mul`, `abs`)."""
    out: set[str] = set()
    stack = [term]
    while stack:
        node = stack.pop()
        if node.op == "call":
            stack.extend(node.args[1:])
            continue
        if node.op == "var":
            out.add(str(node.value))
        stack.extend(node.args)
    return out


def _data_names(term: Term) -> set[str]:
    """Names `term` reads or writes other than as `name.shape`."""
    out: set[str] = set()
    stack = [term]
    while stack:
        node = stack.pop()
        if node.op == "attr" and node.value == "shape" and node.args[0].op == "var":
            continue
        if node.op == "var":
            out.add(str(node.value))
        stack.extend(node.args)
    return out


def _last_index_score(body: Term, loop_var: str) -> int:
    """How many accesses in `body` use `loop_var` as their last subscript (contiguous in C order)."""
    score = 0
    for access in accesses(body):
        last = access.indices[-1] if access.indices else None
        if last is not None and loop_var in names_read(last):
            score += 1
    return score


def _fresh_dtype(value: Term, types: Mapping[str, ArgType]) -> str | None:
    """The dtype of a fresh allocation: float64 unless `dtype=` says otherwise; a `_like` or
    `.copy()` takes its source's dtype."""
    if value.op != "call":
        return None
    func = value.args[0]
    if func.op == "attr" and func.value == "copy" and func.args[0].op == "var":
        source = types.get(str(func.args[0].value))
        return source.dtype if source is not None and source.kind == "array" else None
    name = call_name(value) or ""
    module, _, func_name = name.rpartition(".")
    if module not in NUMPY_MODULES:
        return None
    dtype_kw = [a for a in value.args[1:] if a.op == "kw" and a.value == "dtype"]
    positional = [a for a in value.args[1:] if a.op != "kw"]
    if func_name in LIKE_ALLOCATORS:
        if dtype_kw or not positional or positional[0].op != "var":
            return None
        source = types.get(str(positional[0].value))
        return source.dtype if source is not None and source.kind == "array" else None
    if func_name not in ALLOCATORS or func_name == "full" or len(positional) != 1:
        return None
    if not dtype_kw:
        return "float64"
    return _dtype_name(dtype_kw[0].args[0])


def _dtype_name(term: Term) -> str | None:
    """`np.float64`, `float`, `"int64"`, ... as a dtype name, for the dtypes a thread may touch."""
    if term.op == "const" and isinstance(term.value, str):
        text = term.value
    else:
        text = dotted_name(term) or ""
    module, _, name = text.rpartition(".")
    if module and module not in NUMPY_MODULES:
        return None
    if name in ("float64", "double", "float_") or text == "float":
        return "float64"
    if name in ("float32", "single"):
        return "float32"
    if name in ("int64", "intp", "int_") or text == "int":
        return "int64"
    if name == "bool_" or text == "bool":
        return "bool"
    return None


def _rotating_arrays(body: Term, params: set[str], types: Mapping[str, ArgType]) -> dict[str, ArgType]:
    """Locals that trade places in `a, b = b, a` (ping-pong buffers of time steps): each bound
    once, at the top level, to a fresh allocation, and otherwise only permuted among themselves, so
    each always names one of those allocations and no two the same one. name -> its type."""
    rotations = [t for t in body.walk() if _is_permutation(t)]
    names = {str(e.value) for t in rotations for e in t.args[0].args}
    allocations: dict[str, ArgType] = {}
    for stmt in body.args:
        if stmt.op == "assign" and stmt.args[0].op == "var" and str(stmt.args[0].value) in names:
            dtype, ndim = _fresh_dtype(stmt.args[1], types), _fresh_ndim(stmt.args[1], types)
            if dtype is not None and ndim:
                allocations[str(stmt.args[0].value)] = ArgType("array", dtype, ndim)
    out: dict[str, ArgType] = {}
    for name in names - params:
        binds = [
            t
            for t in body.walk()
            if (t.op in ("assign", "augassign") and name in names_assigned(Term(t.op, (t.args[0], const(0)))))
            or (t.op == "for" and t.args[0].value == name)
        ]
        if name in allocations and len(binds) == 1 + sum(1 for t in rotations if t in binds):
            out[name] = allocations[name]
    for t in rotations:  # a permutation mixes types or includes another name: none of it rotates
        group = [str(e.value) for e in t.args[0].args]
        if any(g not in out for g in group) or len({out[g] for g in group}) > 1:
            for g in group:
                out.pop(g, None)
    return out


def without_rotations(body: Term) -> Term | None:
    """`body` without its ping-pong rotations (`a, b = b, a`), when every array they permute is a
    local bound once, at the top level, to an allocation of the same shape as the others (copies or
    `_like`s of one array, or the same shape expression): then each name always holds an array of
    that shape, and a subscript is in bounds in `body` exactly when it is in the rotation-free body,
    whose bounds the analysis can follow. None when some rotation is not such a one."""
    rotations = [t for t in body.walk() if _is_permutation(t)]
    if not rotations:
        return body
    shapes: dict[str, Term] = {}
    for stmt in body.args:
        if stmt.op == "assign" and stmt.args[0].op == "var":
            shape = _allocation_shape(stmt.args[1])
            if shape is not None:
                shapes.setdefault(str(stmt.args[0].value), shape)
    for t in rotations:
        names = [str(e.value) for e in t.args[0].args]
        binds = [
            b
            for b in body.walk()
            if b.op in ("assign", "augassign") and b.args[0].op == "var" and str(b.args[0].value) in names
        ]
        if (
            any(n not in shapes for n in names)
            or len({shapes[n] for n in names}) != 1
            or len(binds) != len(names)
        ):
            return None
    return _drop(body, frozenset(rotations))


def _allocation_shape(value: Term) -> Term | None:
    """What fixes a fresh allocation's shape: the source array of `X.copy()` / `np.*_like(X)`, or the
    shape argument of `np.zeros(shape)` and the like; None for anything else."""
    if value.op != "call":
        return None
    func = value.args[0]
    positional = [a for a in value.args[1:] if a.op != "kw"]
    if func.op == "attr" and func.value == "copy" and func.args[0].op == "var" and not positional:
        return func.args[0]
    module, _, name = (call_name(value) or "").rpartition(".")
    if module not in NUMPY_MODULES or not positional:
        return None
    if (
        name in LIKE_ALLOCATORS
        and positional[0].op == "var"
        and not any(a.op == "kw" and a.value == "shape" for a in value.args[1:])
    ):
        return positional[0]
    if name in ALLOCATORS and name != "full":
        return Term("tuple", (positional[0],))  # the shape expression itself, as a key
    return None


def _drop(term: Term, statements: frozenset[Term]) -> Term:
    if term.op == "seq":
        return seq(*(_drop(a, statements) for a in term.args if a not in statements))
    if not term.args:
        return term
    return Term(term.op, tuple(_drop(a, statements) for a in term.args), term.value)


def _is_permutation(t: Term) -> bool:
    if t.op != "assign" or t.args[0].op != "tuple" or t.args[1].op != "tuple":
        return False
    targets, values = t.args[0].args, t.args[1].args
    if not all(e.op == "var" for e in (*targets, *values)):
        return False
    names = [str(e.value) for e in targets]
    return len(set(names)) == len(names) and sorted(names) == sorted(str(e.value) for e in values)


def _fresh_ndim(value: Term, types: Mapping[str, ArgType]) -> int:
    """The number of dimensions of a fresh allocation (0: not known)."""
    if value.op != "call":
        return 0
    func = value.args[0]
    positional = [a for a in value.args[1:] if a.op != "kw"]
    source = None
    if func.op == "attr" and func.value == "copy" and func.args[0].op == "var":
        source = str(func.args[0].value)
    elif (
        (call_name(value) or "").rpartition(".")[2] in LIKE_ALLOCATORS
        and positional
        and positional[0].op == "var"
    ):
        source = str(positional[0].value)
    if source is not None:
        at = types.get(source)
        return at.ndim if at is not None and at.kind == "array" else 0
    if not positional:
        return 0
    return len(positional[0].args) if positional[0].op == "tuple" else 1


def _fill_value(value: Term) -> object:
    """What a fresh allocation holds: 0, 1, None (np.empty: unset) or _NO_FILL (copy the host's)."""
    if value.op != "call":
        return _NO_FILL
    name = call_name(value) or ""
    module, _, func = name.rpartition(".")
    if module in NUMPY_MODULES and func in _FILLS:
        return _FILLS[func]
    return _NO_FILL


def _local_kinds(body: Term, types: Mapping[str, ArgType], fresh: Iterable[str]) -> dict[str, str]:
    """int / float / bool / array / unknown for each local of this variant's body (temporaries a
    rewrite introduced included), by a small fixpoint over its assignments."""
    kinds: dict[str, str] = {name: "array" for name in fresh}
    skip = set(kinds) | set(types)

    def join(name: str, kind: str) -> bool:
        if name in skip:
            return False
        old = kinds.get(name)
        new = kind if old is None or old == kind else "unknown"
        kinds[name] = new
        return new != old

    for _ in range(6):
        changed = False
        for node in body.walk():
            if node.op == "for":
                changed |= join(str(node.args[0].value), "int")
            elif node.op == "assign":
                target, value = node.args
                if target.op == "var":
                    changed |= join(str(target.value), expr_kind(value, types, kinds))
                elif target.op == "tuple":
                    is_shape = value.op == "attr" and value.value == "shape"
                    for element in target.args:
                        if element.op == "var":
                            changed |= join(str(element.value), "int" if is_shape else "unknown")
            elif node.op == "augassign" and node.args[0].op == "var":
                combined = Term(str(node.value), (node.args[0], node.args[1]))
                changed |= join(str(node.args[0].value), expr_kind(combined, types, kinds))
        if not changed:
            break
    return kinds


# ---- NumPy's scalar kinds (NEP 50), for kernels on float32 arrays -------------------------------------
# Strong kinds: f32, f64, i64, b (NumPy scalars: array elements, np.sqrt of a Python float); weak:
# pyfloat, pyint, pybool (Python numbers: literals, float and int parameters, math.* results), which
# take the other operand's kind when it is strong. "?" is unknown: the float32 lowering refuses it.

_STRONG = {"float32": "f32", "float64": "f64", "int64": "i64", "bool": "b"}
_WEAK = frozenset({"pyfloat", "pyint", "pybool"})
_FLOATS = frozenset({"f32", "f64", "pyfloat"})


def _np_combine(op: str, a: str, b: str) -> str:
    """The NumPy kind of `a op b` (op: add, sub, mul, truediv, floordiv, mod)."""
    if "?" in (a, b) or "b" in (a, b):
        return "?"
    a, b = ("pyint" if k == "pybool" else k for k in (a, b))
    if a in _WEAK and b in _WEAK:
        return "pyfloat" if "pyfloat" in (a, b) or op == "truediv" else "pyint"
    if a in _WEAK or b in _WEAK:
        strong, weak = (a, b) if b in _WEAK else (b, a)
        if strong in ("f32", "f64"):
            return strong
        return "f64" if weak == "pyfloat" or op == "truediv" else "i64"
    if "f64" in (a, b):
        return "f64"
    if "f32" in (a, b):
        return "f64" if "i64" in (a, b) else "f32"
    return "f64" if op == "truediv" else "i64"


def _np_kind(term: Term, types: Mapping[str, ArgType], local: Mapping[str, str]) -> str:
    op, args = term.op, term.args
    if op == "const":
        value = term.value
        return {bool: "pybool", int: "pyint", float: "pyfloat"}.get(type(value), "?")
    if op == "var":
        name = str(term.value)
        at = types.get(name)
        if at is not None and at.kind != "array":
            return {"float": "pyfloat", "int": "pyint", "bool": "pybool"}.get(at.kind, "?")
        return local.get(name, "?")
    if op == "index":
        if _is_shape(term):
            return "pyint"
        at = types.get(str(args[0].value)) if args[0].op == "var" else None
        return _STRONG.get(at.dtype, "?") if at is not None and at.kind == "array" and at.dtype else "?"
    if op == "pow" and args[1] == const(2):
        return _np_combine("mul", *(_np_kind(a, types, local) for a in (args[0], args[0])))
    if op in ("add", "sub", "mul", "truediv", "floordiv", "mod"):
        return _np_combine(op, _np_kind(args[0], types, local), _np_kind(args[1], types, local))
    if op in ("neg", "pos"):
        kind = _np_kind(args[0], types, local)
        return "?" if kind in ("b", "pybool") else kind
    if op == "ifexp":
        kinds = {_np_kind(a, types, local) for a in args[1:]}
        return kinds.pop() if len(kinds) == 1 else "?"
    if op in ("lt", "le", "gt", "ge", "eq", "ne", "not", "and", "or"):
        return "pybool"
    if op == "call":
        name = call_name(term) or ""
        module, _, func = name.rpartition(".")
        inner = [a for a in args[1:] if a.op != "kw"]
        kind = _np_kind(inner[0], types, local) if len(inner) == 1 else "?"
        if kind == "?":
            return "?"
        if name == "float" or module == "math":
            return "pyfloat"
        if name == "abs":
            return kind
        if module in NUMPY_MODULES:  # np.sqrt, np.abs...: a NumPy scalar; of a Python number, a float64
            if func in ("abs", "absolute", "fabs") and kind in ("pyint", "i64") and func != "fabs":
                return "i64"
            return "f64" if kind in _WEAK or kind in ("i64", "f64") else kind
        return "?"
    return "?"


def _np_locals(body: Term, types: Mapping[str, ArgType]) -> tuple[dict[str, str], frozenset[str]]:
    """Each local's NumPy kind over all its assignments, and those that join a Python number with a
    float32 (`s = 0.0` then `s += x[i]`): typed float32 throughout."""
    local: dict[str, str] = {}
    promoted: set[str] = set()

    def join(name: str, kind: str) -> bool:
        if name in types:
            return False
        old = local.get(name)
        if old is None or old == kind:
            new = kind
        elif {old, kind} <= {"f32", "pyfloat", "pyint"} and "f32" in (old, kind):
            new = "f32"
            promoted.add(name)
        elif {old, kind} <= {"i64", "pyint"}:
            new = "i64"
            promoted.add(name)
        else:
            new = "?"
        local[name] = new
        return new != old

    for _ in range(8):
        changed = False
        for node in body.walk():
            if node.op == "for":
                changed |= join(str(node.args[0].value), "pyint")
            elif node.op == "assign":
                target, value = node.args
                if target.op == "var":
                    changed |= join(str(target.value), _np_kind(value, types, local))
                elif target.op == "tuple":
                    is_shape = value.op == "attr" and value.value == "shape"
                    for element in target.args:
                        if element.op == "var":
                            changed |= join(str(element.value), "pyint" if is_shape else "?")
            elif node.op == "augassign" and node.args[0].op == "var":
                combined = Term(str(node.value), (node.args[0], node.args[1]))
                changed |= join(str(node.args[0].value), _np_kind(combined, types, local))
        if not changed:
            break
    return local, frozenset(promoted)


def _absorbed(body: Term, name: str, kind_of: Callable[[Term], str]) -> bool:
    """Is every read of `name` one where a Python number and its float32 rounding give the same
    result: an operand beside a float32, or the value stored into a float32 element? Then typing
    `name` float32 from its first assignment on changes nothing."""
    ok = True

    def visit(term: Term, parent: Term | None) -> None:
        nonlocal ok
        if term.op == "var" and str(term.value) == name and parent is not None:
            if parent.op in ("add", "sub", "mul", "truediv", "lt", "le", "gt", "ge", "eq", "ne"):
                other = parent.args[1] if parent.args[0] is term else parent.args[0]
                ok &= kind_of(other) == "f32"
            elif parent.op == "assign" and parent.args[1] is term:
                ok &= parent.args[0].op == "index" and kind_of(parent.args[0]) == "f32"
            elif parent.op == "augassign" and parent.args[1] is term:
                ok &= kind_of(parent.args[0]) == "f32"
            elif parent.op == "augassign" and parent.args[0] is term:  # `name op= e` reads name too
                ok &= kind_of(parent.args[1]) == "f32"
            elif not (parent.op == "assign" and parent.args[0] is term):
                ok = False
        for child in term.args:
            visit(child, term)

    visit(body, None)
    return ok
