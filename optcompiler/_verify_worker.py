"""The subprocess side of `optcompiler.verify`: build inputs, run the original, check candidates.

It runs in its own process because a candidate may segfault or never return; the parent
watches it and restarts it after the candidate that killed it. It imports only numpy, numba and
the standard library, so starting one stays cheap.

Protocol: `main([SPEC, START])`, run through `python -c` or `-m optcompiler._verify_worker`. SPEC
is a pickle written by the parent; START the index of the first candidate to check. The worker writes one line per event to
its original stdout, each `@@optc@@ {json}` and flushed: `ready` (reference computed),
`reference_failed`, `original` (the CPython original's time, when asked, and Numba's one-time
compiler start), `start` (candidate i begins) and `done` (its verdict, with its compile time).
Anything user code prints to stdout is sent to stderr instead, so it cannot corrupt the protocol.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import faulthandler
import importlib.util
import json
import math
import os
import pickle
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any

import numpy as np

PROTOCOL_PREFIX = "@@optc@@ "
ANON_DIM = "_"  # analysis' symbol for a dimension nothing names (kept in sync with optcompiler.analysis)

# Sizes per symbol for the two cases where every symbol differs: small, distinct, and varied in
# order so that a swapped loop bound or transposed index cannot pass by coincidence.
DISTINCT_SIZES = ((5, 7, 3, 6, 4, 8, 2, 9, 10, 11, 12, 13), (6, 3, 8, 5, 7, 4, 9, 2, 11, 10, 13, 12))
EQUAL_SIZES = (1, 4, 9, 16, 0)  # 0: empty loops and empty arrays
SIGNED = (-1.0, 1.0)  # float array values: exercises signs and cancellation
POSITIVE = (0.5, 2.0)  # float array values where sqrt, log and division have valid inputs
OTHER_INT = 3  # value of an int parameter that is not a size symbol


# ---- specs and cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArgSpec:
    """An `ir.ArgType` as plain data, so the worker need not import the compiler (and libcst)."""

    name: str
    kind: str  # "array" | "float" | "int" | "bool"
    dtype: str
    ndim: int
    dims: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One input set. `layouts` says how each array is laid out in memory when it is handed over:
    "C", "F" (Fortran order) or "S" (a strided view), so non-contiguous cases stay non-contiguous
    through every fresh copy."""

    label: str
    values: tuple[object, ...]
    layouts: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    strict: bool
    rtol64: float
    rtol32: float


def dims_of(spec: ArgSpec) -> tuple[str, ...]:
    """The size symbol of every dimension; missing ones are the anonymous symbol."""
    dims = tuple(d or ANON_DIM for d in spec.dims[: spec.ndim])
    return dims + (ANON_DIM,) * (spec.ndim - len(dims))


def size_symbols(specs: Sequence[ArgSpec]) -> tuple[str, ...]:
    """Size symbols in order of first appearance. A kernel without arrays has no shapes to vary,
    so its int parameters are its sizes (loop bounds, mostly), or they would be 3 in every case."""
    symbols: list[str] = []
    for spec in specs:
        if spec.kind == "array":
            symbols.extend(d for d in dims_of(spec) if d not in symbols)
    if not any(s.kind == "array" for s in specs):
        symbols = [s.name for s in specs if s.kind == "int"]
    return tuple(symbols)


def generate_cases(specs: Sequence[ArgSpec]) -> list[Case]:
    """The generated input sets, deterministic: distinct sizes, equal sizes, zero, non-contiguous."""
    symbols = size_symbols(specs)
    plans: list[tuple[dict[str, int], tuple[float, float]]] = [
        ({s: sizes[i % len(sizes)] for i, s in enumerate(symbols)}, bounds)
        for sizes, bounds in zip(DISTINCT_SIZES, (SIGNED, POSITIVE), strict=True)
    ]
    plans += [
        ({s: size for s in symbols}, SIGNED if i % 2 == 0 else POSITIVE) for i, size in enumerate(EQUAL_SIZES)
    ]
    cases = [_make_case(specs, sizes, bounds, seed) for seed, (sizes, bounds) in enumerate(plans, start=1)]
    if any(s.kind == "array" and s.ndim >= 1 for s in specs):
        cases += [_non_contiguous(specs, case) for case in cases[:2]]
    if any(_square_float(s) for s in specs):
        # Factorizations and solvers (Cholesky, LU without pivoting) reject most random matrices:
        # the same sizes again with every square float matrix symmetric positive definite.
        cases += [
            _make_case(specs, sizes, SIGNED, seed, spd=True)
            for seed, (sizes, _) in enumerate([*plans[:2], plans[3], plans[5]], start=len(plans) + 1)
        ]
    return cases


def _square_float(spec: ArgSpec) -> bool:
    dims = dims_of(spec)
    return spec.kind == "array" and spec.ndim == 2 and dims[0] == dims[1] and np.dtype(spec.dtype).kind == "f"


def _label(sizes: dict[str, int], bounds: tuple[float, float], seed: int, spd: bool = False) -> str:
    text = ",".join(f"{s}={n}" for s, n in sizes.items()) or f"seed {seed}"
    if spd:
        return f"{text}, square matrices symmetric positive definite"
    return text if bounds == SIGNED else f"{text}, values in [{bounds[0]:g}, {bounds[1]:g})"


def _make_case(
    specs: Sequence[ArgSpec],
    sizes: dict[str, int],
    bounds: tuple[float, float],
    seed: int,
    spd: bool = False,
) -> Case:
    smallest = min((n for n in sizes.values() if n > 0), default=OTHER_INT)
    values: list[object] = []
    for index, spec in enumerate(specs):
        # One generator per argument: an argument's values do not depend on the ones before it.
        rng = np.random.default_rng([seed, index])
        dtype = np.dtype(spec.dtype)
        if spec.kind == "array":
            shape = tuple(sizes[d] for d in dims_of(spec))
            array = _random_array(rng, dtype, shape, bounds, smallest)
            if spd and _square_float(spec):  # B Bᵀ / n + I: symmetric, eigenvalues ≥ 1
                array = (array @ array.T / max(shape[0], 1) + np.eye(shape[0])).astype(dtype)
            values.append(array)
        elif spec.kind == "int":
            n = sizes.get(spec.name, OTHER_INT)
            values.append(n if dtype == np.int64 else dtype.type(n))
        elif spec.kind == "float":
            x = float(rng.uniform(0.5, 1.5))
            values.append(x if dtype == np.float64 else dtype.type(x))
        else:
            values.append(True)
    return Case(_label(sizes, bounds, seed, spd), tuple(values), ("C",) * len(values))


def _random_array(
    rng: np.random.Generator,
    dtype: np.dtype,
    shape: tuple[int, ...],
    bounds: tuple[float, float],
    smallest: int,
) -> np.ndarray:
    if dtype.kind == "f":
        return rng.uniform(*bounds, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.uniform(*bounds, shape) + 1j * rng.uniform(*bounds, shape)).astype(dtype)
    if dtype.kind in "iu":
        # Non-negative and below every dimension, so int arrays can serve as indices (CSR kernels).
        return rng.integers(0, smallest, shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    raise ValueError(f"cannot generate arrays of dtype {dtype}")


def _non_contiguous(specs: Sequence[ArgSpec], case: Case) -> Case:
    layouts = tuple(
        ("F" if s.ndim >= 2 else "S") if s.kind == "array" and s.ndim >= 1 else "C" for s in specs
    )
    return Case(f"{case.label}, non-contiguous", case.values, layouts)


def example_case(index: int, specs: Sequence[ArgSpec], example: dict[str, object]) -> Case:
    values = tuple(example[s.name] for s in specs)
    return Case(f"example {index}", values, tuple(layout_of(v) for v in values))


def layout_of(value: object) -> str:
    if not isinstance(value, np.ndarray) or value.flags.c_contiguous:
        return "C"
    return "F" if value.flags.f_contiguous else "S"


def fresh_inputs(case: Case) -> list[object]:
    """A private deep copy of a case's values, each array in its case's layout. An object passed
    twice stays one object, so aliased arguments stay aliased."""
    memo: dict[int, object] = {}
    out: list[object] = []
    for value, layout in zip(case.values, case.layouts, strict=True):
        if id(value) not in memo:
            memo[id(value)] = _copy_in_layout(value, layout)
        out.append(memo[id(value)])
    return out


def _copy_in_layout(value: object, layout: str) -> object:
    if not isinstance(value, np.ndarray):
        return copy.deepcopy(value)
    if layout == "F":
        return np.array(value, order="F", copy=True)
    if layout == "S" and value.ndim >= 1:
        # Every other element of a buffer twice as long in the last dimension.
        buffer = np.zeros((*value.shape[:-1], 2 * value.shape[-1]), dtype=value.dtype)
        view = buffer[..., ::2]
        view[...] = value
        return view
    return np.array(value, order="C", copy=True)


# ---- comparison ----------------------------------------------------------------------------------------


def compare(expected: object, got: object, policy: Policy) -> tuple[str, str] | None:
    """None when `got` matches `expected` under the policy, else (path suffix, what differs)."""
    if isinstance(expected, (tuple, list)):
        want = "tuple" if isinstance(expected, tuple) else "list"
        if not (isinstance(got, tuple) if want == "tuple" else _is_list(got)):
            return "", f"expected a {want}, got {_type_name(got)}"
        if len(got) != len(expected):
            return "", f"expected a {want} of length {len(expected)}, got length {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            if (diff := compare(e, g, policy)) is not None:
                return f"[{i}]{diff[0]}", diff[1]
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return "", f"expected a dict with keys {sorted(map(repr, expected))}, got {_type_name(got)}"
        for key in expected:
            if (diff := compare(expected[key], got[key], policy)) is not None:
                return f"[{key!r}]{diff[0]}", diff[1]
        return None
    if isinstance(expected, np.ndarray):
        what = _compare_arrays(expected, got, policy)
        return None if what is None else ("", what)
    if expected is None or got is None:
        return None if expected is got else ("", f"expected {_show(expected)}, got {_type_name(got)}")
    if _is_scalar(expected):
        what = _compare_scalars(expected, got, policy)
        return None if what is None else ("", what)
    try:
        same = type(got) is type(expected) and bool(expected == got)
    except Exception as exc:  # an object whose == raises cannot be shown equal
        return "", f"cannot compare {_type_name(expected)} values: {type(exc).__name__}"
    return None if same else ("", f"expected {_show(expected)}, got {_show(got)}")


def _is_list(value: object) -> bool:
    # Numba returns reflected lists as `list` and typed lists as numba.typed.List.
    t = type(value)
    return isinstance(value, list) or (t.__name__ == "List" and t.__module__.startswith("numba"))


def _type_name(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return type(value).__name__


def _is_scalar(value: object) -> bool:
    return isinstance(value, (bool, int, float, complex, np.bool_, np.number))


def _compare_arrays(expected: np.ndarray, got: object, policy: Policy) -> str | None:
    if not isinstance(got, np.ndarray):
        return (
            f"expected an array of shape {expected.shape} and dtype {expected.dtype}, got {_type_name(got)}"
        )
    if got.shape != expected.shape:
        return f"shape {got.shape} instead of {expected.shape}"
    # The exact dtype, not only its kind: float32 where float64 was computed loses precision, and
    # int32 where int64 was computed overflows sooner and promotes differently downstream.
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype} instead of {expected.dtype}"
    kind = expected.dtype.kind
    if kind == "c":
        return _compare_floats(expected.real, got.real, policy, "real part ") or _compare_floats(
            expected.imag, got.imag, policy, "imaginary part "
        )
    if kind == "f":
        return _compare_floats(expected, got, policy, "")
    if kind in "iub":
        differs = expected != got
    else:  # objects, strings, datetimes: element by element, exactly
        same = [_same_object(a, b) for a, b in zip(expected.flat, got.flat, strict=True)]
        differs = ~np.array(same, dtype=bool).reshape(expected.shape)
    if not differs.any():
        return None
    at = _first(differs)
    return f"{_show(got[at])} instead of {_show(expected[at])} at {_index(at)} ({int(differs.sum())} of {differs.size} elements differ)"


def _same_object(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _compare_floats(expected: np.ndarray, got: np.ndarray, policy: Policy, part: str) -> str | None:
    """NaN where NaN, ±inf where ±inf, finite values within the norm-wise tolerance (or, strict,
    identical bits apart from NaN payloads: NaN == NaN, but 0.0 != -0.0)."""
    e_nan, g_nan = np.isnan(expected), np.isnan(got)
    if (e_nan != g_nan).any():
        at = _first(e_nan != g_nan)
        return (
            f"{part}NaN in one result only: {_show(got[at])} instead of {_show(expected[at])} at {_index(at)}"
        )
    if policy.strict:
        same = e_nan | ((expected == got) & (np.signbit(expected) == np.signbit(got)))
        if same.all():
            return None
        at = _first(~same)
        count = int((~same).sum())
        return f"{part}not bit-identical: {_show(got[at])} instead of {_show(expected[at])} at {_index(at)} ({count} of {same.size} elements differ)"
    infinite = np.isinf(expected) | np.isinf(got)
    bad_inf = infinite & (expected != got)
    if bad_inf.any():
        at = _first(bad_inf)
        return f"{part}{_show(got[at])} instead of {_show(expected[at])} at {_index(at)}"
    finite = ~(e_nan | infinite)
    if not finite.any():
        return None
    rtol = policy.rtol64 if expected.dtype.itemsize >= 8 else policy.rtol32
    wide = np.longdouble if expected.dtype == np.longdouble else np.float64
    e = np.where(finite, expected, 0).astype(wide)
    g = np.where(finite, got, 0).astype(wide)
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.abs(g - e)
    scale = max(1.0, float(np.max(np.abs(e))))
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    rel = float(err[worst]) / scale
    if rel <= rtol:
        return None
    return (
        f"{part}max rel err {rel:.1e} at {_index(worst)} "
        f"({_show(got[worst])} instead of {_show(expected[worst])}; tolerance {rtol:g})"
    )


def _compare_scalars(expected: object, got: object, policy: Policy) -> str | None:
    if not _is_scalar(got):
        return f"expected a scalar {_show(expected)}, got {_type_name(got)}"
    e_bool = isinstance(expected, (bool, np.bool_))
    if e_bool or isinstance(got, (bool, np.bool_)):
        # True == 1 in Python, but a bool and an int print, format and promote differently.
        same = e_bool and isinstance(got, (bool, np.bool_)) and bool(expected) == bool(got)
        return None if same else f"{_show(got)} instead of {_show(expected)}"
    if isinstance(expected, (int, np.integer)) and isinstance(got, (int, np.integer)):
        return None if int(expected) == int(got) else f"{_show(got)} instead of {_show(expected)}"
    if isinstance(expected, (complex, np.complexfloating)) or isinstance(got, (complex, np.complexfloating)):
        e, g = complex(expected), complex(got)
        pairs = [("real part ", e.real, g.real), ("imaginary part ", e.imag, g.imag)]
    else:
        pairs = [("", float(expected), float(got))]
    # An int and an equal float are the same number; float32 results get the float32 tolerance.
    narrow = isinstance(expected, (np.float32, np.float16, np.complex64))
    rtol = policy.rtol32 if narrow else policy.rtol64
    for part, e_val, g_val in pairs:
        if math.isnan(e_val) or math.isnan(g_val):
            if not (math.isnan(e_val) and math.isnan(g_val)):
                return f"{part}{_show(got)} instead of {_show(expected)}"
        elif policy.strict:
            if e_val != g_val or math.copysign(1.0, e_val) != math.copysign(1.0, g_val):
                return f"{part}not bit-identical: {_show(got)} instead of {_show(expected)}"
        elif math.isinf(e_val) or math.isinf(g_val):
            if e_val != g_val:
                return f"{part}{_show(got)} instead of {_show(expected)}"
        elif abs(e_val - g_val) > rtol * max(1.0, abs(e_val)):
            rel = abs(e_val - g_val) / max(1.0, abs(e_val))
            return f"{part}rel err {rel:.1e}: {_show(got)} instead of {_show(expected)} (tolerance {rtol:g})"
    return None


def _show(value: object) -> str:
    """A value for a reason line: 0.5, not np.float64(0.5)."""
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _index(at: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in at) + "]"


def aliases(result: object, inputs: Sequence[object]) -> dict[str, frozenset[int]]:
    """For each array in a result (by path), the arguments whose memory it shares. A result that
    is an argument (or a view of one) in the original must be one in the candidate, and not
    otherwise: callers that write to the result would see the difference."""
    found: dict[str, frozenset[int]] = {}

    def visit(value: object, path: str) -> None:
        if isinstance(value, np.ndarray):
            found[path] = frozenset(
                i
                for i, arg in enumerate(inputs)
                if isinstance(arg, np.ndarray) and np.may_share_memory(value, arg)
            )
        elif isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                visit(item, f"{path}[{i}]")

    visit(result, "")
    return found


# ---- running -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the original did on one case: its result, the arguments after the call, aliasing."""

    case: Case
    result: object
    after: tuple[object, ...]
    aliases: dict[str, frozenset[int]]


@dataclass(frozen=True)
class Reference:
    accepted: tuple[Expected, ...]
    skipped: tuple[tuple[str, str], ...]  # (case label, first line of what the original raised)
    # cases on which the original raised an arithmetic or domain error (`MUST_RAISE`), with the
    # error's class name: a candidate must raise there too, not compute a value
    rejected: tuple[tuple[Case, str], ...] = ()


# What the original raises on inputs it rejects as values (a negative square root, a division by a
# Python zero, an overflow): a compiled candidate that returns a value there changes the program.
# IndexError is left to the dispatcher's bounds guard, which sends such shapes to the original;
# type errors cannot arise on generated inputs of the verified types.
MUST_RAISE = (ArithmeticError, ValueError)


def _builtin_error(exc: BaseException) -> str:
    """The name of `exc`'s nearest builtin class (np.linalg.LinAlgError and a user's own
    `class BadInput(ValueError)` give ValueError): what a candidate must raise there, by a name
    `builtins` resolves in any worker, where the original's own class may not be importable."""
    return next(c.__name__ for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)


class _OriginalTimeout(BaseException):
    """Raised by the alarm in the original; a BaseException so `except Exception` cannot swallow it."""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NUMBA_LOCATION = re.compile(r'File "[^"]*", line (\d+)')


def first_line(exc: BaseException, def_line: int = 0) -> str:
    """`Type: message`, the message's most telling line: numba's first line only names the stage.
    `def_line` is where the function starts in its module file, after the prelude."""
    text = _ANSI.sub("", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if _is_numba_error(exc):
        lines = [line for line in lines if not line.startswith("Failed in ")] or lines
        if len(lines) > 1 and lines[0].endswith(":"):  # "... found for signature:" then the signature
            lines[0] = f"{lines[0]} {lines[1].lstrip('> ')}"
        if (where := _NUMBA_LOCATION.search(text)) is not None and lines:
            lines[0] = f"{lines[0]} ({_where(int(where.group(1)), def_line)})"
    line = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _where(line: int, def_line: int) -> str:
    if def_line and line >= def_line:
        return f"line {line - def_line + 1} of the function"
    return f"line {line} of the prelude" if def_line else f"line {line}"


def _is_numba_error(exc: BaseException) -> bool:
    numba_errors = sys.modules.get("numba.core.errors")
    return numba_errors is not None and isinstance(exc, numba_errors.NumbaError)


def load_function(path: str, module_name: str, name: str, *, plain: bool = False) -> Callable[..., object]:
    """Import a module file and return its function `name`. `plain` imports it with numba's jit
    disabled, so the original (and its jitted helpers) run as the CPython they were written as."""
    numba_config = _numba_config()
    saved = numba_config.DISABLE_JIT if numba_config is not None else None
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # numba's cache pickles functions by module name
    try:
        if plain and numba_config is not None:
            numba_config.DISABLE_JIT = True
        spec.loader.exec_module(module)
    finally:
        if numba_config is not None:
            numba_config.DISABLE_JIT = saved
    func = getattr(module, name, None)
    if func is None:
        raise NameError(f"the module defines no {name!r}")
    if plain and hasattr(func, "py_func"):  # jitted by a decorator numba's switch does not cover
        func = func.py_func
    if not callable(func):
        raise TypeError(f"{name!r} is a {type(func).__name__}, not a function")
    return func


def _numba_config() -> ModuleType | None:
    try:
        import numba  # optional, and costly: imported only when a worker starts
    except ImportError:
        return None
    return numba.config


def compute_reference(spec: dict[str, Any]) -> Reference | str:
    """Run the original on every case; the cases it rejects (raises, or runs past its share of the
    timeout on) are skipped. A string is the reason nothing can be verified."""
    try:
        original = load_function(spec["original_path"], "_optc_original", spec["original_name"], plain=True)
    except BaseException as exc:
        return f"could not load the original: {first_line(exc)}"
    specs: list[ArgSpec] = spec["args"]
    examples: list[dict[str, object]] = spec["examples"]
    cases = generate_cases(specs) + [example_case(i, specs, e) for i, e in enumerate(examples, start=1)]
    per_case = float(spec["timeout"]) / (len(cases) + 1)

    def alarm(signum: int, frame: object) -> None:
        raise _OriginalTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    accepted: list[Expected] = []
    skipped: list[tuple[str, str]] = []
    rejected: list[tuple[Case, str]] = []
    try:
        for case in cases:
            inputs = fresh_inputs(case)
            signal.setitimer(signal.ITIMER_REAL, per_case)
            try:
                result = original(*inputs)
            except _OriginalTimeout:
                skipped.append((case.label, f"timed out after {per_case:.2g}s"))
                continue
            except Exception as exc:
                skipped.append((case.label, first_line(exc)))
                if isinstance(exc, MUST_RAISE):
                    rejected.append((case, _builtin_error(exc)))
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            accepted.append(Expected(case, result, tuple(inputs), aliases(result, inputs)))
    finally:
        signal.signal(signal.SIGALRM, previous)
    if len(accepted) < 2:
        label, error = skipped[0]
        return f"could not generate inputs the original accepts: {error} (case '{label}')"
    return Reference(tuple(accepted), tuple(skipped), tuple(rejected))


def check_candidate(
    candidate: dict[str, Any],
    reference: Reference,
    arg_names: Sequence[str],
    policy: Policy,
    original: Callable[..., object] | None = None,
) -> tuple[bool, str, int, float | None]:
    """(passed, one-line reason, input sets compared, compile seconds) for one candidate.

    The compile time is the import plus the first call, on the first (small, C-contiguous) case:
    Numba compiles there, for the signature a program most often calls with; other layouts of
    later cases compile again, which a program with one layout never pays.

    A candidate entry's `retry_original` names errors on which the emitted dispatcher runs the
    original instead (`emit.dispatcher_body`); the check does the same, with `original`."""
    began = time.perf_counter()
    compiled: float | None = None
    try:
        func = load_function(candidate["path"], candidate["module"], candidate["name"])
    except BaseException as exc:
        prefix = "numba compile error" if _is_numba_error(exc) else "could not load the candidate"
        return False, f"{prefix}: {first_line(exc, candidate['def_line'])}", 0, None
    retry = tuple(getattr(builtins, n) for n in candidate.get("retry_original", ()))
    if retry and original is not None:
        func = _retrying(func, original, retry)
    for compared, expected in enumerate(reference.accepted, start=1):
        case = expected.case
        inputs = fresh_inputs(case)
        try:
            result = func(*inputs)
        except BaseException as exc:
            if _is_numba_error(exc):
                return (
                    False,
                    f"numba compile error: {first_line(exc, candidate['def_line'])}",
                    compared,
                    None,
                )
            return False, f"raised on case '{case.label}': {first_line(exc)}", compared, None
        if compiled is None:
            compiled = time.perf_counter() - began
        if (diff := compare(expected.result, result, policy)) is not None:
            return (
                False,
                f"return value{diff[0]} differs on case '{case.label}': {diff[1]}",
                compared,
                None,
            )
        for name, want, have in zip(arg_names, expected.after, inputs, strict=True):
            if (diff := compare(want, have, policy)) is not None:
                return (
                    False,
                    f"argument {name}{diff[0]} differs after the call on case '{case.label}': {diff[1]}",
                    compared,
                    None,
                )
        got_aliases = aliases(result, inputs)
        for path, want in expected.aliases.items():
            if (have := got_aliases.get(path, frozenset())) != want:
                words = _alias_words(want, have, arg_names)
                return False, f"return value{path} {words} on case '{case.label}'", compared, None
    for case, error in reference.rejected:
        try:
            func(*fresh_inputs(case))
        except getattr(builtins, error):
            continue
        except BaseException as exc:
            if _is_numba_error(exc):
                reason = f"numba compile error: {first_line(exc, candidate['def_line'])}"
            else:
                reason = f"raised {first_line(exc)} on case '{case.label}', where the original raises {error}"
        else:
            reason = f"returned a value on case '{case.label}', where the original raises {error}"
        return False, reason, len(reference.accepted), None
    return True, pass_reason(reference), len(reference.accepted), compiled


def _retrying(
    func: Callable[..., object], original: Callable[..., object], errors: tuple[type[BaseException], ...]
) -> Callable[..., object]:
    """`func`, but on one of `errors` the original runs on the same arguments, as the dispatcher
    does (only ever for kernels that write no argument, so the arguments are as they came)."""

    def call(*args: object) -> object:
        try:
            return func(*args)
        except errors:
            pass
        return original(*args)

    return call


def measure_candidate(
    candidate: dict[str, str], specs: Sequence[ArgSpec], sizes: dict[str, int], repeats: int
) -> float | None:
    """Minimum wall time of `repeats` calls on one input set of the given sizes (already compiled
    by the check before it); a fresh copy of the inputs for every call, outside the timing."""
    func = load_function(candidate["path"], candidate["module"], candidate["name"])
    symbols = size_symbols(specs)
    case = _make_case(specs, {s: sizes.get(s, sizes.get(ANON_DIM, 64)) for s in symbols}, POSITIVE, seed=99)
    best = math.inf
    try:
        func(*fresh_inputs(case))  # warm: compile for this layout, touch the code
        for _ in range(repeats):
            inputs = fresh_inputs(case)
            began = time.perf_counter()
            func(*inputs)
            best = min(best, time.perf_counter() - began)
    except Exception:
        return None
    return best


# The CPython original is timed at sizes the parent picked for a short call; a call past this is cut
# off and this counts as its time (a lower bound: the original is at least that slow).
ORIGINAL_LIMIT = 10.0
ORIGINAL_BUDGET = 1.0  # seconds of repeated calls of the original, after the first


def measure_original(spec: dict[str, Any], sizes: dict[str, int]) -> float | None:
    """Minimum wall time of the original under CPython (numba's jit off, as verification runs it)
    on one input set of the given sizes, the values `measure_candidate` uses; None if it raises."""
    try:
        func = load_function(spec["original_path"], "_optc_original_timed", spec["original_name"], plain=True)
    except BaseException:
        return None
    specs: list[ArgSpec] = spec["args"]
    symbols = size_symbols(specs)
    case = _make_case(specs, {s: sizes.get(s, sizes.get(ANON_DIM, 64)) for s in symbols}, POSITIVE, seed=99)

    def alarm(signum: int, frame: object) -> None:
        raise _OriginalTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    best = math.inf
    spent = 0.0
    try:
        for _ in range(3):
            inputs = fresh_inputs(case)
            began = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, ORIGINAL_LIMIT)
            try:
                func(*inputs)
            except _OriginalTimeout:
                return ORIGINAL_LIMIT
            except Exception:
                return None
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            took = time.perf_counter() - began
            best, spent = min(best, took), spent + took
            if spent > ORIGINAL_BUDGET:
                break
    finally:
        signal.signal(signal.SIGALRM, previous)
    return best


def _warm_numba() -> float | None:
    """Compile a trivial function, so the first candidate's compile time is its own, not Numba's
    one-time start (LLVM, the typing registry), which every process pays once whatever it compiles;
    that start's seconds, which the parent weighs too (a program's first compile pays it)."""
    began = time.perf_counter()
    try:
        import numba

        numba.njit(lambda x: x + 1)(1)
    except Exception:
        return None
    return time.perf_counter() - began


def _alias_words(want: frozenset[int], have: frozenset[int], names: Sequence[str]) -> str:
    def listed(ix: frozenset[int]) -> str:
        return ", ".join(names[i] for i in sorted(ix)) or "no argument"

    return f"shares memory with {listed(have)} where the original's shares memory with {listed(want)}"


def guard_rejects(spec: dict[str, Any], reference: Reference) -> str:
    """The first accepted case the dispatcher's shape guard (`spec["guard"]`, conditions on the
    arguments) would send to the original, as "case 'label': condition"; "" when it takes them all.

    The original ran on every accepted case without an IndexError, so a guard that refuses one is
    stricter than it needs to be: every such call would run as CPython."""
    conditions: list[str] = spec.get("guard") or []
    for expected in reference.accepted:
        names = dict(zip(spec["arg_names"], fresh_inputs(expected.case), strict=True))
        for condition in conditions:
            try:
                holds = bool(eval(condition, {"__builtins__": {}, "np": np, "numpy": np}, names))
            except Exception:
                holds = False
            if not holds:
                return f"case '{expected.case.label}': {condition}"
    return ""


def pass_reason(reference: Reference) -> str:
    reason = f"matched on {len(reference.accepted)} input sets"
    if reference.rejected:
        label = reference.rejected[0][0].label
        error = dict(reference.skipped)[label]
        reason += f", and raised as the original did on {len(reference.rejected)} (case '{label}': {error})"
    if len(reference.skipped) > len(reference.rejected):
        raised = {case.label for case, _ in reference.rejected}
        label, error = next((label, error) for label, error in reference.skipped if label not in raised)
        left = len(reference.skipped) - len(reference.rejected)
        reason += f"; {left} skipped because the original rejected them (case '{label}': {error})"
    return reason


def _protocol_stream() -> IO[str]:
    """The original stdout for protocol lines; fd 1 then points at stderr, for user prints."""
    stream = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    return stream


def main(argv: Sequence[str]) -> int:
    spec_path, start = argv[0], int(argv[1])
    out = _protocol_stream()
    faulthandler.enable()

    def emit(**event: object) -> None:
        out.write(PROTOCOL_PREFIX + json.dumps(event) + "\n")
        out.flush()

    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    sys.path.extend(p for p in spec["sys_path"] if p not in sys.path)
    policy = Policy(**spec["policy"])
    reference_path = spec["reference_path"]
    reference: Reference | str
    if os.path.exists(reference_path):
        with open(reference_path, "rb") as f:
            reference = pickle.load(f)
    else:
        reference = compute_reference(spec)
        if isinstance(reference, Reference):
            # Workers started after a crash reuse it; if it cannot be pickled, they recompute it.
            with contextlib.suppress(Exception), open(reference_path + ".tmp", "wb") as f:
                pickle.dump(reference, f)
                f.close()
                os.replace(reference_path + ".tmp", reference_path)
    if isinstance(reference, str):
        emit(event="reference_failed", reason=reference)
        return 0
    emit(event="ready", cases=len(reference.accepted), guard_rejects=guard_rejects(spec, reference))
    original = None
    if any(c.get("retry_original") for c in spec["candidates"]):
        original = load_function(spec["original_path"], "_optc_original", spec["original_name"], plain=True)
    numba_start = _warm_numba() if spec.get("measure") is not None else None
    if spec.get("measure_original") is not None and start == 0:
        seconds = measure_original(spec, spec["measure_original"])
        emit(event="original", seconds=seconds, numba_start=numba_start)
    for index, candidate in enumerate(spec["candidates"][start:], start=start):
        emit(event="start", index=index)
        began = time.perf_counter()
        ok, reason, cases, compiled = check_candidate(
            candidate, reference, spec["arg_names"], policy, original=original
        )
        measured = None
        if ok and spec.get("measure") is not None:
            measured = measure_candidate(candidate, spec["args"], spec["measure"], spec["repeats"])
        emit(
            event="done",
            index=index,
            ok=ok,
            reason=reason,
            cases=cases,
            seconds=time.perf_counter() - began,
            measured=measured,
            compile_seconds=compiled,
        )
        if ok and spec["stop_at_first"]:
            break
    return 0


if __name__ == "__main__":
    # Through the package module, so pickled cases and references name one set of classes.
    from optcompiler._verify_worker import main as _main

    sys.exit(_main(sys.argv[1:]))
