"""The driver: the flow of DESIGN.md, top to bottom, with budgets and per-stage timings.

    parse → find kernels → lift → analyze → saturate (passes) → extract per statement →
    rank candidates (learned cost model of this machine, else analytic) → verify best-first → emit

Every kernel ends as `Emitted`, `Unchanged(reason)` or `Failed(reason)`; a failing kernel never
takes down its file.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType

import libcst as cst

from optcompiler import __version__, emit, frontend, outline, strictmath, verify
from optcompiler.analysis import (
    ANON_DIM,
    BoundsGuard,
    KernelFacts,
    alias_guard_pairs,
    all_names,
    analyze,
    bounds_guard,
    contains_loop,
    names_assigned,
    names_read,
)
from optcompiler.config import Config
from optcompiler.costmodel import gpu as gpu_model
from optcompiler.costmodel.analytic import estimate_python_seconds, estimate_seconds
from optcompiler.costmodel.hardware import Hardware, detect
from optcompiler.costmodel.model import TreeModel
from optcompiler.errors import PARTLY_COMPILED, Unsupported, unblock_hint
from optcompiler.ir import (
    Candidate,
    Kernel,
    Target,
    Term,
    Variant,
    lift,
    lower_function,
    seq,
    sexpr_head,
)
from optcompiler.llm.suggest import SuggestionReport
from optcompiler.passes import REGISTRY, PassContext, all_rules, why
from optcompiler.passes.egraph import (
    DerivationCache,
    EGraph,
    ENode,
    Limits,
    RunReport,
    derivation,
    extract_best,
    extract_top_k,
    run,
)
from optcompiler.passes.vectorize import sums_a_temporary


@dataclass(frozen=True)
class Payback:
    """Compile time against the time a call saves over the original as written (CPython), per call
    at the size profile: what decides whether compiled code is worth it for `calls` calls a run."""

    # Numba compiling the variant (its import and first call) plus Numba's one-time start, which a
    # process pays at its first compile of anything: both measured in the verification worker
    compile_seconds: float
    original_seconds: float  # one call of the original under CPython (measured, scaled to the profile)
    variant_seconds: float  # one call of the variant (measured, scaled to the profile)
    at: str  # the size profile, e.g. "n=1000"
    calls: int | None  # expected calls in one run (None: not weighed)

    @property
    def saved(self) -> float:
        return self.original_seconds - self.variant_seconds

    @property
    def break_even(self) -> int | None:
        """Calls after which compiling has paid for itself; None when a call saves nothing."""
        return max(1, math.ceil(self.compile_seconds / self.saved)) if self.saved > 0 else None

    @property
    def pays(self) -> bool:
        if self.calls is None:
            return True
        return self.compile_seconds + self.calls * self.variant_seconds < self.calls * self.original_seconds

    def describe(self) -> str:
        """`compiles in 0.84 s, saves 2.1 ms a call at n=1000: pays after 400 calls`, for -v and reports."""
        if self.break_even is None:
            return (
                f"compiles in {seconds_text(self.compile_seconds)}; no faster than CPython at {self.at}"
                f" ({seconds_text(self.variant_seconds)} vs {seconds_text(self.original_seconds)} a call)"
            )
        return (
            f"compiles in {seconds_text(self.compile_seconds)}, saves {seconds_text(self.saved)} a call"
            f" at {self.at}: pays after {self.break_even} call{'s' if self.break_even != 1 else ''}"
        )

    def refusal(self) -> str:
        """The one-line reason a kernel is left as written, and what would change it."""
        calls = f"expected calls a run: {self.calls} (`calls` in [tool.optc], --calls, or the traced count)"
        if self.break_even is None:
            return (
                f"compiled code would not pay: it is no faster than CPython at {self.at}"
                f" ({seconds_text(self.variant_seconds)} vs {seconds_text(self.original_seconds)} a call)"
                f" and compiling takes {seconds_text(self.compile_seconds)}; larger `sizes` may change that"
            )
        return (
            f"compiled code would not pay: compiling takes {seconds_text(self.compile_seconds)} and saves"
            f" {seconds_text(self.saved)} a call at {self.at}, so it pays after {self.break_even} calls;"
            f" {calls}; raise `calls` if it runs more often"
        )


def seconds_text(seconds: float) -> str:
    """0.84 s, 2.1 ms, 35 µs: durations as people read them."""
    if seconds >= 1.0:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2g} ms" if seconds < 1e-2 else f"{seconds * 1e3:.0f} ms"
    return f"{seconds * 1e6:.2g} µs" if seconds < 1e-5 else f"{seconds * 1e6:.0f} µs"


@dataclass(frozen=True)
class Emitted:
    kernel: str
    line: int
    candidate: Candidate
    source: str  # the variant's `def`, as emitted
    alias_pairs: tuple[tuple[str, str], ...]
    facts: KernelFacts
    predicted_speedup: float | None
    verified: str
    run_report: RunReport | None = None
    candidates_considered: int = 0
    timings: tuple[tuple[str, float], ...] = ()
    compile_seconds: float | None = None  # the chosen candidate's Numba compile + verification, in the worker
    measured_speedup: float | None = None  # vs plain numba.njit of the original, same process and inputs
    measured_at: str = ""  # the sizes it was measured at
    # dispatcher conditions under which the original indexes in bounds (`analysis.bounds_guard`)
    bounds: tuple[str, ...] = ()
    boundscheck: bool = False  # some subscript is not covered: the variant checks bounds itself
    llm: SuggestionReport | None = None  # what the model suggested, when --llm is on
    # the CUDA lowering (`with_gpu`): its source (wrapper `emit.gpu_name(kernel)`), verified on the
    # simulator; the dispatcher calls it when a GPU is present and the problem size
    # (`costmodel.gpu.problem_size`) is at least `gpu_threshold` (None: whenever a GPU is present, --target gpu)
    gpu_source: str = ""
    gpu_threshold: int | None = None
    gpu_note: str = ""  # for reports: why the GPU was refused, or how it was verified and chosen
    payback: Payback | None = None  # compile time against the time a call saves, when measured
    retry_original: tuple[str, ...] = ()  # errors on which the dispatcher runs the original (`retry_errors`)


@dataclass(frozen=True)
class Unchanged:
    kernel: str
    line: int
    reason: str
    # the function cannot be compiled as a whole (outside the IR subset, or Numba rejects it): its
    # loop regions may still be compiled on their own (`optcompiler.outline`)
    blocked: bool = False
    construct: str = ""  # what kept it from lifting, when that was the reason


@dataclass(frozen=True)
class Failed:
    kernel: str
    line: int
    reason: str


KernelResult = Emitted | Unchanged | Failed


@dataclass(frozen=True)
class FileResult:
    path: str
    source: str
    output: str
    kernels: tuple[KernelResult, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self.output != self.source


# ---- the file ------------------------------------------------------------------------------------


def optimize_source(
    source: str,
    path: str,
    config: Config,
    examples: Mapping[str, Sequence[dict[str, object]]] | None = None,
    only: frozenset[str] | None = None,
) -> FileResult:
    """Optimize every kernel of one file; raises OptcError only for file-level failures.

    `examples`: real argument sets per kernel (from `optc trace`), verified on as well. `only`:
    the kernels to optimize (the hot ones); the others are left as written. The file is parsed
    once: the helpers of partly compiled functions are built as nodes, never re-parsed."""
    if frontend.is_generated(source):
        return FileResult(path, source, source, ())
    module = frontend.parse(source, path)
    sites = frontend.find_kernels(module, path, config.exclude)
    results: list[KernelResult] = []
    outlined: list[tuple[cst.FunctionDef, list[outline.Region]]] = []
    taken = {name for stmt in module.body for name in frontend.bound_names(stmt)}
    for site in sites:
        if site.skip_reason is not None:
            results.append(Unchanged(site.name, site.line, site.skip_reason))
            continue
        if only is not None and site.name not in only:
            results.append(Unchanged(site.name, site.line, "not hot in the traced run"))
            continue
        result = optimize_site(site, module, path, config, (examples or {}).get(site.name, ()))
        if isinstance(result, Unchanged) and result.blocked:
            result, kept = optimize_regions(site, module, path, config, result, taken)
            if kept:
                outlined.append((site.node, [region for region, _ in kept]))
                results.extend(emitted for _, emitted in kept)
        results.append(result)
    emitted = [r for r in results if isinstance(r, Emitted)]
    if not emitted:
        return FileResult(path, source, source, tuple(results))
    module = outline.outline_functions(module, outlined)
    output = emit.emit_module(module, path, emitted, __version__)
    return FileResult(path, source, output, tuple(results))


# Helpers tried per partly compiled function, retries of smaller regions included: each is a
# verification (Numba compiles) of its own.
MAX_REGION_TRIES = 8


def optimize_regions(
    site: frontend.KernelSite,
    module: cst.Module,
    path: str,
    config: Config,
    blocked: Unchanged,
    taken: set[str],
) -> tuple[Unchanged, list[tuple[outline.Region, Emitted]]]:
    """A function that cannot be compiled whole: compile its loop regions as helpers instead.

    Each region's helper goes through the whole flow; only those that come out optimized are
    outlined, so a function none of whose regions pays is emitted exactly as written. A region
    Numba rejects (it lifts, but e.g. calls a plain Python function) is tried again as smaller
    regions: its statements one by one, then the loops inside it (`outline.smaller_regions`)."""
    regions, refusals = outline.plan_regions(site.node, module, path, site.line, taken)
    if not regions:
        why = f"; no loop could be compiled on its own: {refusals[0]}" if refusals else ""
        return replace(blocked, reason=blocked.reason + why), []
    own_sizes = dict(config.kernel_sizes).get(site.name)
    calls = config.calls_for(site.name)
    kept: list[tuple[outline.Region, Emitted]] = []
    pending, tries = list(regions), 0
    retried: set[outline.Region] = set()  # inside a rejected region: its rejection speaks for them
    profile = config.sizes_for(site.name)

    def trips(region: outline.Region) -> int:
        return outline.enclosing_trips(site.node, region, profile, config.default_size)

    while pending:
        region = pending.pop(0)
        tries += 1
        hints = [
            (f"{region.name}.{p}", hint)
            for p in region.inputs
            if (hint := config.arg_type_hint(site.name, p)) is not None
        ]
        hints += [(f"{region.name}.{p}", "int64") for p in outline.range_counters(site.node, region)]
        region_config = replace(
            config,
            arg_types=config.arg_types + tuple(hints),
            kernel_sizes=config.kernel_sizes + (((region.name, own_sizes),) if own_sizes else ()),
            # a region runs once per call of its function, times the trips of the loops around it
            kernel_calls=config.kernel_calls
            + (((region.name, calls * trips(region)),) if calls is not None else ()),
        )
        helper = outline.helper_site(module, site.node, region)
        result = optimize_site(helper, module, path, region_config)
        span = f"lines {region.first_line}-{region.last_line}"
        if isinstance(result, Emitted):
            kept.append((region, replace(result, line=region.first_line)))
            continue
        smaller: list[outline.Region] = []
        if isinstance(result, Unchanged) and result.blocked and tries + len(pending) < MAX_REGION_TRIES:
            taken.discard(region.name)  # its name is free again for the regions inside it
            smaller, _ = outline.smaller_regions(site.node, module, path, site.line, region, taken)
            smaller = smaller[: MAX_REGION_TRIES - tries - len(pending)]
            retried.update(smaller)
            pending = smaller + pending
        if smaller and region in retried:
            continue
        if smaller:
            why_not = result.reason.removeprefix("no variant passed verification (")
            why_not = why_not.removesuffix("); left as written")
            refusals.append(f"Numba rejects {span} as a whole ({why_not})")
        else:
            refusals.append(f"the loop at {span} stays in Python: {result.reason}")
    if kept:
        kept.sort(key=lambda pair: pair[0].first_line)
        done = ", ".join(f"lines {r.first_line}-{r.last_line} as {r.name}" for r, _ in kept)
        what = (
            f"{blocked.construct} (line {blocked.line})" if blocked.construct else "the function as a whole"
        )
        reason = f"{PARTLY_COMPILED}{what} cannot be compiled; compiled {done} on their own"
        hint = unblock_hint(blocked.construct)
        if hint:
            reason += f" (to compile all of it: {hint})"
    else:
        reason = blocked.reason
    if refusals:
        reason += "; " + "; ".join(refusals)
    return replace(blocked, reason=reason), kept


def optimize_site(
    site: frontend.KernelSite,
    module: cst.Module,
    path: str,
    config: Config,
    examples: Sequence[dict[str, object]] = (),
) -> KernelResult:
    """One kernel through the whole flow; any failure becomes a result, never an exception."""
    try:
        kernel = lift(site.node, path, module, site.line)
    except Unsupported as exc:
        line = exc.line if exc.line is not None else site.line
        return Unchanged(site.name, line, exc.explain(), True, exc.construct)
    if not contains_loop(kernel.body) and not sums_a_temporary(kernel.body):
        return Unchanged(site.name, site.line, "no loops: nothing for optc to speed up")
    try:
        prelude = module_prelude(module, kernel)
        return with_gpu(kernel, optimize_kernel(kernel, prelude, config, examples), prelude, config)
    except Exception as exc:  # a bug in one kernel's optimization must not take down the file
        return Failed(site.name, site.line, f"internal error while optimizing: {type(exc).__name__}: {exc}")


# ---- one kernel --------------------------------------------------------------------------------------


def optimize_kernel(
    kernel: Kernel, prelude: str, config: Config, examples: Sequence[dict[str, object]] = ()
) -> KernelResult:
    """Analyze, explore, rank, verify and measure one kernel. `examples` are real argument sets
    (parameter name -> value) verified on in addition to the generated ones."""
    timings: list[tuple[str, float]] = []
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings.append((stage, now - clock))
        clock = now

    hints = {p.name: h for p in kernel.params if (h := config.arg_type_hint(kernel.name, p.name)) is not None}
    facts = analyze(kernel, hints)
    lap("analyze")
    variants, report = explore(kernel, facts, config)
    lap("saturate+extract")
    hardware = detect()
    math_names = strictmath.math_names(prelude)
    ranked = rank(variants, facts, config, hardware, math_names)
    lap("rank")
    llm_report = None
    if config.llm.enabled:  # off by default: suggestions are verified, then join the e-graph
        from optcompiler.llm.suggest import suggest

        profile = config.sizes_for(kernel.name)
        # the prompt shows the best the built-in rules found (not learned rules, whose library
        # grows): the same kernel asks the same question, so reruns are answered from the cache
        best, seconds = next(
            (r for r in ranked if not any(s.startswith("llm.") for s in r[0].variant.derivation)), ranked[0]
        )
        accepted, llm_report = suggest(
            kernel,
            facts,
            config.llm,
            prelude,
            sizes={s: profile.get(s, config.default_size) for s in facts.size_symbols},
            best=best.variant.body,
            best_label=best.label,
            predicted_seconds=seconds,
            strict_fp=config.strict_fp,
            timeout=config.verify_timeout,
            examples=examples,
        )
        if accepted:
            variants, report = explore(kernel, facts, config, suggestions=accepted)
            ranked = rank(variants, facts, config, hardware, math_names)
        lap("llm")
    baseline = predict_seconds(
        kernel.body, Target("njit"), (), facts, config.sizes_for(kernel.name), hardware, config.default_size
    )

    guard = bounds_guard(kernel.body, [p.name for p in kernel.params], facts)
    flags = rerunnable(kernel.body, facts)  # checked calls in a prange loop mark flags instead

    def source_of(candidate: Candidate, name: str | None = None) -> str:
        return variant_source(
            kernel,
            candidate,
            name=name,
            boundscheck=not guard.complete,
            math_names=math_names,
            parallel_flags=flags,
        )

    def emitted(candidate: Candidate, seconds: float, verified: str) -> Emitted:
        pairs = alias_guard_pairs(facts, kernel.body) if candidate.variant.derivation else ()
        source = source_of(candidate)
        return Emitted(
            kernel=kernel.name,
            line=kernel.line,
            candidate=candidate,
            source=source,
            alias_pairs=pairs,
            bounds=guard.conditions,
            boundscheck=not guard.complete,
            facts=facts,
            predicted_speedup=baseline / seconds if seconds > 0 else None,
            verified=verified,
            run_report=report,
            candidates_considered=len(ranked),
            timings=tuple(timings),
            llm=llm_report,
            retry_original=retry_errors(kernel, facts, strictmath.ALLOCATE in source),
        )

    if not config.verify:
        candidate, seconds = ranked[0]
        return emitted(candidate, seconds, "not verified (--no-verify)")

    contenders = measured_contenders(ranked, config.max_verify)
    sizes = measurement_sizes(kernel, facts, config, hardware)
    texts = [source_of(c, f"_optc_candidate_{i}") for i, (c, _) in enumerate(contenders)]
    sources = [
        verify.CandidateSource(
            f"c{i}",
            text,
            f"_optc_candidate_{i}",
            retry_original=retry_errors(kernel, facts, strictmath.ALLOCATE in text),
        )
        for i, text in enumerate(texts)
    ]
    python_at = python_sizes(kernel, facts, sizes, config)
    results = verify.verify_candidates(
        prelude="import numba\n" + prelude,
        original_source=kernel.source,
        original_name=kernel.name,
        candidates=sources,
        args=[(p.name, facts.arg_types[p.name]) for p in kernel.params],
        policy=verify.FloatPolicy(strict=config.strict_fp),
        timeout=config.verify_timeout,
        stop_at_first=False,
        threads=config.threads,
        measure=sizes,
        examples=examples,
        measure_original=python_at,
        guard=guard.conditions,
    )
    lap("verify+measure")
    rejects = next((r.guard_rejects for r in results if r.guard_rejects), "")
    if rejects:
        # A shape guard that refuses inputs the original indexes in range on would send such calls
        # to CPython: the variant checks its own bounds instead (the same code plus the checks).
        guard = BoundsGuard((), False)
    passed = [(c, s, r) for (c, s), r in zip(contenders, results, strict=False) if r.ok]
    if not passed:
        first = results[0].reason if results else "no candidate"
        blocked = bool(results) and all(r.reason.startswith("numba compile error") for r in results)
        return Unchanged(
            kernel.name, kernel.line, f"no variant passed verification ({first}); left as written", blocked
        )
    calls = config.calls_for(kernel.name)
    paybacks = {
        id(c): payback_of(kernel, facts, c, r, sizes, python_at, config, hardware) for c, _, r in passed
    }
    candidate, seconds, result = pick_measured(passed)
    if calls is not None:
        # Per call, compiling counts too (a variant that compiles for seconds may lose a short run),
        # and only candidates whose compile time `calls` calls win back are in the running.
        paying: list[tuple[Candidate, float, verify.VerifyResult]] = []
        for c, s, r in passed:
            p = paybacks[id(c)]
            if p is None:
                paying.append((c, s, r))
            elif p.pays:
                paying.append((c, s, replace(r, measured=p.variant_seconds + p.compile_seconds / calls)))
        if not paying:  # the refusal names the candidate closest to paying: the count that would do
            refused = min(
                (p for p in paybacks.values() if p is not None),
                key=lambda p: p.break_even if p.break_even is not None else math.inf,
            )
            return Unchanged(kernel.name, kernel.line, refused.refusal())
        candidate, seconds, _ = pick_measured(paying)
        result = next(r for c, _, r in passed if c is candidate)
    payback = paybacks[id(candidate)]
    measured_baseline = next(
        (r.measured for c, _, r in passed if not c.variant.derivation and c.target.name == "njit"), None
    )
    verified = result.reason
    if rejects:
        verified += (
            f"; the shape guard would have refused {rejects} although the original indexes in range"
            " there: compiled with boundscheck instead"
        )
    chosen = replace(emitted(candidate, seconds, verified), compile_seconds=result.seconds, payback=payback)
    if measured_baseline is not None and result.measured:
        shape = sizes_text(sizes)
        chosen = replace(chosen, measured_speedup=measured_baseline / result.measured, measured_at=shape)
    return chosen


def sizes_text(sizes: Mapping[str, int]) -> str:
    """`n=1000, m=500`; a dimension nothing names (`analysis.ANON_DIM`) reads `size=1000`."""
    return ", ".join(f"{'size' if k == ANON_DIM else k}={v}" for k, v in sorted(sizes.items()))


def python_sizes(
    kernel: Kernel, facts: KernelFacts, sizes: Mapping[str, int], config: Config
) -> dict[str, int]:
    """Sizes to time the original under CPython at: the measurement sizes, halved until the
    CPython estimate is at most 50 ms a call (the interpreter is 10-1000x slower than compiled code)."""
    at = dict(sizes)
    for _ in range(40):
        seconds = estimate_python_seconds(kernel.body, facts.arg_types, at, config.default_size)
        if seconds <= 0.05 or max(at.values(), default=0) <= 8:
            break
        at = {s: max(1, v // 2) for s, v in at.items()}
    return at


def payback_of(
    kernel: Kernel,
    facts: KernelFacts,
    candidate: Candidate,
    result: verify.VerifyResult,
    measured_at: Mapping[str, int],
    python_at: Mapping[str, int],
    config: Config,
    hardware: Hardware,
) -> Payback | None:
    """The candidate's compile time against what it saves a call over CPython, at the size profile.

    The measured times are taken at smaller sizes (`measurement_sizes`, `python_sizes`) and scaled
    by the analytic model's ratio between the profile and those sizes: the model's absolute figures
    may be off, the ratio of one body's work at two sizes much less so."""
    if result.compile_seconds is None or result.measured is None or result.original_measured is None:
        return None
    own = config.sizes_for(kernel.name)
    profile = {s: own.get(s, config.default_size) for s in facts.size_symbols}

    def variant_at(at: Mapping[str, int]) -> float:
        body, target = candidate.variant.body, candidate.target
        return estimate_seconds(body, target, facts.arg_types, at, hardware, config.default_size)

    def python_at_(at: Mapping[str, int]) -> float:
        return estimate_python_seconds(kernel.body, facts.arg_types, at, config.default_size)

    try:
        variant = result.measured * variant_at(profile) / max(variant_at(measured_at), 1e-12)
    except (NotImplementedError, ValueError):  # a target the analytic model does not cover
        variant = result.measured * python_at_(profile) / max(python_at_(measured_at), 1e-12)
    original = result.original_measured * python_at_(profile) / max(python_at_(python_at), 1e-12)
    shape = sizes_text(profile) or "the default sizes"
    # plain NumPy compiles nothing: its first call is a call like the others, already counted; a
    # run that compiles this kernel first also pays Numba's start, charged to each kernel, so that
    # whatever else a run compiles, none of them is a loss on its own
    compiled = result.compile_seconds + (result.numba_start or 0.0)
    compile_seconds = 0.0 if candidate.target.name == "numpy" else compiled
    return Payback(compile_seconds, original, variant, shape, config.calls_for(kernel.name))


# ---- the GPU target ----------------------------------------------------------------------------------

CUDASIM = {"NUMBA_ENABLE_CUDASIM": "1"}  # verification runs the CUDA lowering on numba-cuda's simulator


def gpu_descriptor(hardware: Hardware) -> gpu_model.GpuDescriptor | None:
    """The GPU `--target auto` may pick: only one that is present (never here or in CI). Only the
    H100's figures are known; another NVIDIA GPU is modelled as one."""
    return gpu_model.H100 if hardware.gpu is not None else None


def with_gpu(
    kernel: Kernel,
    result: KernelResult,
    prelude: str,
    config: Config,
    examples: Sequence[dict[str, object]] = (),
) -> KernelResult:
    """Add the kernel's CUDA lowering to its CPU result, when the target asks for it and it is verified.

    `--target gpu`: whenever `passes.gpu` lowers the kernel; `auto`: only where a GPU is present and
    the GPU model (`costmodel.gpu`) predicts a clear win over the chosen CPU variant at some size,
    the dispatcher switching at the predicted size. The CPU result stands as the fallback (no GPU at
    run time, small sizes, unverified types); a refusal only adds its reason to the report."""
    if config.target == "cpu":
        return result
    gpu = gpu_descriptor(detect())
    if config.target == "auto" and gpu is None:
        return result  # no GPU here: nothing changes, no CUDA in the output
    if not isinstance(result, Emitted):
        if config.target == "gpu" and isinstance(result, Unchanged):
            return replace(
                result, reason=result.reason + "; GPU: not tried (no verified CPU path to fall back on)"
            )
        return result
    note = _gpu_refusal(kernel, result, config)
    if note is not None:
        return replace(result, gpu_note=f"refused: {note}")
    try:
        found = _add_gpu(kernel, result, prelude, config, gpu, examples)
        if found.gpu_source and result.boundscheck:
            # in bounds where the rotation-free body is (`_rotation_free_bounds`): its conditions,
            # necessary for the original not to raise, now guard both paths
            extra = _rotation_free_bounds(kernel, config) or ()
            found = replace(found, bounds=tuple(dict.fromkeys((*found.bounds, *extra))))
        return found
    except Exception as exc:  # a bug on the GPU side must not cost the kernel its CPU variant
        return replace(result, gpu_note=f"refused: internal error: {type(exc).__name__}: {exc}")


def _add_gpu(
    kernel: Kernel,
    result: Emitted,
    prelude: str,
    config: Config,
    gpu: gpu_model.GpuDescriptor | None,
    examples: Sequence[dict[str, object]] = (),
) -> Emitted:
    """Lower, (under auto) find the threshold, verify on the simulator: `with_gpu`'s work. With
    `examples` (real argument sets: `@optimize`'s call), verify again on them, on this process's
    CUDA, the device where there is one."""
    from optcompiler.passes import gpu as cuda_lowering

    options = {"inexact_math": config.fastmath, "allow_reassoc": not config.strict_fp}
    # launch configurations (block shapes, tiles) are variants the GPU model ranks at the size
    # profile; the first that lowers is the one verified and shipped
    descriptor = gpu or gpu_model.H100
    profile = config.sizes_for(kernel.name)
    candidates = gpu_model.launch_candidates(kernel, result.facts)
    ranked = gpu_model.rank_launches(
        kernel, result.facts, profile, candidates, config.default_size, descriptor
    )
    source, launch = None, ranked[0]
    for launch in ranked:
        source = cuda_lowering.lower_cuda(
            kernel,
            kernel.body,
            result.facts,
            name=emit.gpu_name(kernel.name),
            **launch.lowering_options(),  # type: ignore[arg-type]
            **options,
        )
        if source is not None:
            break
    if source is None:
        why_not = cuda_lowering.refusal_reason(kernel, kernel.body, result.facts, **options)
        return replace(result, gpu_note=f"refused: {why_not or 'the CUDA lowering does not apply'}")
    threshold = None
    model = ""
    if config.target == "auto":
        assert gpu is not None
        from optcompiler.costmodel import model as learned

        hardware = detect()
        chosen = result.candidate
        found = learned.find(hardware)
        threshold = dispatch_threshold(
            kernel,
            result.facts,
            chosen,
            profile,
            config.default_size,
            hardware,
            found,
            gpu,
            launch,
            math_names=strictmath.math_names(prelude),
        )
        if threshold is None:
            return replace(
                result,
                gpu_note=f"not picked: the {gpu.name} model predicts no {gpu_model.DISPATCH_MARGIN:g}x win over "
                f"{chosen.label} up to {gpu_model.MAX_ELEMENTS} elements",
            )
        size = " x ".join(["elements of the largest array", *gpu_model.scalar_sizes(result.facts)])
        model = (
            f"; taken from a problem size of {threshold} ({size}), where the {gpu.name} model "
            f"predicts it {gpu_model.DISPATCH_MARGIN:g}x faster than {chosen.label}"
        )

    def gpu_verified(**where: object) -> tuple[bool, str]:
        """Whether the CUDA lowering matches the original, and the verifier's account
        (`where`: on the simulator, or on the call's own arguments)."""
        checked = verify.verify_candidates(
            prelude="import numba\n" + prelude,
            original_source=kernel.source,
            original_name=kernel.name,
            candidates=[verify.CandidateSource("gpu", source, emit.gpu_name(kernel.name))],
            args=[(p.name, result.facts.arg_types[p.name]) for p in kernel.params],
            policy=verify.FloatPolicy(strict=config.strict_fp),
            timeout=config.verify_timeout,
            **where,  # type: ignore[arg-type]
        )
        return (bool(checked) and checked[0].ok), (checked[0].reason if checked else "not verified")

    ok, verified = gpu_verified(env=CUDASIM)
    if not ok:
        return replace(result, gpu_note=f"refused: failed verification on the CUDA simulator ({verified})")
    if examples:
        on_device, reason = gpu_verified(examples=examples)
        if not on_device:
            return replace(
                result, gpu_note=f"refused: failed verification on the call's arguments ({reason})"
            )
        model += "; and on the call's own arguments, on this machine's CUDA"
    shape = f"launch configuration {launch.label} (of {len(ranked)} ranked by the GPU model)"
    return replace(
        result,
        alias_pairs=alias_guard_pairs(result.facts, kernel.body),  # the lowering assumes distinct arrays
        gpu_source=source,
        gpu_threshold=threshold,
        gpu_note=f"numba-cuda, {shape}; verified on the CUDA simulator, {verified}{model}",
    )


def dispatch_threshold(
    kernel: Kernel,
    facts: KernelFacts,
    chosen: Candidate,
    profile: Mapping[str, int],
    default_size: int,
    hardware: Hardware,
    found: TreeModel | None,
    gpu: gpu_model.GpuDescriptor,
    launch: gpu_model.LaunchConfig | None = None,
    margin: float = gpu_model.DISPATCH_MARGIN,
    math_names: Mapping[str, str] | None = None,
) -> int | None:
    """The problem size from which the dispatcher takes the GPU (`costmodel.gpu.threshold`), None
    for never: where the GPU model predicts the lowering `margin` times faster than `chosen`, the
    CPU variant the dispatcher falls back to, as `dispatch_cpu_seconds` predicts it."""
    cpu_seconds = dispatch_cpu_seconds(chosen, facts, hardware, found, default_size, math_names)
    return gpu_model.threshold(
        kernel, facts, cpu_seconds, profile, default_size, gpu, margin=margin, launch=launch
    )


def dispatch_cpu_seconds(
    chosen: Candidate,
    facts: KernelFacts,
    hardware: Hardware,
    found: TreeModel | None,
    default_size: int,
    math_names: Mapping[str, str] | None = None,
) -> Callable[[Mapping[str, int]], float]:
    """The CPU side of the dispatch decision: `chosen`'s seconds at a size profile, predicted as the
    ranking predicts compiled candidates (`predict_with`): the learned model of this machine
    (`found`) where one fits its hardware id, else the analytic model, for the code as Numba runs
    it (`as_compiled`: `math_names`, the module's `math` imports, say which calls become checked
    helpers, and a `prange` loop calling one runs serially).

    A plain NumPy variant (no loops left) is costed by the analytic model as the same statements
    compiled, plus a Python call: its time is NumPy's compiled loops and BLAS, which the compiled
    estimate sizes to this machine (cores, SIMD), where the CPython estimate the ranking uses for it
    assumes a fixed 20 GFLOP/s BLAS (gemm at n = 1024 on the 16-core H100 host: 4.2 ms predicted
    compiled, 115 ms by CPython's estimate, 4.1 ms measured). Not by the learned model, which was
    never trained on the numpy target (`costmodel/data`: njit and njit-parallel candidates only)."""
    numpy = chosen.target.name == "numpy"
    call = NUMPY_CALL_SECONDS if numpy else 0.0
    model = None if numpy else found
    derivation = chosen.variant.derivation
    if numpy:
        body, target = chosen.variant.body, Target("njit")
    else:
        body, target = as_compiled(
            chosen.variant.body,
            chosen.target,
            frozenset(facts.arg_types),
            math_names,
            rerunnable(chosen.variant.body, facts),
        )

    def cpu_seconds(sizes: Mapping[str, int]) -> float:
        return call + predict_with(model, body, target, derivation, facts, sizes, hardware, default_size)

    return cpu_seconds


def as_compiled(
    body: Term,
    target: Target,
    params: frozenset[str],
    math_names: Mapping[str, str] | None,
    flags: bool = False,
) -> tuple[Term, Target]:
    """`body` and `target` as Numba runs the emitted variant. A `prange` loop whose body calls a
    `math` function that `strictmath` routes to a checked helper (one that may raise) is not
    parallelized: Numba refuses a parallel loop with more than one exit ("prange or pndindex loop
    will not be executed in parallel") and runs it as `range`. rbf_kernel32's and
    potential_energy's prange variants measured as slow as plain njit on the 16-core H100 host
    (261 vs 181 ms, 80 vs 86 ms) where the same loops without the helpers ran 7x faster
    (costmodel/data/aab01f153ef2: 35 ms, 10.5 ms); costed as parallel, they kept the dispatcher on
    the CPU where the GPU was 3-16x faster. Unchanged where no such loop is left (`math_names`
    None: no checked calls), and with `flags` (`rerunnable`: the loop's calls mark flags instead,
    `strictmath.parallel_calls`, and it runs in parallel)."""
    if not target.parallel or not math_names or flags:
        return body, target
    bound = params | names_assigned(body)

    def serial(term: Term) -> Term:
        args = tuple(serial(a) if isinstance(a, Term) else a for a in term.args)
        if (
            term.op == "for"
            and term.value == "prange"
            and strictmath.checked_calls(term, math_names, bound)[1]
        ):
            return Term("for", args, "range")
        return term if args == term.args else Term(term.op, args, term.value)

    compiled = serial(body)
    if compiled == body:
        return body, target
    if any(t.op == "for" and t.value == "prange" for t in compiled.walk()):
        return compiled, target
    return compiled, Target("njit", target.fastmath)


def _gpu_refusal(kernel: Kernel, result: Emitted, config: Config) -> str | None:
    """Why the kernel's CUDA lowering may not be offered at all, before lowering it."""
    if result.boundscheck and _rotation_free_bounds(kernel, config) is None:
        return "some subscript is not provably in bounds, and a GPU thread reading out of bounds is undefined"
    if importlib.util.find_spec("numba_cuda") is None:  # the `cuda` extra
        return "numba-cuda is not installed (pip install 'optc[cuda]')"
    if not config.verify:
        return "--no-verify: a CUDA lowering is only emitted verified"
    return None


def _rotation_free_bounds(kernel: Kernel, config: Config) -> tuple[str, ...] | None:
    """The bounds conditions of the kernel's body without its ping-pong rotations
    (`passes.gpu.without_rotations`: every rotated array has one shape, so a subscript is in bounds
    exactly when it is there), when they cover every subscript; None otherwise. The analysis does
    not follow arrays through `a, b = b, a`, which would leave every time-stepped stencil that
    swaps buffers unchecked, and so off the GPU."""
    from optcompiler.passes.gpu import without_rotations

    free = without_rotations(kernel.body)
    if free is None or free == kernel.body:
        return None
    hints = {p.name: h for p in kernel.params if (h := config.arg_type_hint(kernel.name, p.name)) is not None}
    facts = analyze(replace(kernel, body=free), hints)
    guard = bounds_guard(free, [p.name for p in kernel.params], facts)
    return guard.conditions if guard.complete else None


# Verifying costs a Numba compile per candidate, so only the model's top few are measured, plus the
# best sequential variant (parallel regions do not pay on every machine) and the plain compiled
# original: the shipped variant is never one measured clearly slower than what `numba.njit` gives for free.
TOP_MEASURED = 3
NOISE = 0.05  # measured times within 5% count as equal; the model's order breaks the tie
# The model's first choice stands unless another candidate measures more than 25% faster. Timings
# of one run vary by 20% and more on a loaded machine; a pick that followed every 5% difference
# made the emitted file change from run to run (same input, same settings). Slower than plain
# `njit` by more than this, the model's choice is still replaced.
SWITCH = 0.25


def measured_contenders(
    ranked: Sequence[tuple[Candidate, float]], limit: int
) -> list[tuple[Candidate, float]]:
    contenders = list(ranked[: min(limit, TOP_MEASURED)])
    extras = [
        next((cs for cs in ranked if not cs[0].target.parallel and cs[0].target.name != "numpy"), None),
        next((cs for cs in ranked if not cs[0].variant.derivation and cs[0].target.name == "njit"), None),
        next((cs for cs in ranked if cs[0].target.name == "numpy"), None),  # no compile: short runs
    ]
    for extra in extras:
        if extra is not None and all(extra[0] is not c for c, _ in contenders):
            contenders.append(extra)
    return contenders


def pick_measured(
    passed: Sequence[tuple[Candidate, float, verify.VerifyResult]],
) -> tuple[Candidate, float, verify.VerifyResult]:
    """The model's first measured choice, unless another is more than SWITCH faster: then the
    fastest, and within NOISE of it the one the model ranked first."""
    timed = [p for p in passed if p[2].measured is not None]
    if not timed:
        return passed[0]
    fastest = min(p[2].measured for p in timed)  # type: ignore[type-var]
    if timed[0][2].measured <= fastest * (1 + SWITCH):  # type: ignore[operator]
        return timed[0]
    return next(p for p in timed if p[2].measured <= fastest * (1 + NOISE))  # type: ignore[operator]


def measurement_sizes(
    kernel: Kernel, facts: KernelFacts, config: Config, hardware: Hardware
) -> dict[str, int]:
    """The size profile, halved until plain `njit` of the original is predicted to take ≤ 20 ms a
    call and no array exceeds 4M elements, so measuring stays a fraction of a second."""
    profile = config.sizes_for(kernel.name)
    sizes = {s: profile.get(s, config.default_size) for s in facts.size_symbols}
    for _ in range(40):
        seconds = estimate_seconds(
            kernel.body, Target("njit"), facts.arg_types, sizes, hardware, config.default_size
        )
        largest = max(
            (
                math.prod(sizes.get(d, config.default_size) for d in t.dims)
                for t in facts.arg_types.values()
                if t.kind == "array"
            ),
            default=0,
        )
        if (seconds <= 0.02 and largest <= 4 * 2**20) or max(sizes.values(), default=0) <= 8:
            break
        sizes = {s: max(1, v // 2) for s, v in sizes.items()}
    return sizes


def explore(
    kernel: Kernel,
    facts: KernelFacts,
    config: Config,
    passes: Sequence[ModuleType] = REGISTRY,
    suggestions: Sequence[Term] = (),
) -> tuple[list[Variant], RunReport]:
    """Saturate the kernel's e-graph, then extract alternatives statement by statement.

    Whole-body top-K by a static cost would be dominated by combinations of small algebraic
    variants; ranking each top-level statement's alternatives with the analytic model and
    combining them keeps the loop-structure alternatives that matter.
    """
    egraph = EGraph()
    root = egraph.add_term(kernel.body)
    shape = kernel.body  # the statements extracted one by one (verified suggestions group some)
    if config.llm.enabled:
        from optcompiler.llm.suggest import load_rules
        from optcompiler.passes.llm import LearnedRules, merge_suggestions

        shape = merge_suggestions(egraph, root, kernel.body, suggestions)
        passes = (*passes, LearnedRules(load_rules(config.llm), kernel.body))  # type: ignore[arg-type]
    ctx = PassContext(
        facts=facts,
        root=root,
        names=frozenset(all_names(kernel.body) | {p.name for p in kernel.params}),
        allow_reassoc=not config.strict_fp,
        fastmath=config.fastmath,
        body=kernel.body,
    )
    limits = Limits(node_limit=config.node_limit, iter_limit=config.iter_limit, time_limit=config.time_limit)
    report = run(egraph, all_rules(ctx, passes), limits)

    hardware = detect()
    steps_seen = DerivationCache()  # the variants share most statements: their rules are looked up once
    # (statement class, prefix) -> its alternatives, best predicted first; and whether it is a
    # statement without loops (its best only, and part of the prefix the later ones are costed after)
    options: dict[tuple[int, tuple[Term, ...]], tuple[list[Term], bool]] = {}

    def alternatives(child: int, prefix: tuple[Term, ...]) -> tuple[list[Term], bool]:
        key = (egraph.find(child), prefix)
        if key not in options:
            best = extract_best(egraph, child, static_cost)[1]
            if not contains_loop(best) and not _loop_alternative(egraph, child):
                options[key] = ([best], True)
            else:
                found = [t for _, t in extract_top_k(egraph, child, config.top_k, static_cost)]
                # node counts favour a nest over its library call (`C[:n, :p] += alpha * (A @ B)`
                # has more nodes than the loop it replaces, plus a distributed loop): the term
                # cheapest when a loop body counts once per iteration joins the options too
                lean = extract_best(egraph, child, loop_weighted_cost)[1]
                if lean not in found:
                    found.append(lean)
                ranked = sorted(
                    found,
                    key=lambda t: rank_key(
                        estimate_seconds(
                            seq(*prefix, t),
                            _target_for(t),
                            facts.arg_types,
                            config.sizes_for(kernel.name),
                            hardware,
                            config.default_size,
                        ),
                        t,
                        len(derivation(egraph, t, steps_seen)),
                    ),
                )
                options[key] = (ranked, False)
        return options[key]

    # one list of per-statement alternatives per block of the root class: the body as written,
    # then the bodies rules made of several statements at once (adjacent loops fused)
    blocks: list[list[list[Term]]] = []
    for node in _root_seqs(egraph, root, shape):
        per_stmt: list[list[Term]] = []
        prefix: list[Term] = []
        for child in node.children:
            opts, plain = alternatives(child, tuple(prefix))
            per_stmt.append(opts)
            if plain:
                prefix.append(opts[0])
        blocks.append(per_stmt)

    # each block's best combination first (ranking chooses among the blocks), then each block's
    # variants that change one statement
    bodies: list[Term] = []
    for per_stmt in blocks:
        body = Term("seq", tuple(opts[0] for opts in per_stmt))
        if body not in bodies:
            bodies.append(body)
    for per_stmt in blocks:
        for i, opts in enumerate(per_stmt):
            for alt in opts[1:]:
                body = Term("seq", tuple(alt if j == i else o[0] for j, o in enumerate(per_stmt)))
                if body not in bodies:
                    bodies.append(body)
    if kernel.body not in bodies and shape not in bodies:
        bodies.append(kernel.body)
    # bodies that differ only in how blocks nest (a fused loop distributed again, inside the
    # block it was fused in) are one variant, credited with its shortest derivation; the body
    # as written is the original, whatever path led back to it
    flat_stmts: dict[Term, Term] = {}  # statements recur across bodies: each is normalized once

    def flatten(body: Term) -> Term:
        for stmt in body.args:
            if stmt not in flat_stmts:
                flat_stmts[stmt] = normalize(stmt)
        return seq(*(flat_stmts[stmt] for stmt in body.args))

    written = {normalize(kernel.body), normalize(shape)}
    unique: dict[Term, tuple[str, ...]] = {}
    for body in bodies:
        flat = flatten(body)
        if flat not in unique and len(unique) > config.top_k:
            continue
        steps = derivation(egraph, body, steps_seen) if flat not in written else ()
        if flat not in unique or len(steps) < len(unique[flat]):
            unique[flat] = steps
    variants = [Variant(kernel.name, flat, steps) for flat, steps in unique.items()]
    if not any(not v.derivation for v in variants):
        variants.append(Variant(kernel.name, kernel.body, ()))
    return variants, report


def _loop_alternative(egraph: EGraph, id: int) -> bool:
    """Does a statement without a loop have one among its alternatives (e.g. `np.sum(E)` as a loop)?"""
    return any(node.op == "for" for node in egraph.nodes(id)) or any(
        node.op == "seq" and any(n.op == "for" for c in node.children for n in egraph.nodes(c))
        for node in egraph.nodes(id)
    )


def _root_seq(egraph: EGraph, root: int, body: Term) -> ENode:
    """The body's own seq node (rules add other blocks to the root class, never remove it)."""
    children = tuple(egraph.find(egraph.add_term(stmt)) for stmt in body.args)
    for node in egraph.nodes(root):
        if node.op == "seq" and tuple(egraph.find(c) for c in node.children) == children:
            return node
    return next(n for n in egraph.nodes(root) if n.op == "seq")


MAX_ROOT_BLOCKS = 8  # blocks of the root class extracted from (the body as written first)


def _root_seqs(egraph: EGraph, root: int, body: Term) -> list[ENode]:
    """The body's own seq node, then the root class's other seq nodes by age (e.g. two top-level
    loops fused into one: the whole body is the only class that holds both statements)."""
    own = _root_seq(egraph, root, body)
    others = [n for n in egraph.nodes(root) if n.op == "seq" and n != own]
    return [own, *others[: MAX_ROOT_BLOCKS - 1]]


def rank(
    variants: Sequence[Variant],
    facts: KernelFacts,
    config: Config,
    hardware: Hardware,
    math_names: Mapping[str, str] | None = None,
) -> list[tuple[Candidate, float]]:
    """Variant × Target candidates, cheapest predicted first (see `rank_key` for ties), each
    predicted as Numba runs it (`as_compiled`: `math_names`, the module's `math` imports, say
    which calls become checked helpers, and a prange loop calling one runs serially unless the
    kernel may run again as written)."""
    scored = []
    params = frozenset(facts.arg_types)
    pranges: dict[int, bool] = {}  # the variants share most subterms as objects: each is looked at once
    for variant in variants:
        targets = [_target_for(variant.body, pranges)]
        if config.numpy_target and variant.derivation and not contains_loop(variant.body):
            targets.append(Target("numpy"))  # nothing left to compile: plain NumPy, no compile time
        for target in targets:
            body, runs_as = variant.body, target
            if target.parallel and math_names:
                body, runs_as = as_compiled(body, target, params, math_names, rerunnable(body, facts))
            seconds = predict_seconds(
                body,
                runs_as,
                variant.derivation,
                facts,
                config.sizes_for(variant.kernel),
                hardware,
                config.default_size,
            )
            key = rank_key(seconds, variant.body, len(variant.derivation), text=False)
            scored.append((key, Candidate(variant, target), seconds))
    scored.sort(key=lambda s: s[0])
    # the text decides only among candidates equal on everything else: made only for those
    ranked: list[tuple[Candidate, float]] = []
    texts: dict[int, str] = {}
    for _, group in itertools.groupby(scored, key=lambda s: s[0]):
        tied = list(group)
        if len(tied) > 1:
            tied.sort(key=lambda s: _sexpr(s[1].variant.body, texts))
        ranked += [(c, s) for _, c, s in tied]
    return ranked


def predict_seconds(
    body: Term,
    target: Target,
    derivation: tuple[str, ...],
    facts: KernelFacts,
    sizes: Mapping[str, int],
    hardware: Hardware,
    default_size: int,
) -> float:
    """Predicted seconds of a candidate: the learned model of this machine when there is one
    (`costmodel.model.find`: calibrated or shipped for this hardware id), else the analytic model.
    The learned model reads features of the IR only (nothing is compiled) and never imports lightgbm."""
    from optcompiler.costmodel import model as learned

    found = None if target.name == "numpy" else learned.find(hardware)
    return predict_with(found, body, target, derivation, facts, sizes, hardware, default_size)


def predict_with(
    found: TreeModel | None,
    body: Term,
    target: Target,
    derivation: tuple[str, ...],
    facts: KernelFacts,
    sizes: Mapping[str, int],
    hardware: Hardware,
    default_size: int,
) -> float:
    """`predict_seconds` with the learned model given (`found`; None: the analytic model), so that
    an evaluation can put in a model that never saw the kernel (bench/gpu_report.py)."""
    from optcompiler.costmodel import model as learned

    if target.name == "numpy":  # runs under CPython: interpreted statements, NumPy's loops
        return NUMPY_CALL_SECONDS + estimate_python_seconds(body, facts.arg_types, sizes, default_size)
    if found is not None:
        try:
            log_seconds = learned.predict_log_seconds(
                found, body, target, derivation, facts.arg_types, sizes, hardware, default_size
            )
        except (NotImplementedError, ValueError):  # features the IR cannot give: the analytic model
            log_seconds = math.nan
        if math.isfinite(log_seconds):
            return math.exp(log_seconds)
    return estimate_seconds(body, target, facts.arg_types, sizes, hardware, default_size)


NUMPY_CALL_SECONDS = 1e-6  # a Python call and its dispatcher, before any NumPy work


def rank_key(
    seconds: float, body: Term, rewrites: int, text: bool = True
) -> tuple[int, float, int, str] | tuple[int, float, int]:
    """Predicted time in 1% buckets; then less work in inner loops (hoisted code wins a tie the
    model cannot see, e.g. when stores might alias a load); then fewer rewrites, so code that
    gains nothing keeps the user's form; then text, for determinism (`text=False` leaves it to
    the caller, which `rank` makes only for ties)."""
    bucket = round(math.log(max(seconds, 1e-12)) / math.log(1.01))
    if not text:
        return (bucket, weighted_size(body), rewrites)
    return (bucket, weighted_size(body), rewrites, repr(body))


def _target_for(body: Term, memo: dict[int, bool] | None = None) -> Target:
    """njit-parallel for a body with a prange loop. `memo` (by object, for as long as the terms
    live: one `rank`) is shared by bodies that hold the same subterms."""
    if memo is None:
        found = any(t.op == "for" and t.value == "prange" for t in body.walk())
    else:
        found = _has_prange(body, memo)
    return Target("njit-parallel") if found else Target("njit")


def _has_prange(term: Term, memo: dict[int, bool]) -> bool:
    found = memo.get(id(term))
    if found is None:
        found = (term.op == "for" and term.value == "prange") or any(
            _has_prange(a, memo) for a in term.args if a.args or a.op == "for"
        )
        memo[id(term)] = found
    return found


def _sexpr(term: Term, memo: dict[int, str]) -> str:
    """`repr(term)` (`ir.to_sexpr`), each subterm object written once: `memo` is by object, for as
    long as the terms live (one `rank`), and tied variants share most of their statements."""
    found = memo.get(id(term))
    if found is None:
        head = sexpr_head(term)
        found = "(" + " ".join([head, *(_sexpr(a, memo) for a in term.args)]) + ")" if term.args else head
        memo[id(term)] = found
    return found


# ---- costs and helpers --------------------------------------------------------------------------------

_OP_COST = {"pow": 20.0, "truediv": 6.0, "floordiv": 8.0, "mod": 8.0, "call": 10.0, "index": 2.0}


def static_cost(node: ENode, child_costs: tuple[float, ...]) -> float:
    """A size-free cost for extraction: expensive operators weigh more; structure by node count."""
    return _OP_COST.get(node.op, 1.0) + sum(child_costs)


LOOP_BODY_WEIGHT = 4.0  # a loop body counts as this many copies of itself (as in `weighted_size`)


def loop_weighted_cost(node: ENode, child_costs: tuple[float, ...]) -> float:
    """`static_cost` where a loop's (or while's) body weighs LOOP_BODY_WEIGHT times: bottom-up, so
    extraction finds the variant with the least code inside loops (library calls, slices)."""
    if node.op == "for":
        return _OP_COST.get("for", 1.0) + sum(child_costs[:4]) + LOOP_BODY_WEIGHT * child_costs[4]
    if node.op == "while":
        return 1.0 + LOOP_BODY_WEIGHT * sum(child_costs)
    return static_cost(node, child_costs)


def weighted_size(term: Term, depth: int = 0) -> float:
    """Static size where code at loop depth d weighs 4**d: it runs (roughly) that much more often.

    The size at depth d is 4**d times the size at depth 0, exactly (a power of two scales every
    term of the sum without rounding), so the depth-0 size is remembered per subterm: variants
    share most of their statements."""
    return 4.0**depth * _weighted_size_0(term)


_WEIGHTED_SIZES: dict[Term, float] = {}
# ... and by object (the term kept beside its size): a subterm that variants hold as equal but
# distinct objects is compared with the remembered one node by node once, not at every lookup.
_WEIGHTED_SIZE_OF: dict[int, tuple[Term, float]] = {}


def _weighted_size_0(term: Term) -> float:
    hit = _WEIGHTED_SIZE_OF.get(id(term))
    if hit is not None and hit[0] is term:
        return hit[1]
    found = _WEIGHTED_SIZES.get(term)
    if found is None:
        own = _OP_COST.get(term.op, 1.0)
        if term.op == "for":
            found = (
                own + sum(_weighted_size_0(a) for a in term.args[:4]) + 4.0 * _weighted_size_0(term.args[4])
            )
        elif term.op == "while":
            found = own + 4.0 * _weighted_size_0(term.args[0]) + 4.0 * _weighted_size_0(term.args[1])
        else:
            found = own + sum(_weighted_size_0(a) for a in term.args)
        if len(_WEIGHTED_SIZES) > 100_000:
            _WEIGHTED_SIZES.clear()
        _WEIGHTED_SIZES[term] = found
    if len(_WEIGHTED_SIZE_OF) > 100_000:
        _WEIGHTED_SIZE_OF.clear()
    _WEIGHTED_SIZE_OF[id(term)] = (term, found)
    return found


def normalize(term: Term) -> Term:
    """Flatten nested blocks (an e-class may hold `seq` where a statement stood)."""
    if not term.args:
        return term
    args = tuple(normalize(a) for a in term.args)
    if term.op == "seq":
        return seq(*args)
    return Term(term.op, args, term.value)


_DIVISIONS = frozenset({"truediv", "floordiv", "mod"})


def rerunnable(body: Term, facts: KernelFacts) -> bool:
    """Whether the dispatcher may run the original after the variant raised: the variant changed
    nothing the caller sees, so the original, run then, does exactly what CPython does. Only for
    kernels that write no argument (and draw no random numbers, which a second run would draw
    again)."""
    return not facts.written_params and not any(t.op == "attr" and t.value == "random" for t in body.walk())


def retry_errors(kernel: Kernel, facts: KernelFacts, flagged: bool = False) -> tuple[str, ...]:
    """Errors on which the dispatcher runs the original after the variant raised them
    (`rerunnable` kernels only).

    Numba raises ZeroDivisionError for every division by zero; CPython only when both operands
    are Python numbers, and gives inf or nan for NumPy scalars (`s / (n - 1)` with `s` a sum of
    array elements, at n = 1). `flagged`: the variant's prange loops call flag helpers
    (`strictmath.parallel_calls`) and raise ArithmeticError where CPython raised in them
    (`strictmath.RETRY`)."""
    body = kernel.body
    if not rerunnable(body, facts):
        return ()
    if flagged:
        return strictmath.RETRY  # ArithmeticError covers ZeroDivisionError
    divides = any(t.op in _DIVISIONS or (t.op == "augassign" and t.value in _DIVISIONS) for t in body.walk())
    return ("ZeroDivisionError",) if divides else ()


def variant_source(
    kernel: Kernel,
    candidate: Candidate,
    name: str | None = None,
    boundscheck: bool = False,
    math_names: Mapping[str, str] | None = None,
    parallel_flags: bool = False,
) -> str:
    """The candidate as a compiled function; `boundscheck` when some subscript of the kernel could
    not be proved in range by the dispatcher's guard (`analysis.bounds_guard`). `math_names` (the
    module's `math` imports, `strictmath.math_names`) route `math` calls to helpers that raise as
    CPython does; the helpers' `def`s lead the text. `parallel_flags` (for a `rerunnable` kernel,
    whose dispatcher catches `retry_errors(..., flagged=True)`): calls in a prange loop mark flags
    instead of raising (`strictmath.parallel_calls`), so that Numba runs the loop in parallel."""
    if candidate.target.name == "numpy":  # plain Python over NumPy: nothing to compile
        return lower_function(name or emit.variant_name(kernel.name), kernel.params, candidate.variant.body)
    bound = frozenset(p.name for p in kernel.params) | names_assigned(candidate.variant.body)
    body, flagged = candidate.variant.body, ()
    if parallel_flags and candidate.target.parallel:
        body, flagged = strictmath.parallel_calls(body, math_names or {}, bound)
    body, helpers = strictmath.checked_calls(body, math_names or {}, bound)
    options = ["cache=True"]
    if boundscheck:
        options.append("boundscheck=True")
    if candidate.target.parallel:
        options.append("parallel=True")
    if candidate.target.fastmath:
        options.append(f"fastmath={set(candidate.target.fastmath)!r}")
    function = lower_function(
        name or emit.variant_name(kernel.name),
        kernel.params,
        body,
        None,
        [f"numba.njit({', '.join(options)})"],
    )
    return "\n\n".join([*strictmath.helpers_source(helpers, flagged), function])


def module_prelude(module: cst.Module, kernel: Kernel) -> str:
    """The module-level code a kernel needs to run on its own: imports, and the constants and
    functions it names (transitively). Other top-level code is not executed during verification."""
    defined: dict[str, cst.CSTNode] = {}
    imports: list[cst.CSTNode] = []
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    imports.append(stmt)
                    break
                if isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = small.targets if isinstance(small, cst.Assign) else [small]
                    for t in targets:
                        target = t.target
                        if isinstance(target, cst.Name):
                            defined[target.value] = stmt
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            defined[stmt.name.value] = stmt
    needed: list[cst.CSTNode] = []
    queue = sorted(names_read(kernel.body) - {kernel.name})
    seen: set[str] = set()
    while queue:
        name = queue.pop()
        if name in seen or name not in defined:
            continue
        seen.add(name)
        node = defined[name]
        if node not in needed:
            needed.append(node)
            queue.extend(sorted(_names_in(module.code_for_node(node)) - seen))
    order = {id(stmt): i for i, stmt in enumerate(module.body)}
    parts = sorted(imports + needed, key=lambda n: order.get(id(n), 0))
    return "".join(module.code_for_node(n) for n in parts)


def _names_in(code: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


# ---- reports ----------------------------------------------------------------------------------------


def describe(result: KernelResult) -> str:
    """One line per kernel, as `-v` prints it."""
    if isinstance(result, Emitted):
        speed = f", predicted {result.predicted_speedup:.1f}x vs njit" if result.predicted_speedup else ""
        if result.measured_speedup:
            speed += f", measured {result.measured_speedup:.1f}x at {result.measured_at}"
        gpu = f"; GPU: {result.gpu_note}" if result.gpu_note else ""
        pays = f"; {result.payback.describe()}" if result.payback is not None else ""
        return f"{result.kernel}: optimized ({result.candidate.label}){speed}; {result.verified}{pays}{gpu}"
    if isinstance(result, Unchanged):
        return f"{result.kernel}: unchanged: {result.reason}"
    return f"{result.kernel}: failed: {result.reason}"


def describe_search(result: Emitted) -> str:
    """The runner's account (iterations, nodes, time, why it stopped, rules fired) and stage timings."""
    parts = []
    r = result.run_report
    if r is not None:
        fired = ", ".join(f"{n}×{c}" for n, c in r.fired if c) or "none"
        parts.append(
            f"e-graph: {r.iterations} iterations, {r.nodes} nodes, {r.seconds * 1000:.0f} ms, {r.stop_reason}; fired {fired}"
        )
    if result.llm is not None:
        parts.append(result.llm.describe())
    if result.timings:
        parts.append("stages: " + ", ".join(f"{s} {t * 1000:.0f} ms" for s, t in result.timings))
    return "; ".join(parts)


def report_markdown(results: Iterable[FileResult]) -> str:
    lines = [
        "# optc report",
        "",
        "| file | line | kernel | outcome | variant | predicted vs njit | measured vs njit | compile time |"
        " verification |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for fr in results:
        for k in fr.kernels:
            if isinstance(k, Emitted):
                speed = f"{k.predicted_speedup:.2f}x" if k.predicted_speedup else ""
                measured = f"{k.measured_speedup:.2f}x at {k.measured_at}" if k.measured_speedup else ""
                gpu = f"; GPU: {k.gpu_note}" if k.gpu_note else ""
                pays = k.payback.describe() if k.payback is not None else ""
                lines.append(
                    f"| {fr.path} | {k.line} | {k.kernel} | optimized | {k.candidate.label} | {speed} | {measured} | {pays} | {k.verified}{gpu} |"
                )
            else:
                outcome = "unchanged" if isinstance(k, Unchanged) else "failed"
                lines.append(f"| {fr.path} | {k.line} | {k.kernel} | {outcome} | | | | | {k.reason} |")
    for fr in results:
        for k in fr.kernels:
            if isinstance(k, Emitted) and k.run_report is not None:
                steps = " → ".join(why(step) for step in k.candidate.variant.derivation)
                lines += [
                    "",
                    f"## {fr.path}: {k.kernel}",
                    "",
                    f"- derivation of the emitted variant: {steps or 'none (original body, compiled)'}",
                    f"- candidates ranked: {k.candidates_considered}",
                    *(f"- {part}" for part in describe_search(k).split("; ")),
                ]
    return "\n".join(lines) + "\n"
