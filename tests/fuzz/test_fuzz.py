"""Differential fuzzing: every variant optc extracts for a random kernel computes what the kernel computes.

For each kernel from `strategies.kernels()` (kernels outside the subset are skipped): lift,
analyze, explore, then run the original and **every** extracted variant (lowered back to Python,
run by CPython for speed) on several input sets built from the inferred argument types, and
compare the return value and every argument afterwards. Variants whose derivation uses a rule
tagged `reassoc` may differ norm-wise within 1e-9 (float64) / 1e-4 (float32); every other variant
must be bit-identical (NaN == NaN). Inputs on which the original raises are skipped.

`numba.prange` runs its iterations last to first here: under CPython a prange would otherwise be
a plain range, and a loop parallelised against a loop-carried dependence would pass unnoticed.
Iterations that are really independent give the same result in any order.

Aliasing: the same array passed for two parameters of equal dtype and rank, and two overlapping
views of one array (one row apart) for them. A variant may then compute something else only when
`analysis.alias_guard_pairs` lists that pair: the emitted code sends overlapping arguments to the
original.

A few kernels also go end to end through `pipeline.optimize_source` (numba and the verification
subprocess), and the emitted module is imported and compared with the original.

Quick mode (the default suite) is derandomized; `OPTC_FUZZ_CASES=20000 python -m pytest tests/fuzz -q`
runs that many random cases instead.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import signal
import sys
import tempfile
import types
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, assume, example, given, note, reject, settings

from optcompiler import frontend, pipeline
from optcompiler.analysis import KernelFacts, alias_guard_pairs, analyze, bounds_guard
from optcompiler.config import Config
from optcompiler.errors import Unsupported
from optcompiler.ir import ArgType, Kernel, Variant, lower_function
from optcompiler.passes import PassContext, all_rules

from .strategies import KERNEL_NAME, adjacent_loop_kernels, blas_kernels, gram_kernels, kernels, nest3_kernels

LONG_CASES = int(os.environ.get("OPTC_FUZZ_CASES", "0"))
QUICK_CASES = 320
BLAS_QUICK_CASES = 100
SHAPES_QUICK_CASES = 60  # each of the adjacent-loop and 3-deep-nest families
GRAM_QUICK_CASES = 60
CONFIG = Config(default_size=64)
E2E_CONFIG = Config(default_size=64, max_verify=3, verify_timeout=60.0)
CALL_SECONDS = 5.0  # one call of a kernel or variant on small inputs; more means it never ends
COMPILING_CALL_SECONDS = 120.0  # a call of the emitted module, which may compile with Numba first
RTOL = {"float64": 1e-9, "float32": 1e-4, "float16": 1e-4}

FUZZ = settings(
    max_examples=LONG_CASES or QUICK_CASES,
    deadline=None,
    derandomize=not LONG_CASES,
    database=None if not LONG_CASES else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    print_blob=True,
)
E2E = settings(FUZZ, max_examples=max(3, LONG_CASES // 1000), suppress_health_check=list(HealthCheck))

STATS: Counter[str] = Counter()
SEEN: set[str] = set()


# ---- the float policy ------------------------------------------------------------------------------


def _reassociating_rules() -> frozenset[str]:
    """Names of rules tagged `reassoc`: the float policy lets their variants differ within RTOL."""
    kernel = frontend.lift_function("def f(x):\n    for i in range(3):\n        x[i] = 0.0\n", "<rules>", "f")
    ctx = PassContext(analyze(kernel), root=0, names=frozenset(), allow_reassoc=True, fastmath=True)
    return frozenset(r.name for r in all_rules(ctx, preview=True) if r.safety == "reassoc")


REASSOCIATING = _reassociating_rules()


def exact(variant: Variant) -> bool:
    return not any(step in REASSOCIATING for step in variant.derivation)


# ---- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    label: str
    sizes: tuple[int, ...]  # one per size symbol in order of appearance (cycled); equal when one
    values: str  # "signed" [-1, 1), "positive" [0.5, 2), "special" signed with 0.0, -0.0, nan, inf


PLANS = (
    Plan("sizes 5", (5,), "signed"),
    Plan("sizes 5, 7, 3", (5, 7, 3), "signed"),
    Plan("sizes 1", (1,), "positive"),
    Plan("sizes 0", (0,), "signed"),
    Plan("sizes 7, 3, 5", (7, 3, 5), "positive"),
    Plan("sizes 4, special values", (4,), "special"),
)
# a contraction over nothing with rows left (k = 0, n = 4), and rows but no columns
# (k = 0 with 5 rows and 3 columns: lookups the original never makes, in range only where proved or guarded).
# No special values: where 1e308 and inf meet, whether a partial sum or a scaled product overflows
# depends on the order of the sum, which the float policy lets BLAS choose (`s += 2.0 * X[i, p] * X[j, p]`
# gives nan where `s += 2.0 * (X @ X.T)[i, j]` gives -inf); verification's inputs are finite and moderate.
GRAM_PLANS = (
    *(plan for plan in PLANS if plan.values != "special"),
    Plan("sizes 4, 0", (4, 0), "signed"),
    Plan("sizes 0, 4", (0, 4), "positive"),
    Plan("sizes 5, 0, 3", (5, 0, 3), "signed"),
    Plan("sizes 0, 5, 3", (0, 5, 3), "signed"),
)
ALIAS_PLANS = (Plan("sizes 5", (5,), "signed"), Plan("sizes 4", (4,), "positive"))
SPECIALS = (0.0, -0.0, math.nan, math.inf, -math.inf, 1e308, 5e-324)


def symbols_of(arg_types: dict[str, ArgType]) -> list[str]:
    out: list[str] = []
    for t in arg_types.values():
        out += [d for d in t.dims if d != "_" and d not in out]
    return out


def make_inputs(arg_types: dict[str, ArgType], plan: Plan, seed: int) -> list[object]:
    """One argument list: each size symbol a size of the plan; dimensions nothing names (`_`) the
    largest, so loops bounded by named sizes stay inside them; int arrays in [0, smallest size)
    so they can index; int scalars the first size, floats in [0.5, 1.5)."""
    symbols = symbols_of(arg_types)
    sizes = {s: plan.sizes[i % len(plan.sizes)] for i, s in enumerate(symbols)}
    sizes["_"] = max(plan.sizes)
    smallest = min((n for n in sizes.values() if n > 0), default=1)
    rng = np.random.default_rng(seed)
    values: list[object] = []
    for at in arg_types.values():
        dtype = np.dtype(at.dtype)
        if at.kind == "array":
            shape = tuple(sizes.get(d, sizes["_"]) for d in (*at.dims, *("_",) * (at.ndim - len(at.dims))))
            if dtype.kind in "iu":
                values.append(rng.integers(0, smallest, shape).astype(dtype))
            elif dtype.kind == "b":
                values.append(rng.random(shape) < 0.5)
            else:
                bounds = (0.5, 2.0) if plan.values == "positive" else (-1.0, 1.0)
                array = rng.uniform(*bounds, shape)
                if plan.values == "special" and array.size:
                    spots = rng.random(shape) < 0.3
                    array[spots] = rng.choice(SPECIALS, int(spots.sum()))
                with np.errstate(over="ignore"):
                    values.append(array.astype(dtype))
        elif at.kind == "int":
            values.append(plan.sizes[0])
        elif at.kind == "float":
            values.append(-0.0 if plan.values == "special" else float(rng.uniform(0.5, 1.5)))
        else:
            values.append(True)
    return values


def input_sets(facts: KernelFacts, source: str, plans: Sequence[Plan] = PLANS) -> Iterator[tuple[str, list]]:
    seed = zlib.crc32(source.encode())
    for i, plan in enumerate(plans):
        yield plan.label, make_inputs(dict(facts.arg_types), plan, seed + i)


# ---- running -------------------------------------------------------------------------------------

# Variants run under CPython; `numba.prange` visits its iterations in reverse, so a parallelised
# loop whose iterations are not independent computes something else here.
SEQUENTIAL_NUMBA = types.SimpleNamespace(prange=lambda *bounds: reversed(range(*bounds)))


def namespace() -> dict[str, object]:
    return {"np": np, "npt": npt, "math": math, "numba": SEQUENTIAL_NUMBA}


def define(source: str, name: str) -> Callable:
    ns = namespace()
    exec(compile(source, f"<fuzz {name}>", "exec"), ns)
    return ns[name]  # type: ignore[return-value]


def define_variant(kernel: Kernel, variant: Variant) -> tuple[str, Callable]:
    source = lower_function("_variant", kernel.params, variant.body)
    return source, define(source, "_variant")


class Raised:
    def __init__(self, exc: BaseException) -> None:
        self.text = f"{type(exc).__name__}: {exc}"


class _Hung(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise _Hung in the main thread after `seconds` (a variant that never returns is a failure)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum, frame):  # type: ignore[no-untyped-def]
        raise _Hung(f"did not return within {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fresh_copy(args: Sequence[object]) -> list[object]:
    """A private copy of `args` that keeps their aliasing: the same object stays one object, and
    views of one C-contiguous array stay views, at the same offsets, of one copy of it."""
    memo: dict[int, object] = {}
    bases: dict[int, np.ndarray] = {}
    out: list[object] = []
    for a in args:
        base = a.base if isinstance(a, np.ndarray) else None
        if isinstance(a, np.ndarray) and isinstance(base, np.ndarray) and base.flags.c_contiguous:
            new = bases.setdefault(id(base), base.copy())
            offset = a.__array_interface__["data"][0] - base.__array_interface__["data"][0]
            out.append(np.ndarray(a.shape, a.dtype, buffer=new, offset=offset, strides=a.strides))
        else:
            out.append(copy.deepcopy(a, memo))
    return out


def call(
    func: Callable, args: Sequence[object], seconds: float = CALL_SECONDS
) -> tuple[object, list[object]]:
    """Result (or Raised) and the arguments after the call, on a private copy (aliases kept)."""
    fresh = fresh_copy(args)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), time_limit(seconds):
            warnings.simplefilter("ignore")
            result: object = func(*fresh)
    except _Hung as exc:
        result = Raised(exc)
    except Exception as exc:
        result = Raised(exc)
    return result, fresh


# ---- comparing ---------------------------------------------------------------------------------------


def scalar_type(value: object) -> str:
    """The NumPy type a scalar behaves as; Python int and float are int64 and float64."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return np.asarray(value).dtype.name


def difference(expected: object, got: object, exact: bool) -> str | None:
    """None when `got` is `expected` under the float policy, else what differs."""
    if isinstance(expected, Raised) or isinstance(got, Raised):
        if isinstance(got, Raised) and not isinstance(expected, Raised):
            return f"raised {got.text}"
        return None if isinstance(got, Raised) else "returned where the original raised"
    if isinstance(expected, (tuple, list)):
        if type(got) is not type(expected) or len(got) != len(expected):
            return f"{_show(got)} instead of {_show(expected)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            if (what := difference(e, g, exact)) is not None:
                return f"[{i}]: {what}"
        return None
    if expected is None or got is None:
        return None if expected is got else f"{_show(got)} instead of {_show(expected)}"
    if isinstance(expected, np.ndarray) != isinstance(got, np.ndarray):
        return f"{_show(got)} instead of {_show(expected)}"
    if not isinstance(expected, np.ndarray) and scalar_type(expected) != scalar_type(got):
        return f"a {scalar_type(got)} ({got!r}) instead of a {scalar_type(expected)} ({expected!r})"
    e, g = np.asarray(expected), np.asarray(got)
    if e.shape != g.shape or e.dtype != g.dtype:
        return f"{_show(got)} instead of {_show(expected)}"
    if e.dtype.kind != "f":
        differs = e != g
    elif exact:
        differs = ~((_bits(e) == _bits(g)) | (np.isnan(e) & np.isnan(g)))
    else:
        differs = _beyond_tolerance(e, g)
    if not np.any(differs):
        return None
    at = tuple(int(x) for x in np.argwhere(differs)[0]) if e.ndim else ()
    return f"{g[at]!r} instead of {e[at]!r} at {list(at)}" if e.ndim else f"{got!r} instead of {expected!r}"


def _bits(x: np.ndarray) -> np.ndarray:
    """The bit patterns of a float array: 0.0 and -0.0 differ, as in strict verification."""
    return np.ascontiguousarray(x).view(f"u{x.itemsize}")


def _beyond_tolerance(e: np.ndarray, g: np.ndarray) -> np.ndarray:
    """NaN and ±inf in the same places; finite values within RTOL of the largest finite value."""
    rtol = RTOL.get(e.dtype.name, 1e-9)
    finite = np.isfinite(e)
    scale = max(1.0, float(np.max(np.abs(e[finite]), initial=0.0)))
    with np.errstate(all="ignore"):
        close = np.abs(e.astype(np.float64) - g.astype(np.float64)) <= rtol * scale
    same_special = (np.isnan(e) & np.isnan(g)) | (~finite & (e == g))
    return ~np.where(finite, close & np.isfinite(g), same_special)


def _show(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    return f"{type(value).__name__} {value!r}"


def sharing(result: object, args: Sequence[object]) -> tuple[tuple[int, ...], ...]:
    """For each array in `result`, the arguments it shares memory with (callers may write to it)."""
    items = result if isinstance(result, tuple) else (result,)
    return tuple(
        tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and np.shares_memory(item, a))
        for item in items
        if isinstance(item, np.ndarray)
    )


def mismatch(
    expected: tuple[object, list[object]],
    got: tuple[object, list[object]],
    params: Sequence[str],
    exact: bool,
) -> str | None:
    """What the call `got` did differently from the call `expected`: return value, arguments after."""
    (want, want_args), (have, have_args) = expected, got
    if (what := difference(want, have, exact)) is not None:
        return f"return value: {what}"
    if isinstance(want, Raised):
        return None
    for name, e, g in zip(params, want_args, have_args, strict=True):
        if (what := difference(e, g, exact)) is not None:
            return f"argument {name} after the call: {what}"
    if sharing(want, want_args) != sharing(have, have_args):
        return f"returned arrays share memory with arguments {sharing(have, have_args)}, not {sharing(want, want_args)}"
    return None


# ---- the property ----------------------------------------------------------------------------------


def lift_or_reject(source: str) -> Kernel:
    try:
        kernel = frontend.lift_function(source, "<fuzz>", KERNEL_NAME)
    except Unsupported:
        STATS["outside the subset"] += 1
        reject()
    return kernel


def check_kernel(
    source: str, family: str = "general", plans: Sequence[Plan] = PLANS, bounds_guarded: bool = False
) -> None:
    """The differential property for one kernel: every variant, every accepted input set, aliasing.

    With `bounds_guarded`, an input on which the dispatcher's bounds guard fails (the emitted code
    sends it to the original) is compared for the unrewritten variant only: rules that rely on the
    guard (`vectorize.unconditional_covered_accesses`) meet only inputs that pass it."""
    note(source)
    if source in SEEN:
        reject()  # different choices, same kernel: count distinct kernels, not draws
    SEEN.add(source)
    original = define(source, KERNEL_NAME)
    kernel = lift_or_reject(source)
    facts = analyze(kernel)
    variants, _ = pipeline.explore(kernel, facts, CONFIG)
    params = [p.name for p in kernel.params]
    conditions = bounds_guard(kernel.body, params, facts).conditions if bounds_guarded else ()
    compiled = [(v, *define_variant(kernel, v)) for v in variants]
    STATS["kernels"] += 1
    STATS[family] += 1
    STATS["variants"] += len(variants)
    STATS.update(f"rule {step}" for v in variants for step in set(v.derivation))

    accepted = 0
    for label, args in input_sets(facts, source, plans):
        expected = call(original, args)
        if isinstance(expected[0], Raised):
            STATS["inputs the original rejects"] += 1
            continue
        accepted += 1
        guard_holds = all(eval(c, {}, dict(zip(params, args, strict=True))) for c in conditions)
        STATS["inputs the bounds guard sends to the original"] += not guard_holds
        for variant, text, func in compiled:
            if variant.derivation and not guard_holds:
                continue
            what = mismatch(expected, call(func, args), params, exact(variant))
            assert what is None, failure(variant, text, label, what)
    STATS["inputs compared"] += accepted
    if accepted:
        STATS["kernels run on some input"] += 1
    check_aliasing(source, facts, kernel, original, compiled, params)


def check_aliasing(
    source: str,
    facts: KernelFacts,
    kernel: Kernel,
    original: Callable,
    compiled: Sequence[tuple[Variant, str, Callable]],
    params: Sequence[str],
) -> None:
    """One array, or overlapping views of one, for two parameters: a variant may differ only where
    the emitted code guards it."""
    guarded = {frozenset(pair) for pair in alias_guard_pairs(facts, kernel.body)}
    arrays = [(i, n) for i, n in enumerate(params) if facts.arg_types[n].kind == "array"]
    for x, (i, p) in enumerate(arrays):
        for j, q in arrays[x + 1 :]:
            tp, tq = facts.arg_types[p], facts.arg_types[q]
            if (tp.dtype, tp.ndim) != (tq.dtype, tq.ndim):
                continue
            for label, args in input_sets(facts, source, ALIAS_PLANS):
                for how, aliased in (("is", same(args, i, j)), ("overlaps", shifted(args, i, j))):
                    if aliased is not None:
                        check_aliased(
                            original,
                            compiled,
                            params,
                            aliased,
                            f"{label}, {q} {how} {p}",
                            frozenset((p, q)) in guarded,
                        )


def same(args: list[object], i: int, j: int) -> list[object]:
    """`args` with argument i passed for argument j too."""
    return [args[i] if k == j else a for k, a in enumerate(args)]


def shifted(args: list[object], i: int, j: int) -> list[object] | None:
    """`args` with arguments i and j views of one array, j one row (element) past i: they overlap
    but are not the same array, the case `is` comparisons miss and `may_share_memory` catches."""
    a = args[i]
    if not isinstance(a, np.ndarray) or a.shape[0] == 0:
        return None
    base = np.concatenate([a, a[-1:]], axis=0)
    out = list(args)
    out[i], out[j] = base[:-1], base[1:]
    return out


def check_aliased(
    original: Callable,
    compiled: Sequence[tuple[Variant, str, Callable]],
    params: Sequence[str],
    args: list[object],
    label: str,
    guarded: bool,
) -> None:
    expected = call(original, args)
    if isinstance(expected[0], Raised):
        return
    STATS["aliased calls compared"] += 1
    for variant, text, func in compiled:
        if variant.derivation and guarded:
            continue  # overlapping arguments go to the original
        what = mismatch(expected, call(func, args), params, exact(variant))
        assert what is None, failure(variant, text, label, what)


def failure(variant: Variant, text: str, label: str, what: str | None) -> str:
    steps = " -> ".join(variant.derivation) or "none (the lowered original)"
    return f"variant [{steps}] on inputs ({label}): {what}\n{text}"


CANONICAL = (  # a float and an int reduction the parallel pass turns into prange reductions
    "import numpy as np\n\n\ndef kernel(a: np.ndarray):\n    n = a.shape[0]\n    acc = 0.0\n"
    "    for i in range(n):\n        acc += a[i] * 0.5\n    return acc\n",
    "import numpy as np\nimport numpy.typing as npt\n\n\ndef kernel(a: npt.NDArray[np.int64]):\n"
    "    n, m = a.shape\n    acc = 0\n    for i in range(n):\n        for j in range(m):\n"
    "            acc += a[i, j] * (i - j)\n    return acc\n",
)


@FUZZ
@given(source=kernels())
@example(source=CANONICAL[0])
@example(source=CANONICAL[1])
def test_every_variant_computes_what_the_original_computes(source: str) -> None:
    check_kernel(source)


CANONICAL_BLAS = (  # each idiom rule's plainest match, so every run sees each rule fire
    "import numpy as np\n\n\ndef kernel(A: np.ndarray, B: np.ndarray):\n    n, m = A.shape\n"
    "    p = B.shape[1]\n    C = np.zeros((n, p))\n    for i in range(n):\n        for j in range(p):\n"
    "            for k in range(m):\n                C[i, j] += A[i, k] * B[k, j]\n    return C\n",
    "import numpy as np\n\n\ndef kernel(A: np.ndarray, B: np.ndarray):\n    n, m = A.shape\n"
    "    C = np.zeros(n)\n    for k in range(m):\n        for i in range(n):\n"
    "            C[i] += A[i, k] * B[k]\n    return C\n",
    "import numpy as np\n\n\ndef kernel(A: np.ndarray, B: np.ndarray):\n    n = A.shape[0]\n"
    "    C = 0.0\n    for k in range(n):\n        C += A[k] * B[k]\n    return C\n",
)


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG_CASES // 4 or BLAS_QUICK_CASES)
@given(source=blas_kernels())
@example(source=CANONICAL_BLAS[0])
@example(source=CANONICAL_BLAS[1])
@example(source=CANONICAL_BLAS[2])
def test_blas_shaped_nests_compute_what_the_original_computes(source: str) -> None:
    """Multiply-accumulate nests that the idiom rules rewrite to `@`, and their near misses."""
    check_kernel(source, family="blas")


CANONICAL_ADJACENT = (  # two loops that fuse, then a 3-deep nest whose middle loop unrolls and jams
    "import numpy as np\n\n\ndef kernel(a: np.ndarray, b: np.ndarray):\n    n = a.shape[0]\n"
    "    t = np.zeros_like(a)\n    for i in range(n):\n        t[i] = a[i] * 2.0\n"
    "    for i in range(n):\n        b[i] += t[i] * 0.5\n    return b\n",
    "import numpy as np\n\n\ndef kernel(A: np.ndarray, B: np.ndarray, C: np.ndarray):\n"
    "    n = A.shape[0]\n    for i in range(n):\n        for k in range(n):\n"
    "            for j in range(n):\n                C[i, j] += A[i, k] * B[k, j]\n    return C\n",
)


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG_CASES // 8 or SHAPES_QUICK_CASES)
@given(source=adjacent_loop_kernels())
@example(source=CANONICAL_ADJACENT[0])
def test_adjacent_loops_compute_what_the_original_computes(source: str) -> None:
    """Top-level loops side by side over one range (fusion) and their near misses."""
    check_kernel(source, family="adjacent")


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG_CASES // 8 or SHAPES_QUICK_CASES)
@given(source=nest3_kernels())
@example(source=CANONICAL_ADJACENT[1])
def test_3_deep_nests_compute_what_the_original_computes(source: str) -> None:
    """gemm-like 3-deep nests in every loop order (interchange, unroll-and-jam of the middle loop)."""
    check_kernel(source, family="nest3")


CANONICAL_GRAM = (  # a triangular rank-k update and a covariance-shaped nest, the rule's plainest
    "import numpy as np\n\n\ndef kernel(X: np.ndarray):\n    n, k = X.shape\n    G = np.zeros((n, n))\n"
    "    for i in range(n):\n        for j in range(i + 1):\n            s = 0.0\n"
    "            for p in range(k):\n                s += X[i, p] * X[j, p]\n            G[i, j] = s\n"
    "    return G\n",
    "import numpy as np\n\n\ndef kernel(X: np.ndarray):\n    k, n = X.shape\n    G = np.zeros((n, n))\n"
    "    for i in range(n):\n        G[i, i] = 1.0\n        for j in range(i + 1, n):\n            s = 0.0\n"
    "            for p in range(k):\n                s += X[p, i] * X[p, j]\n            G[i, j] = s / 2.0\n"
    "            G[j, i] = G[i, j]\n    return G\n",
    # refused: j may pass Y's rows, and only the dot under the `if` reads Y[j]: with k = 0 nothing
    # does, but a lookup G[i, j] of X @ Y.T would
    "import numpy as np\n\n\ndef kernel(X: np.ndarray, Y: np.ndarray):\n    n, k = X.shape\n    m = Y.shape[0]\n"
    "    G = np.zeros((n, m))\n    for i in range(n):\n        for j in range(i + 1):\n            if i != j:\n"
    "                s = 0.0\n                for p in range(k):\n                    s += X[i, p] * Y[j, p]\n"
    "                G[i, 0] += s\n    return G\n",
)


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG_CASES // 8 or GRAM_QUICK_CASES)
@given(source=gram_kernels())
@example(source=CANONICAL_GRAM[0])
@example(source=CANONICAL_GRAM[1])
@example(source=CANONICAL_GRAM[2])
def test_gram_shaped_nests_compute_what_the_original_computes(source: str) -> None:
    """Whole contractions inside triangular and other nests (idioms.gram), and their near misses,
    also on an empty contraction with rows left (k = 0) where the original reads no element."""
    check_kernel(source, family="gram", plans=GRAM_PLANS, bounds_guarded=True)


def test_the_fuzzer_reaches_the_rewrites() -> None:
    """A fuzzer that never triggers a rewrite tests nothing: the run above must have checked most
    kernels on real inputs and seen the loop, parallel and algebra rules produce variants."""
    if not STATS["kernels"]:
        pytest.skip("the property test did not run in this session")
    expected_rules: set[str] = set()
    if STATS["general"]:
        expected_rules |= {
            "loops.interchange",
            "loops.licm",
            "loops.scalar-replace",
            "parallel.prange",
            "parallel.prange-reduction",
            "algebra.square-float",
            "algebra.div-pow2",
        }
    if STATS["blas"]:
        expected_rules |= {"idioms.matmul", "idioms.matvec", "idioms.dot"}
    if STATS["adjacent"]:
        expected_rules |= {"loops.fuse"}
    if STATS["nest3"]:
        expected_rules |= {"loops.unroll-jam"}
    if STATS["gram"]:
        expected_rules |= {"idioms.gram"}
    seen = {key.removeprefix("rule ") for key in STATS if key.startswith("rule ")}
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items()))
    print(f"\nfuzz statistics: {summary}", file=sys.stderr)
    assert expected_rules <= seen, f"never produced: {sorted(expected_rules - seen)}; {summary}"
    assert STATS["kernels run on some input"] >= 0.8 * STATS["kernels"], summary
    if STATS["general"]:
        assert STATS["general"] >= 0.9 * (LONG_CASES or QUICK_CASES), summary
    if STATS["blas"]:
        assert STATS["blas"] >= 0.9 * (LONG_CASES // 4 or BLAS_QUICK_CASES), summary


# ---- end to end ---------------------------------------------------------------------------------------


def import_module(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@E2E
@given(source=kernels())
def test_emitted_module_computes_what_the_original_computes(source: str) -> None:
    """optimize_source with numba and the verification subprocess; the emitted module, imported,
    against the original run by CPython (special values left out: verification does not try them)."""
    kernel = lift_or_reject(source)
    facts = analyze(kernel)
    variants, _ = pipeline.explore(kernel, facts, CONFIG)
    assume(any(v.derivation for v in variants))  # only kernels optc can rewrite are worth seconds
    original = define(source, KERNEL_NAME)
    with tempfile.TemporaryDirectory(prefix="optc-fuzz-") as tmp:
        path = Path(tmp) / f"fuzz_e2e_{zlib.crc32(source.encode()):08x}.py"
        path.write_text(source)
        result = pipeline.optimize_source(source, str(path), E2E_CONFIG)
        note(result.output)
        (outcome,) = result.kernels
        assert not isinstance(outcome, pipeline.Failed), outcome.reason
        path.write_text(result.output)
        module = import_module(path)
        policy_exact = not isinstance(outcome, pipeline.Emitted) or exact(outcome.candidate.variant)
        params = [p.name for p in kernel.params]
        plans = [p for p in PLANS if p.values != "special"]
        for label, args in input_sets(facts, source, plans):
            expected = call(original, args)
            if isinstance(expected[0], Raised):
                continue
            got = call(module.kernel, args, COMPILING_CALL_SECONDS)
            what = mismatch(expected, got, params, policy_exact)
            assert what is None, f"emitted module on inputs ({label}): {what}\n{result.output}"
