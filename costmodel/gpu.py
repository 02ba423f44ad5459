"""When the GPU pays: predicted time of a kernel's CUDA lowering, transfers included, and the size
from which it beats the best CPU variant.

Why a separate model: the analytic model (`analytic.py`) is a CPU roofline. A CUDA call costs
what the CPU never pays, fixed overheads per launch and per copy, and bytes over PCIe, and gains
what it never has, thousands of threads on a memory system 10-30x wider. Which side wins flips with
size, so the pipeline asks this module for a threshold, not for one number.

Model, per call of the host wrapper (`passes/gpu.py`), at a size profile:

    gpu = launches * launch_s + launch_arrays * launch_array_s + copies * copy_s + pcie_bytes / pcie_bw
          + max(flops / fp64_flops, accessed_bytes / access_bw,
                serial * thread_iter_s + serial_loads * load_s + serial_strided_loads * strided_load_s)

  - launches: one per top-level parallel nest; a sequential loop around nests (time steps) stays
    on the host and launches each nest and each element store (`x[0] = y[0]`, one thread) inside
    it once per trip, a rotation (`a, b = b, a`) none; a fresh array filled on the device
    (np.zeros) is one more launch. launch_arrays: the array arguments of those launches.
  - copies: each array argument is copied in once, and out once if the kernel writes it; each fresh
    array is allocated once and copied out if returned; a scalar sum adds two copies.
  - pcie_bytes: the bytes of those copies.
  - accessed_bytes: every array load and store the nests issue (`analytic.loop_stats`), at the
    element size; L1/L2 hits are folded into `access_bw`, an effective figure, not HBM's peak.
    A nest lowered with shared-memory tiles reads each operand `tile / 2` times less from there.
  - serial: iterations one thread runs in order (iterations / threads of the grid), which bounds
    small grids whose threads each walk a long inner loop; serial_loads: the loads among them, and
    serial_strided_loads those whose warp's lanes read rows apart (the x thread index in a
    subscript other than the last), each lane its own cache line. A loop whose bounds read an
    enclosing grid variable (a triangular `range(i + 1)`) stays a loop in each thread, as the
    lowering keeps it (`_grid_depth`).

The CPU side is a prediction of the CPU variant the dispatcher falls back to, at the same sizes
(`pipeline.dispatch_cpu_seconds`: the machine's learned cost model where one fits its hardware id,
else the analytic model). `crossover` scans a geometric range of sizes (array dimensions scaled,
other size symbols such as a step count kept at the profile) and returns the smallest problem size (elements of the largest
array argument, times the int parameters that size no array: `problem_size`) from which the GPU is predicted faster by `MARGIN` at every larger
size scanned; None where it never is, so `--target auto` stays on the CPU unless the model sees a
clear win within `MAX_ELEMENTS`.

Constants and their source (`H100`): fp64_flops and HBM bandwidth from NVIDIA's H100 SXM data sheet
(34 TFLOP/s FP64 without tensor cores, 3.35 TB/s). MICRO: measured with numba-cuda 0.30.4 on the
H100 host (bench/gpu_micro.py, bench/results/gpu/micro.json; not the corpus records): 1000 launches
of a 1024-element kernel took 19, 39 and 86 us each with 1, 3 and 6 array arguments (launch_s
2.5 us + launch_array_s 13.6 us an array, least squares); a one-warp serial loop took 11 ns an
iteration for a dependent multiply-add alone (thread_iter_s), 60-75 ns with two loads of adjacent
or equal addresses (load_s 30 ns a load), 150-190 ns where one of the two puts each lane on its own
row 32 KiB apart (strided_load_s 130 ns). pcie_bw is
measured: the corpus run times the wrapper's copies beside each GPU time (`transfers`: h2d + d2h),
and over the 30 records that move over 50 MB they ran at a median 5.3 GB/s (quartiles 4.1, 9.1),
not PCIe 5's ~25: numba-cuda copies from pageable memory (and `ascontiguousarray`s first). Where
GPU.md's 25 GB/s was used, the predicted GPU time was off by a median factor of 1.9, 1.5 now.
copy_s and access_bw are fitted to the float64
gemm figures measured on the H100 host (GPU.md: naive 16x16 `cuda.jit` gemm incl. transfers at
n = 256, 1024, 2048: 1.24, 10.8, 55.1 ms): with 2 launches and 4 copies per call, the n = 256 run
leaves ~1.08 ms of fixed cost (copy_s ~0.26 ms: numba-cuda's Python side of `to_device`,
`device_array`, `copy_to_host` with pageable memory), and n = 1024 / 2048 give 2.0 / 2.7 TB/s of
effective access bandwidth (2 n^3 loads of 8 bytes, mostly cache hits): 2.2 TB/s is used. With
the measured launch costs the two launches take ~0.06 ms of the 1.08 (was 0.02 at 10 us a
launch): copy_s stays. Before MICRO, launch_s was 10 us for any launch and thread_iter_s 20 ns
with no cost for loads: autocorrelation (one thread per lag, each summing over n) was predicted
3-4x too fast, syrk (triangular) 11x, atax and time-stepped stencils (tens to thousands of
launches) 2-10x; the predicted GPU time over the 200 corpus pairs is now off by a median factor of
1.33 (was 1.36; geomean 1.46, was 1.56).

Launch configurations (`LaunchConfig`: block shapes, tiles, register micro-tiles) are variants this
model ranks (`rank_launches`) at the size profile; the pipeline ships the first that lowers. What
tells them apart: `efficiency` (lanes of the x extent's last warp left idle, and grids of fewer blocks
than SMs), how much of a matmul-like 2-D nest's operands a block shares through L1 (square blocks
more than 32x8, relative to the 16x16 blocks access_gbs was fitted with), tiles (operands read
tile / 2 times less), and register blocking (micro^2 fewer threads, each running micro^2 times the
iterations). These terms rank; they are not fitted (the corpus run measured two block shapes, within
noise of each other but for matmul-like nests, where 16x16 beat 32x8 by ~1.9x, as ranked).

Checked against the H100 host's records (bench/results/gpu/gpu_corpus.jsonl: 151 (kernel, size)
pairs of the corpus, the time of the lowering optc emits against the fastest CPU candidate measured
on the same 16-core host): taking the GPU where this model predicts it MARGIN times faster than the
measured CPU time is right for 95% of the pairs, geomean regret 1.04 (MARGIN 1: 93%, 1.04; 2: 90%,
1.07; with 25 GB/s PCIe MARGIN 2 was best, 95%, 1.04: the margin made up for the transfers the model
missed); the predicted GPU time itself is off by a median factor of 1.5. A least-squares fit of the four fitted
constants to those records (`fit`; `python -m optcompiler.costmodel.gpu RECORDS` prints both) decides
worse (81%: the terms are nearly collinear on the corpus), so the constants above stand. In the
pipeline the CPU side is a prediction, not a measurement: its own error adds to these figures, and
the dispatcher asks for `DISPATCH_MARGIN` rather than MARGIN (bench/results/gpu.md: end to end).
Those figures are of an earlier run; over the fresh run's 200 pairs (bench/results/gpu.md) the
model is right for 93.5%, regret 1.016 (MARGIN held out by kernel: 95.5%, 1.016).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from optcompiler.analysis import (
    ANON_DIM,
    KernelFacts,
    accesses,
    arrays_written,
    loop_var,
    names_assigned,
    names_read,
    parallel_plan,
)
from optcompiler.costmodel.analytic import loop_stats
from optcompiler.ir import Kernel, Term

MARGIN = 1.25  # the GPU must be predicted this much faster: the model errs, a wrong pick costs (fit below)
# The dispatcher's margin: there the CPU side is an estimate too (`pipeline.dispatch_threshold`), off
# by a median factor of ~1.7 on the H100 host's CPU, so the GPU must be predicted clearly faster.
# Chosen on the H100 host's records among bench/gpu_report.py's MARGINS: end to end, held out by
# kernel, against the CPU best, 2 is 86.0% right, regret 1.088 (1: 84.5%, 1.165; 1.25: 84.5%, 1.150;
# 1.5: 86.0%, 1.112; 3: 82.0%, 1.139); leave one kernel out, 47 of the 50 kernels' choices on the
# others were 2, 3 were 1.5 (84.5%, 1.118).
DISPATCH_MARGIN = 2.0
MAX_ELEMENTS = 2**28  # the largest array scanned: 2 GiB of float64, beyond any profile we trust
SCAN_STEPS = 48  # geometric size steps scanned from 1 element to MAX_ELEMENTS
ITEMSIZE = {"float64": 8, "int64": 8, "bool": 1, "float32": 4, "int32": 4}


@dataclass(frozen=True)
class GpuDescriptor:
    """A GPU and its link to the host, as the model needs them (see the module docstring)."""

    name: str
    launch_seconds: float  # one kernel launch, numba-cuda's host side included
    copy_seconds: float  # fixed cost of one host<->device copy or device allocation
    pcie_gbs: float  # host<->device bandwidth, pageable host memory
    access_gbs: float  # effective device load/store throughput (caches included)
    fp64_gflops: float
    thread_iteration_seconds: float  # one dependent loop iteration inside one thread
    source: str = ""
    launch_array_seconds: float = 0.0  # more per launch, per array argument (numba-cuda marshals each)
    load_iteration_seconds: float = 0.0  # more per load of a thread's serial loop (coalesced, or one address)
    strided_load_iteration_seconds: float = 0.0  # the same where a warp's lanes read rows apart


H100 = GpuDescriptor(
    name="NVIDIA H100",
    launch_seconds=2.5e-6,
    copy_seconds=0.26e-3,
    pcie_gbs=5.3,
    access_gbs=2200.0,
    fp64_gflops=34_000.0,
    thread_iteration_seconds=11e-9,
    source=(
        "H100 SXM data sheet; launch and serial-loop costs measured on the H100 host (MICRO); copy and"
        " access fitted to GPU.md's gemm; PCIe: the copies measured on the H100 host"
    ),
    launch_array_seconds=13.6e-6,
    load_iteration_seconds=30e-9,
    strided_load_iteration_seconds=130e-9,
)


@dataclass(frozen=True)
class LaunchConfig:
    """One launch configuration of the CUDA lowering: the variant parameters of
    `passes.gpu.lower_cuda`, which the model ranks (`rank_launches`) instead of a fixed try-order."""

    label: str
    block_2d: tuple[int, int] = (16, 16)  # (x, y) threads per block of 2-D grids
    block_1d: int = 256
    block_3d: tuple[int, int, int] = (32, 4, 2)  # (x, y, z) threads per block of 3-D grids
    tile: int | None = None  # shared-memory tiles of matmul-like nests, `tile` outputs a side per block
    micro: int = 1  # register blocking: each thread computes micro x micro outputs (with `tile`)

    def lowering_options(self) -> dict[str, object]:
        """`passes.gpu.lower_cuda`'s keyword arguments for this configuration."""
        return {
            "block_2d": self.block_2d,
            "block_1d": self.block_1d,
            "block_3d": self.block_3d,
            "tile": self.tile,
            "micro": self.micro,
        }


# The configurations offered; bench/gpu.py measures them under these labels. Untiled blocks of
# 256 (or 128) threads: x 32 wide keeps a warp on one row; 16x16 shares more of a matmul's operands
# through L1. Tiled: 16x16 tiles, one output per thread; 32x32 and 64x64 tiles of 16x16 threads with
# 2x2 and 4x4 outputs each (register blocking, the outputs kept in registers across k), 16 values of
# k staged at a time (8 and 16 KiB of float64 shared memory).
LAUNCHES = (
    LaunchConfig("16x16", (16, 16), 128, (16, 4, 4)),
    LaunchConfig("32x8", (32, 8), 256, (32, 4, 2)),
    LaunchConfig("64x4", (64, 4), 512, (64, 2, 2)),
)
TILED = (
    LaunchConfig("tile16", (16, 16), 256, (32, 4, 2), tile=16),
    LaunchConfig("tile32r2", (16, 16), 256, (32, 4, 2), tile=32, micro=2),
    LaunchConfig("tile64r4", (16, 16), 256, (32, 4, 2), tile=64, micro=4),
)
SMS = 132  # streaming multiprocessors of an H100 SXM: a grid of fewer blocks leaves some idle
BASE_BLOCK = (16, 16)  # the block shape access_gbs was fitted with (GPU.md's gemm)


def launch_candidates(kernel: Kernel, facts: KernelFacts) -> tuple[LaunchConfig, ...]:
    """The configurations worth offering: tiled ones only where a nest reads 2-D arrays (the
    lowering refuses a tile elsewhere, so this only saves it the work)."""
    del kernel
    two_d = any(at.kind == "array" and at.ndim == 2 for at in facts.arg_types.values())
    return LAUNCHES + (TILED if two_d else ())


def rank_launches(
    kernel: Kernel,
    facts: KernelFacts,
    sizes: Mapping[str, int],
    candidates: Sequence[LaunchConfig],
    default_size: int = 1000,
    gpu: GpuDescriptor | None = None,
) -> list[LaunchConfig]:
    """`candidates`, fastest predicted first at `sizes` (ties keep the given order)."""
    descriptor = gpu or H100
    scored = [
        (gpu_seconds(gpu_work(kernel, facts, sizes, default_size, launch=c), descriptor), n, c)
        for n, c in enumerate(candidates)
    ]
    return [c for _, _, c in sorted(scored, key=lambda s: (s[0], s[1]))]


@dataclass(frozen=True)
class GpuWork:
    """What one call of the CUDA lowering does at one size profile: the model's features."""

    launches: float
    copies: float
    pcie_bytes: float
    accessed_bytes: float
    flops: float
    threads: float  # work items of the widest grid
    serial_iterations: float  # iterations one thread runs in order, summed over the nests
    efficiency: float = 1.0  # share of the device the launches use: padded lanes, idle SMs (<= 1)
    launch_arrays: float = 0.0  # array arguments passed, summed over the launches
    serial_loads: float = 0.0  # loads one thread issues in order, summed over the nests
    serial_strided_loads: float = 0.0  # those of them whose warp's lanes read different rows


def gpu_work(
    kernel: Kernel,
    facts: KernelFacts,
    sizes: Mapping[str, int],
    default_size: int = 1000,
    tile: int | None = None,
    launch: LaunchConfig | None = None,
) -> GpuWork:
    """The features of `gpu_seconds` for the kernel's own body lowered to CUDA at `sizes`, under
    `launch` (default: 16x16 blocks, `tile` if given)."""
    if launch is None:
        launch = LaunchConfig("given", tile=tile) if tile else LAUNCHES[0]
    tile = launch.tile
    body = kernel.body
    nests = loop_stats(body, facts.arg_types, sizes, default_size)
    params = {p.name for p in kernel.params}
    written = arrays_written(body)
    returned = set().union(*(names_read(s) for s in body.args if s.op == "return"))
    copies = 0.0
    pcie = 0.0
    launches = 0.0
    launch_arrays = 0.0
    # the arrays the body names: the facts also plan arrays a rewrite may introduce (scalar
    # expansion, `KernelFacts.expansions`), which the lowered original never allocates
    named = names_read(body) | names_assigned(body)
    for name, dims in facts.array_dims.items():
        if name not in named:
            continue
        nbytes = _elements(_literal_extents(facts, name, dims), sizes, default_size) * _itemsize(facts, name)
        if name in params:
            copies += 1 + (name in written)
            pcie += nbytes * (1 + (name in written))
        elif name in facts.fresh_arrays:
            copies += 1 + (name in returned)
            launches += 1  # filled on the device
            launch_arrays += 1
            pcie += nbytes * (name in returned)
    loops = [n for n in nests if n.kind != "array"]
    accessed = flops = threads = serial = serial_loads = serial_strided = 0.0
    busy = weight = 0.0  # device time share each nest keeps (efficiency), weighted by its bytes
    for stmt in body.args:
        if stmt.op != "for":
            continue
        nest = next((n for n in loops if n.loop_vars and n.loop_vars[0] == loop_var(stmt)), None)
        if nest is None:
            continue
        loops.remove(nest)
        plan = parallel_plan(stmt, facts, allow_reassoc=True)
        if plan is not None:
            launches += 1
            launch_arrays += len(_arrays_of(stmt))
            copies += 2 * len(plan.reductions)
            depth = _grid_depth(stmt, facts, bool(plan.reductions))
            grid = math.prod(nest.trips[:depth])
            extents = _grid_extents(nest.trips[:depth])
            grid_loop: Term | None = stmt
        else:  # a host loop: each nest and element store of its body is a launch, every trip
            steps = _block(stmt.args[4])
            launched = [s for s in steps if s.op == "for" or _element_store(s)]
            launches += nest.trips[0] * max(1, len(launched))
            launch_arrays += nest.trips[0] * sum(len(_arrays_of(s)) for s in launched)
            inner_loops = [s for s in steps if s.op == "for"]
            grid_loop = inner_loops[0] if inner_loops else None
            depth = _grid_depth(inner_loops[0], facts) if inner_loops else 0
            grid = math.prod(nest.trips[1 : 1 + depth]) if len(nest.trips) > 1 else 1.0
            extents = _grid_extents(nest.trips[1 : 1 + depth])
        grid = max(grid, 1.0)
        matmul_like = _block_sharing(stmt, LaunchConfig("probe", (64, 1))) != 1.0
        reuse = (
            tile / 2 if tile and matmul_like else _block_sharing(stmt if plan is not None else None, launch)
        )
        nest_bytes = (nest.loads / reuse + nest.stores) * _itemsize_of_nest(facts, stmt)
        share = _occupancy(extents, launch)
        per_thread = launch.micro**2 if tile else 1  # register blocking: fewer threads, more each
        threads = max(threads, grid / per_thread)
        accessed += nest_bytes
        busy += nest_bytes * share
        weight += nest_bytes
        flops += nest.flops
        serial += nest.iterations / grid * per_thread
        loads = nest.loads / grid * per_thread
        strided = _strided_share(grid_loop, depth)
        serial_loads += loads * (1 - strided)
        serial_strided += loads * strided
    efficiency = busy / weight if weight > 0 else 1.0
    return GpuWork(
        launches,
        copies,
        pcie,
        accessed,
        flops,
        threads,
        serial,
        efficiency,
        launch_arrays,
        serial_loads,
        serial_strided,
    )


def _arrays_of(stmt: Term) -> set[str]:
    """The arrays a launched statement reads or writes: its kernel's array arguments."""
    return {a.array for a in accesses(stmt)}


def _element_store(stmt: Term) -> bool:
    """`x[0] = y[0]` between a host loop's nests: a one-thread launch (`passes.gpu`'s serial step);
    a rotation `a, b = b, a` or a scalar assignment stays on the host."""
    return stmt.op in ("assign", "augassign") and stmt.args[0].op == "index"


def _strided_share(loop: Term | None, depth: int) -> float:
    """The share of a grid nest's loads whose warp reads rows apart: the x thread index (the grid
    loop most accesses use as their last subscript, as `passes.gpu` picks it; ties the innermost)
    in some subscript but not the last, so each lane reads its own cache line (a serial loop of
    such loads measured ~4x slower a load on the H100 host)."""
    if loop is None or depth == 0:
        return 0.0
    grid_vars = []
    current = loop
    for _ in range(depth):
        grid_vars.append(loop_var(current))
        inner = _block(current.args[4])
        if not inner or inner[-1].op != "for":
            break
        current = inner[-1]
    reads = [a for a in accesses(loop) if not a.is_write and a.indices]
    if not reads:
        return 0.0

    def last_uses(v: str) -> int:
        return sum(v in names_read(a.indices[-1]) for a in reads)

    x = max(reversed(grid_vars), key=last_uses)
    strided = [
        a
        for a in reads
        if x not in names_read(a.indices[-1]) and any(x in names_read(i) for i in a.indices[:-1])
    ]
    return len(strided) / len(reads)


def _grid_depth(loop: Term, facts: KernelFacts, reductions: bool = False) -> int:
    """How many loops of a parallel nest `passes.gpu` turns into grid dimensions (up to 3): each
    next one is the last statement of the one above, after scalar assignments only, parallel itself
    with no reduction, its bounds reading no enclosing grid variable nor a name the nest assigns
    and no array, its step 1 (`two_dimensional`: a triangular `for j in range(i + 1)` stays a loop
    in each thread, as syrk's does); a grid loop with a reduction has no second dimension."""
    depth = 1
    outside = {loop_var(loop)}
    while depth < 3 and not reductions:
        inner = _block(loop.args[4])
        if not inner or inner[-1].op != "for" or any(s.op != "assign" for s in inner[:-1]):
            break
        bounds = Term("tuple", inner[-1].args[1:4])
        if names_read(bounds) & (outside | names_assigned(loop)) or accesses(bounds):
            break
        step = inner[-1].args[3]
        if not (step.op == "const" and step.value == 1):
            break
        if not _writes_along(inner[-1]):
            break
        depth += 1
        loop = inner[-1]
        outside.add(loop_var(loop))
    return depth


def _writes_along(loop: Term) -> bool:
    """Does every store in `loop` write an element indexed by its variable, with no scalar
    accumulated across its iterations (one set anew in each is private)? (A cheap stand-in for the lowering's proof, which needs facts about fresh
    arrays the model does not have: `C[i, j] += ...` over k, or `s += ...`, is no grid dimension.)"""
    v = loop_var(loop)
    private = {
        str(t.args[0].value) for t in loop.args[4].walk() if t.op == "assign" and t.args[0].op == "var"
    }
    for t in loop.args[4].walk():
        if t.op == "augassign" and t.args[0].op == "var" and str(t.args[0].value) not in private:
            return False
        if t.op in ("assign", "augassign") and t.args[0].op == "index":
            if v not in set().union(*(names_read(i) for i in t.args[0].args[1:])):
                return False
    return True


def _grid_extents(trips: Sequence[float]) -> tuple[float, ...]:
    """The grid's extents, x first: the lowering gives x the innermost grid loop (most often the
    one along the contiguous index), for up to three parallel loops."""
    return tuple(reversed([max(t, 1.0) for t in trips[:3]])) or (1.0,)


def _occupancy(extents: Sequence[float], launch: LaunchConfig) -> float:
    """The share of the device a grid uses: lanes past the end of the x extent idle in their warps,
    and a grid of fewer blocks than SMs leaves the rest idle."""
    if len(extents) == 1:
        block: tuple[int, ...] = (launch.block_1d,)
    elif len(extents) == 2:
        block = launch.block_2d
    else:
        block = launch.block_3d
    if launch.tile and len(extents) == 2:
        block = (launch.tile, launch.tile)  # a block covers tile x tile outputs
    blocks = math.prod(math.ceil(e / b) for e, b in zip(extents, block, strict=False))
    lanes = extents[0] / (math.ceil(extents[0] / block[0]) * block[0])
    return lanes * min(1.0, blocks / SMS)


def _block_sharing(stmt: Term | None, launch: LaunchConfig) -> float:
    """How much less a 2-D nest loads from memory than it issues under `launch`'s blocks, relative
    to BASE_BLOCK (which access_gbs was fitted with): an element read at an index of one grid
    variable only is read by every thread of the block along the other, from L1 after the first."""
    if stmt is None:
        return 1.0
    inner = _block(stmt.args[4])
    if not inner or inner[-1].op != "for":
        return 1.0
    gy, gx = loop_var(stmt), loop_var(inner[-1])
    counts = {"x": 0, "y": 0, "xy": 0, "none": 0}
    for access in accesses(stmt):
        if access.is_write:
            continue
        used = set().union(*(names_read(i) for i in access.indices)) if access.indices else set()
        key = "xy" if {gx, gy} <= used else "x" if gx in used else "y" if gy in used else "none"
        counts[key] += 1
    total = sum(counts.values())
    if not total or not counts["x"] + counts["y"]:
        return 1.0

    def cost(bx: int, by: int) -> float:
        return counts["y"] / bx + counts["x"] / by + counts["xy"] + counts["none"] / (bx * by)

    return cost(*BASE_BLOCK) / cost(*launch.block_2d)


def _itemsize_of_nest(facts: KernelFacts, stmt: Term) -> float:
    """Bytes per element the nest moves: the largest element size of the arrays it touches."""
    sizes = [_itemsize(facts, a.array) for a in accesses(stmt)]
    return float(max(sizes, default=8))


def gpu_seconds(work: GpuWork, gpu: GpuDescriptor = H100) -> float:
    """Predicted seconds of one call of the host wrapper, transfers included."""
    fixed = (
        work.launches * gpu.launch_seconds
        + work.launch_arrays * gpu.launch_array_seconds
        + work.copies * gpu.copy_seconds
    )
    transfer = work.pcie_bytes / (gpu.pcie_gbs * 1e9)
    serial = (
        work.serial_iterations * gpu.thread_iteration_seconds
        + work.serial_loads * gpu.load_iteration_seconds
        + work.serial_strided_loads * gpu.strided_load_iteration_seconds
    )
    device = max(
        work.flops / (gpu.fp64_gflops * 1e9),
        work.accessed_bytes / (gpu.access_gbs * 1e9) / max(work.efficiency, 1e-3),
        serial,
    )
    return fixed + transfer + device


# ---- the threshold -------------------------------------------------------------------------------------


def scaled_profile(
    facts: KernelFacts, profile: Mapping[str, int], default_size: int, factor: float
) -> dict[str, int]:
    """The profile with every array dimension's symbol scaled by `factor` (others, e.g. a step
    count, kept): the runtime check sees array sizes only, so only they may vary. Names of the
    profile that are no size symbol stay as given: autocorrelation's `maxlag` (16 in its profile)
    bounds a loop, and dropped it read as the default 1000, a grid of 1001 threads, and a
    threshold of n = 3861 where the GPU, one thread per lag, loses at every size measured."""
    dims = {d for at in facts.arg_types.values() if at.kind == "array" for d in at.dims}
    sizes = {**profile, **{s: profile.get(s, default_size) for s in facts.size_symbols}}
    return {s: max(1, round(v * factor)) if s in dims else v for s, v in sizes.items()}


def scalar_sizes(facts: KernelFacts) -> tuple[str, ...]:
    """Int parameters that are size symbols but size no array (a step count): the work scales with
    them, so the dispatcher's measure multiplies by them."""
    dims = {d for at in facts.arg_types.values() if at.kind == "array" for d in at.dims}
    return tuple(
        name
        for name, at in facts.arg_types.items()
        if at.kind == "int" and name in facts.size_symbols and name not in dims
    )


def problem_size(facts: KernelFacts, sizes: Mapping[str, int], default_size: int) -> int:
    """What the emitted dispatcher compares: elements of the largest array argument, times the
    int parameters that size no array (`scalar_sizes`)."""
    scalars = math.prod(sizes.get(s, default_size) for s in scalar_sizes(facts))
    return largest_array(facts, sizes, default_size) * scalars


def largest_array(facts: KernelFacts, sizes: Mapping[str, int], default_size: int) -> int:
    return max(
        (_elements(at.dims, sizes, default_size) for at in facts.arg_types.values() if at.kind == "array"),
        default=0,
    )


def crossover(
    gpu: Callable[[float], float],
    cpu: Callable[[float], float],
    factors: Sequence[float],
    size_of: Callable[[float], int],
    margin: float = MARGIN,
) -> int | None:
    """The smallest problem size (`size_of(f)`) from which `gpu(f) * margin <= cpu(f)` at every
    larger factor scanned; None when the GPU does not win at the largest one. `factors` ascending."""
    threshold = None
    for factor in reversed(factors):
        if gpu(factor) * margin > cpu(factor):
            break
        threshold = size_of(factor)
    return threshold


def threshold(
    kernel: Kernel,
    facts: KernelFacts,
    cpu_seconds: Callable[[Mapping[str, int]], float],
    profile: Mapping[str, int],
    default_size: int,
    gpu: GpuDescriptor = H100,
    tile: int | None = None,
    margin: float = MARGIN,
    launch: LaunchConfig | None = None,
) -> int | None:
    """The `problem_size` from which the CUDA lowering is predicted `margin` times faster than `cpu_seconds` (the best CPU candidate's estimate at a size profile), scanning sizes
    up to MAX_ELEMENTS; None when it never is."""
    base = max(largest_array(facts, scaled_profile(facts, profile, default_size, 1.0), default_size), 1)
    ndim = max((at.ndim for at in facts.arg_types.values() if at.kind == "array"), default=1)
    # factors that take the largest array from ~1 element to MAX_ELEMENTS
    lo, hi = (1 / base) ** (1 / ndim), (MAX_ELEMENTS / base) ** (1 / ndim)
    factors = [lo * (hi / lo) ** (k / (SCAN_STEPS - 1)) for k in range(SCAN_STEPS)]

    def sizes(f: float) -> dict[str, int]:
        return scaled_profile(facts, profile, default_size, f)

    factors = [f for f in factors if largest_array(facts, sizes(f), default_size) <= MAX_ELEMENTS]
    return crossover(
        lambda f: gpu_seconds(gpu_work(kernel, facts, sizes(f), default_size, tile, launch), gpu),
        lambda f: cpu_seconds(sizes(f)),
        factors,
        lambda f: problem_size(facts, sizes(f), default_size),
        margin,
    )


def _elements(dims: Sequence[str], sizes: Mapping[str, int], default_size: int) -> int:
    return math.prod(int(d) if d.isdigit() else sizes.get(d, default_size) for d in dims)


def _literal_extents(facts: KernelFacts, name: str, dims: Sequence[str]) -> tuple[str, ...]:
    """`dims`, with a dimension that nothing names (`analysis.ANON_DIM`) but that the array's own
    allocation gives as a literal (`np.empty((n, 3))`) read as that number: a fresh array's copy
    out is its real size, not the default size's (euler_sir's `out` at 1000 columns, not 3, was 333x
    the bytes and made the model predict 6 s for a 38 ms call)."""
    shape = facts.allocations.get(name)
    if not isinstance(shape, tuple) or len(shape) != len(dims):
        return tuple(dims)
    return tuple(
        str(e.value) if d == ANON_DIM and e.op == "const" and type(e.value) is int and e.value >= 0 else d
        for d, e in zip(dims, shape, strict=True)
    )


def _itemsize(facts: KernelFacts, name: str) -> int:
    at = facts.arg_types.get(name)
    return ITEMSIZE.get(at.dtype, 8) if at is not None and at.dtype else 8


def _block(term: Term) -> tuple[Term, ...]:
    return term.args if term.op == "seq" else (term,)


# ---- calibration against measured records --------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One (kernel, size) of a GPU-host run: the model's features and the times measured there."""

    kernel: str
    size: int
    work: GpuWork
    gpu_seconds: float  # the lowering optc emits (16x16 blocks, 16x16 tiles where it tiles), copies included
    cpu_seconds: float  # the fastest CPU candidate measured on the same host


def measured_records(path: str) -> list[Measured]:
    """The records of `bench/gpu.py --corpus` (gpu_corpus.jsonl) with the model's features at each
    record's size profile; kernels optc cannot lift or the run did not lower are skipped."""
    import json

    from optcompiler import corpus
    from optcompiler.analysis import analyze
    from optcompiler.frontend import lift_function

    rows: list[Measured] = []
    kernels: dict[str, tuple[Kernel, KernelFacts] | None] = {}
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    for record in records:
        name = record["kernel"]
        if name not in kernels:
            try:
                ck = corpus.load(name)
                kernel = lift_function(ck.path.read_text(encoding="utf-8"), str(ck.path), name)
                kernels[name] = (kernel, analyze(kernel, _hints(ck)))
            except Exception:  # not in this checkout's corpus, or outside the IR subset
                kernels[name] = None
        lifted = kernels[name]
        timings = {k: v for k, v in record["timings"].items() if v.get("seconds") and not v.get("slow")}
        emitted = next((k for k in ("cuda tile16", "cuda 16x16", "cuda 16x16 reassoc") if k in timings), None)
        cpu = [v["seconds"] for k, v in timings.items() if not k.startswith("cuda")]
        if lifted is None or emitted is None or not cpu:
            continue
        kernel, facts = lifted
        sizes = {k: int(v) for k, v in record["profile"].items()}
        tile = 16 if emitted == "cuda tile16" else None
        work = gpu_work(kernel, facts, sizes, tile=tile)
        rows.append(Measured(name, int(record["size"]), work, timings[emitted]["seconds"], min(cpu)))
    return rows


def _hints(ck: object) -> dict[str, str]:
    """A corpus kernel's argument types as its inputs have them (float32 arrays included)."""
    import inspect

    from optcompiler.decorator import type_hint

    args = ck.inputs(ck.sizes[0])  # type: ignore[attr-defined]
    params = list(inspect.signature(ck.function).parameters)  # type: ignore[attr-defined]
    return {p: h for p, a in zip(params, args, strict=False) if (h := type_hint(a)) is not None}


def fit(rows: Sequence[Measured], base: GpuDescriptor = H100) -> GpuDescriptor:
    """`base` with launch, copy, PCIe and access figures fitted to measured GPU times: non-negative
    least squares on the relative error, the device term taken as bytes accessed (the binding one
    for every kernel of the corpus)."""
    import numpy as np
    from scipy.optimize import nnls

    features = np.array(
        [
            [r.work.launches, r.work.copies, r.work.pcie_bytes * 1e-9, r.work.accessed_bytes * 1e-9]
            for r in rows
        ]
    )
    measured = np.array([r.gpu_seconds for r in rows])
    coef, _ = nnls(features / measured[:, None], np.ones(len(rows)))
    launch, copy, per_pcie_gb, per_access_gb = (float(c) for c in coef)
    return GpuDescriptor(
        name=base.name,
        launch_seconds=launch,
        copy_seconds=copy,
        pcie_gbs=1 / per_pcie_gb if per_pcie_gb > 0 else base.pcie_gbs,
        access_gbs=1 / per_access_gb if per_access_gb > 0 else base.access_gbs,
        fp64_gflops=base.fp64_gflops,
        thread_iteration_seconds=base.thread_iteration_seconds,
        source=f"fitted to {len(rows)} measured records",
        launch_array_seconds=base.launch_array_seconds,
        load_iteration_seconds=base.load_iteration_seconds,
        strided_load_iteration_seconds=base.strided_load_iteration_seconds,
    )


def decisions(
    rows: Sequence[Measured], gpu: GpuDescriptor = H100, margin: float = MARGIN
) -> dict[str, float]:
    """How the model's GPU time, against the measured CPU time, decides: the share of records where
    'GPU when predicted `margin` times faster' agrees with what was measured, the geometric-mean
    regret of those picks, and the median error of the predicted GPU time (a factor)."""
    right, regret, errors = 0, 0.0, []
    for r in rows:
        predicted = gpu_seconds(r.work, gpu)
        pick_gpu = predicted * margin <= r.cpu_seconds
        best = min(r.gpu_seconds, r.cpu_seconds)
        chosen = r.gpu_seconds if pick_gpu else r.cpu_seconds
        right += pick_gpu == (r.gpu_seconds < r.cpu_seconds)
        regret += math.log(chosen / best)
        errors.append(abs(math.log(predicted / r.gpu_seconds)))
    errors.sort()
    n = max(len(rows), 1)
    return {
        "records": float(len(rows)),
        "right": right / n,
        "geomean_regret": math.exp(regret / n),
        "median_error_factor": math.exp(errors[len(errors) // 2]) if errors else math.nan,
    }


if __name__ == "__main__":  # python -m optcompiler.costmodel.gpu bench/results/gpu/gpu_corpus.jsonl
    import sys

    measured_rows = measured_records(sys.argv[1])
    print("as written:", H100, decisions(measured_rows, H100))
    fitted = fit(measured_rows)
    print("fitted:", fitted, decisions(measured_rows, fitted))
