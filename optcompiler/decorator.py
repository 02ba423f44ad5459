"""`@optimize`: specialize a kernel at its first call with real arguments, then dispatch to it.

    @optimize                                   # or @optimize(strict_fp=True, sizes={"n": 4096})
    def colsum(X):
        ...

At the first call with a new signature (per argument: kind, dtype, ndim, C/F/any contiguity,
writeability; scalars by Python type) and size bucket (powers of 4 of the largest array
dimension), the pipeline optimizes the function's source for exactly those types, at the call's
sizes, and verifies the variant on generated inputs and on a copy of the call's own arguments (the
caller's arrays are written only by the real call). The verified variant is loaded from a module
file in the cache (`optcompiler.cache`), so Numba's `cache=True` keeps its machine code, and a
restarted process reuses the decision without optimizing or verifying again.

Dispatch. The variant is called through a *guard*: an `njit` function in the same module that
checks the size bucket (and, where the rewrites assume distinct arrays, that those arguments do not
overlap) and then calls the variant. Numba's dispatcher is the type guard: the guard is compiled
for the call's exact Numba types and Numba's hook for compiling new ones is replaced by one that
raises `GuardMiss`, so the per-call cost of a hit is Numba's own C-level type lookup plus one Python
frame (bench/decorator.py measures it). A miss (new types, new bucket, overlapping arrays) lands in
the slow path, a dict lookup on the signature computed in Python, which specializes when needed.

Any failure (outside the kernel subset, nothing passed verification, a Numba error) runs the
original function instead, with one `OptcWarning` saying why; the decision is remembered per
signature, and on disk, so it is not retried on every call or in every process.
"""

from __future__ import annotations

import functools
import inspect
import sys
import tempfile
import threading
import time
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from optcompiler import cache, strictmath

TARGETS = ("auto", "cpu", "gpu")

# The call's own arguments are verified on only when the original, under CPython, can run on them in
# about EXAMPLE_SECONDS: the analytic model's njit estimate times CPYTHON_SLOWDOWN, and no more than
# EXAMPLE_BYTES of arrays (they are pickled to the verification worker).
EXAMPLE_SECONDS = 2.0
CPYTHON_SLOWDOWN = 300.0
EXAMPLE_BYTES = 16 * 2**20


class OptcWarning(UserWarning):
    """A decorated function runs as written (not optimized), or the cache had to be rebuilt."""


class GuardMiss(Exception):
    """Raised by a guard, before the variant runs, for arguments it was not specialized for."""


# ---- the decorator ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What `@optimize(...)` was given; part of every cache key."""

    target: str = "auto"
    verify: bool = True
    strict_fp: bool = False
    fastmath: bool = False
    sizes: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"@optimize: target must be one of {TARGETS}, got {self.target!r}")
        if self.strict_fp and self.fastmath:
            raise ValueError("@optimize: strict_fp and fastmath contradict each other; give one")
        for symbol, size in self.sizes:
            if not isinstance(symbol, str) or not symbol.isidentifier():
                raise ValueError(f"@optimize: sizes are keyed by size symbols like 'n', got {symbol!r}")
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise ValueError(f"@optimize: sizes[{symbol!r}] must be a positive integer, got {size!r}")

    def describe(self) -> str:
        parts = [f"target={self.target}", "verified" if self.verify else "NOT verified"]
        parts.append(
            "strict fp" if self.strict_fp else "fastmath" if self.fastmath else "sums may be reordered"
        )
        if self.sizes:
            parts.append("sizes " + ", ".join(f"{s}={n}" for s, n in self.sizes))
        return ", ".join(parts)


def optimize(
    func: Callable[..., Any] | None = None,
    /,
    *,
    target: str = "auto",
    verify: bool = True,
    strict_fp: bool = False,
    fastmath: bool = False,
    sizes: Mapping[str, int] | None = None,
) -> Any:
    """Optimize a plain top-level function for the argument types and sizes it is called with.

    `sizes` (size symbol -> size) overrides the call's own sizes in the size profile the variants
    are ranked for. `verify=False` ships the best-ranked variant unverified (not recommended).
    """
    options = Options(
        target, bool(verify), bool(strict_fp), bool(fastmath), tuple(sorted((sizes or {}).items()))
    )
    if func is None:
        return lambda f: _decorate(f, options)
    return _decorate(func, options)


def explain(function: Callable[..., Any], file: TextIO | None = None) -> None:
    """Print, per signature seen, what `function` runs and why: the chosen variant's derivation
    (with each rule's legality reason), predicted and measured speed-up, verification, cache entry."""
    kernel = getattr(function, "_optc", None)
    if not isinstance(kernel, OptimizedKernel):
        raise TypeError(f"{function!r} is not decorated with @optimize")
    print(kernel.explanation(), file=file if file is not None else sys.stdout)


optimize.explain = explain  # type: ignore[attr-defined]


def _decorate(func: Callable[..., Any], options: Options) -> Callable[..., Any]:
    if not isinstance(func, types.FunctionType):
        raise TypeError(f"@optimize decorates plain Python functions, not {type(func).__name__}")
    kernel = OptimizedKernel(func, options)
    wrapper = kernel.wrapper
    functools.update_wrapper(wrapper, func)
    wrapper._optc = kernel  # type: ignore[attr-defined]
    wrapper.explain = functools.partial(explain, wrapper)  # type: ignore[attr-defined]
    return wrapper


# ---- signatures ------------------------------------------------------------------------------------

# Per argument: (ndarray class, dtype.str, ndim, layout, writeable, aligned) for arrays, the type for
# anything else; then the size bucket. Layout as Numba types it: C, else F, else A.
ArgSignature = tuple[object, ...] | type
Signature = tuple[tuple[ArgSignature, ...], int]


def signature_of(args: Sequence[object]) -> Signature:
    parts: list[ArgSignature] = []
    largest = 0
    for value in args:
        if isinstance(value, np.ndarray):
            flags = value.flags
            layout = "C" if flags.c_contiguous else "F" if flags.f_contiguous else "A"
            parts.append((type(value), value.dtype.str, value.ndim, layout, flags.writeable, flags.aligned))
            if value.ndim:
                largest = max(largest, *value.shape)
        else:
            parts.append(type(value))
    return tuple(parts), size_bucket(largest)


def size_bucket(largest: int) -> int:
    """k with 4**k <= largest < 4**(k+1); 0 below 4 (empty arrays included)."""
    return 0 if largest < 4 else (largest.bit_length() - 1) // 2


def bucket_bounds(bucket: int) -> tuple[int, int]:
    return (4**bucket if bucket else 0), 4 ** (bucket + 1)


def describe_signature(params: Sequence[str], signature: Signature) -> str:
    """`X: float64 2-D C array, n: int; largest dimension 16 to 63`."""
    parts, bucket = signature
    words = []
    for name, part in zip(params, parts, strict=False):
        if isinstance(part, tuple):
            cls, dtype, ndim, layout, writeable, aligned = part
            text = f"{name}: {np.dtype(dtype).name} {ndim}-D {layout} array"
            extras = [e for e, on in (("read-only", not writeable), ("unaligned", not aligned)) if on]
            if cls is not np.ndarray:
                extras.append(getattr(cls, "__qualname__", str(cls)))
            words.append(text + (f" ({', '.join(extras)})" if extras else ""))
        else:
            words.append(f"{name}: {getattr(part, '__qualname__', part)}")
    lo, hi = bucket_bounds(bucket)
    arrays = any(isinstance(p, tuple) for p in parts)
    return ", ".join(words) + (f"; largest dimension {lo} to {hi - 1}" if arrays else "")


def _signature_key(params: Sequence[str], signature: Signature) -> str:
    """The signature as stable text for the cache key (types by module and name)."""

    def name(t: object) -> str:
        return f"{getattr(t, '__module__', '')}.{getattr(t, '__qualname__', t)}"

    parts, bucket = signature
    return repr(
        (
            tuple(
                (p, (name(s[0]), *s[1:]) if isinstance(s, tuple) else name(s))
                for p, s in zip(params, parts, strict=False)
            ),
            bucket,
        )
    )


def type_hint(value: object) -> str | None:
    """The numba-style type string `Config.arg_types` takes for a real argument (`float64[:, :]`)."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name}[{', '.join(':' * value.ndim)}]"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int64"
    if isinstance(value, np.float32):
        return "float32"
    if isinstance(value, (float, np.floating)):
        return "float64"
    return None


def _numba_type(value: object) -> Any:
    """The Numba type the guard is compiled for: what Numba's dispatcher will see for `value`,
    except that Python ints are int64 whatever their value (larger ones miss and run the original)."""
    import numba

    if type(value) is bool:
        return numba.types.boolean
    if type(value) is int:
        return numba.types.int64
    if type(value) is float:
        return numba.types.float64
    return numba.typeof(value)


def _too_wide(args: Sequence[object]) -> bool:
    """Whether a Python int argument lies beyond what Numba's dispatcher unboxes (int64)."""
    return any(type(a) is int and not -(2**63) <= a < 2**63 for a in args)


def _refuse_new_types(*args: object, **kwargs: object) -> None:
    """Installed as a guard's `_compile_for_args`: Numba calls it for argument types the guard has
    no compiled version for; instead of compiling one (unverified), hand the call to the slow path."""
    raise GuardMiss


# ---- one decorated function ------------------------------------------------------------------------


@dataclass(frozen=True)
class Specialization:
    """What one signature runs: a guard (the verified variant) or, with `guard` None, the original."""

    signature: Signature
    described: str
    guard: Callable[..., Any] | None
    reason: str = ""  # why the original runs
    entry: cache.Entry | None = None
    origin: str = ""  # "from the cache" / "optimized in 3.2 s"
    load_seconds: float | None = None  # the guard's Numba compile, or Numba cache load


@dataclass
class _Lifted:
    """The kernel lifted (for building), its module, and its identity for the key."""

    identity: cache.Lifted
    kernel: Any = None  # ir.Kernel, when lifted in this process
    module: Any = None  # its libcst module
    path: str = ""


class OptimizedKernel:
    """The state behind one decorated function: its specializations and the locks that make each
    signature's first call optimize once, however many threads make it."""

    def __init__(self, func: types.FunctionType, options: Options) -> None:
        self.func = func
        self.options = options
        self.params = list(inspect.signature(func).parameters)
        self.where = f"{func.__code__.co_filename}:{func.__code__.co_firstlineno}"
        self.table: dict[Signature, Specialization] = {}
        self._locks: dict[Signature, threading.Lock] = {}
        self._lock = threading.Lock()
        self._lift_lock = threading.Lock()
        self._lifted: _Lifted | None = None
        self._warned: set[str] = set()
        self.namespace: dict[str, Any] = {}
        self.wrapper = self._make_wrapper()

    # -- the call path --------------------------------------------------------------------------------

    def _make_wrapper(self) -> Callable[..., Any]:
        """A function with the original's parameters whose body is `try: hot guard / except: slow`.

        Generated rather than `*args`, so the hot path packs no tuples; `_optc_hot` is swapped to the
        guard most recently dispatched to. Functions with *args, keyword-only or positional-only
        parameters are outside the kernel subset: they get a plain wrapper that runs the original.
        """
        signature = inspect.signature(self.func)
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in signature.parameters.values())
        if not plain or any(name.startswith("_optc_") for name in signature.parameters):

            def fallback(*args: object, **kwargs: object) -> object:
                self.run_unsupported()
                return self.func(*args, **kwargs)

            return fallback
        self.namespace.update(
            _optc_hot=self.slow,
            _optc_slow=self.slow,
            _optc_GuardMiss=GuardMiss,
            _optc_original=self.func,
            _optc_too_wide=lambda *args: _too_wide(args),
        )
        declared = []
        for i, p in enumerate(signature.parameters.values()):
            if p.default is p.empty:
                declared.append(p.name)
            else:
                self.namespace[f"_optc_default_{i}"] = p.default
                declared.append(f"{p.name}=_optc_default_{i}")
        passed = ", ".join(self.params)
        text = (
            f"def {self.func.__name__}({', '.join(declared)}):\n"
            f"    try:\n"
            f"        return _optc_hot({passed})\n"
            f"    except _optc_GuardMiss:\n"
            f"        return _optc_slow({passed})\n"
            f"    except OverflowError:\n"  # Numba's dispatcher cannot unbox an int beyond 64 bits
            f"        if not _optc_too_wide({passed}):\n"
            f"            raise\n"
            f"    return _optc_original({passed})\n"  # outside the handler: its errors are its own
        )
        exec(compile(text, f"<optc wrapper of {self.func.__qualname__}>", "exec"), self.namespace)
        return self.namespace[self.func.__name__]

    def slow(self, *args: object) -> object:
        """The first call of a signature, and any call a guard refused: find or make the
        specialization, make its guard the hot one, call it."""
        if _too_wide(args):
            # Python ints are arbitrary precision: no Numba variant can take this one; the original
            # computes with it exactly. Not specialized, so it never decides a signature's variant.
            return self.func(*args)
        signature = signature_of(args)
        found = self.table.get(signature)
        if found is None:
            found = self._specialize(signature, args)
        if found.guard is None:
            return self.func(*args)
        self.namespace["_optc_hot"] = found.guard
        try:
            return found.guard(*args)
        except GuardMiss:
            # Same signature, yet refused: arrays that overlap where the variant assumes they do
            # not, shapes with which the original indexes out of bounds, or values Numba types
            # differently (an int beyond int64). The original is right.
            return self.func(*args)

    def run_unsupported(self) -> None:
        """For functions the generated wrapper cannot mirror: warn once why they run as written."""
        lifted = self._lift_identity()
        self._warn(lifted.unsupported or "its parameters are outside the kernel subset")

    # -- specializing ------------------------------------------------------------------------------

    def _specialize(self, signature: Signature, args: Sequence[object]) -> Specialization:
        with self._lock:
            lock = self._locks.setdefault(signature, threading.Lock())
        with lock:
            found = self.table.get(signature)
            if found is not None:
                return found
            described = describe_signature(self.params, signature)
            try:
                found = self._decide(signature, described, args)
            except Exception as error:  # an optc bug must not crash the call site
                found = Specialization(
                    signature, described, None, f"internal error in optc: {type(error).__name__}: {error}"
                )
            self.table[signature] = found
        if found.guard is None:
            lifted = self._lifted
            general = lifted is not None and found.reason == lifted.identity.unsupported
            self._warn(found.reason, "" if general else described)
        return found

    def _decide(self, signature: Signature, described: str, args: Sequence[object]) -> Specialization:
        from optcompiler.costmodel.hardware import detect

        lifted = self._lift_identity()
        if lifted.unsupported:
            # Whatever the types, this function runs as written: skip the signature from now on.
            self.namespace["_optc_hot"] = self.func
            return Specialization(signature, described, None, lifted.unsupported)
        for name in lifted.reads:
            if isinstance(getattr(self.func.__globals__.get(name), "_optc", None), OptimizedKernel):
                reason = f"it calls {name}, itself decorated with @optimize, which Numba cannot call"
                return Specialization(signature, described, None, reason)
        typing_started = time.perf_counter()
        try:
            numba_types = tuple(_numba_type(a) for a in args)
        except Exception as error:
            return Specialization(signature, described, None, f"Numba cannot type the arguments: {error}")
        # Numba's first typeof in a process sets up its typing machinery: Numba's share, not optc's.
        typing_seconds = time.perf_counter() - typing_started
        parts = cache.KeyParts(
            ir=lifted.ir,
            globals=cache.referenced_globals(lifted.reads, self.func.__globals__),
            signature=_signature_key(self.params, signature),
            options=repr(self.options),
            hardware=detect().id,
            versions=cache.versions(),
        )
        key = parts.key()
        root = _cache_root()
        found = cache.load(root, key)
        if isinstance(found, cache.Entry):
            if found.outcome == "fallback":
                return Specialization(signature, described, None, found.reason, found, "from the cache")
            try:
                return self._ready(found, signature, described, numba_types, "from the cache", typing_seconds)
            except Exception as error:
                found = cache.Corrupt(Path(found.path), f"its variant does not load: {_first_line(error)}")
        if isinstance(found, cache.Corrupt):
            _report_corrupt(found)
        entry = self._build(key, signature, described, args, root)
        origin = f"optimized in {entry.build_seconds:.1f} s" if entry.build_seconds is not None else ""
        if entry.outcome == "fallback":
            return Specialization(signature, described, None, entry.reason, entry, origin)
        try:
            return self._ready(entry, signature, described, numba_types, origin, typing_seconds)
        except Exception as error:
            reason = f"the verified variant does not compile here: {_first_line(error)}"
            entry = cache.store(root, replace(entry, outcome="fallback", reason=reason, module_file=""))
            return Specialization(signature, described, None, reason, entry, origin)

    def _build(
        self, key: str, signature: Signature, described: str, args: Sequence[object], root: Path
    ) -> cache.Entry:
        """Run the pipeline for this signature and store its decision."""
        from optcompiler import analysis, pipeline
        from optcompiler.config import Config
        from optcompiler.passes import why

        lifted = self._lift_kernel()
        kernel = lifted.kernel
        hints = {p: h for p, a in zip(self.params, args, strict=True) if (h := type_hint(a)) is not None}
        facts = analysis.analyze(kernel, hints)
        sizes = _size_profile(facts, self.params, args, dict(self.options.sizes))
        config = Config(
            target=self.options.target,  # type: ignore[arg-type]
            strict_fp=self.options.strict_fp,
            fastmath=self.options.fastmath,
            verify=self.options.verify,
            numpy_target=False,  # the compiled guard calls the variant: it must be compiled too
            arg_types=tuple(sorted((f"{kernel.name}.{p}", h) for p, h in hints.items())),
            kernel_sizes=((kernel.name, tuple(sorted(sizes.items()))),) if sizes else (),
            default_size=max(sizes.values(), default=1000),
        )
        own = _worth_verifying_on(kernel, facts, sizes, config.default_size, args)
        examples = [{p: _copy(a) for p, a in zip(self.params, args, strict=True)}] if own else []
        started = time.perf_counter()
        result = pipeline.optimize_kernel(
            kernel, pipeline.module_prelude(lifted.module, kernel), config, examples
        )
        gpu = None
        if self.options.target == "gpu" and isinstance(result, pipeline.Emitted):
            result, gpu = self._with_gpu(kernel, result, lifted, config, examples)
        seconds = time.perf_counter() - started
        base = cache.Entry(key=key, kernel=kernel.name, outcome="fallback", signature=described)
        if not isinstance(result, pipeline.Emitted):
            return cache.store(root, replace(base, reason=result.reason, build_seconds=seconds))
        module_name = f"_optc_{kernel.name}_{key[:16]}"
        derivation = tuple(result.candidate.variant.derivation)
        verified = result.verified
        if self.options.verify:
            verified += (
                ", the call's own arguments included"
                if own
                else " (the call's arguments too large to run under CPython)"
            )
        entry = replace(
            base,
            outcome="variant",
            variant_source=result.source,
            module_file=f"{module_name}.py",
            guard=f"_{kernel.name}_guard",
            alias_pairs=tuple(result.alias_pairs),
            bounds=tuple(result.bounds),
            target=result.candidate.target.name
            if gpu is None
            else f"cuda, else {result.candidate.target.name}",
            derivation=derivation,
            why=tuple(why(step) for step in dict.fromkeys(derivation)),
            predicted_speedup=result.predicted_speedup,
            measured_speedup=result.measured_speedup,
            measured_at=result.measured_at,
            verified=verified,
            build_seconds=seconds,
            retry_original=result.retry_original,
        )
        if gpu is not None:
            entry = replace(entry, verified=f"{entry.verified}; GPU: {result.gpu_note}")
        text = variant_module(
            entry, [p.name for p in kernel.params], signature, f"{self.func.__qualname__} ({self.where})", gpu
        )
        return cache.store(root, entry, text)

    def _with_gpu(
        self, kernel: Any, result: Any, lifted: _Lifted, config: Any, examples: Sequence[dict[str, object]]
    ) -> tuple[Any, tuple[str, str] | None]:
        """target='gpu': the CUDA lowering beside the CPU variant, verified on the simulator and on
        the call's own arguments on this machine's GPU; (result, (its source, the condition the
        guard checks before calling it)), or the CPU result alone and one warning saying why."""
        from optcompiler import emit, pipeline

        if not _gpu_present():
            self._warn_once(
                "target='gpu', but no CUDA GPU is usable here (numba-cuda missing, or "
                "numba.cuda.is_available() is False): it runs the CPU variant"
            )
            return result, None
        prelude = pipeline.module_prelude(lifted.module, kernel)
        gpu_config = replace(config, target="gpu")
        found = pipeline.with_gpu(kernel, result, prelude, gpu_config, examples)
        if not isinstance(found, pipeline.Emitted) or not found.gpu_source:
            note = found.gpu_note if isinstance(found, pipeline.Emitted) else "not lowered"
            self._warn_once(f"target='gpu': no verified CUDA lowering ({note}): it runs the CPU variant")
            return result, None
        params = [p.name for p in kernel.params]
        return found, (found.gpu_source, emit.gpu_condition(found, params))

    def _warn_once(self, message: str) -> None:
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
        warnings.warn_explicit(
            f"optc: {self.func.__qualname__}: {message}",
            OptcWarning,
            self.func.__code__.co_filename,
            self.func.__code__.co_firstlineno,
            module=self.func.__module__,
        )

    def _ready(
        self,
        entry: cache.Entry,
        signature: Signature,
        described: str,
        numba_types: tuple[Any, ...],
        origin: str,
        typing_seconds: float = 0.0,
    ) -> Specialization:
        """Import the entry's module with the kernel's module globals, compile (or load from Numba's
        cache) its guard for exactly these types, and stop it compiling any others."""
        name = entry.module_file.removesuffix(".py")
        module = types.ModuleType(name)
        module.__file__ = str(entry.module_path)
        # The variant reads the kernel's module globals as the original does; Numba freezes them
        # at compile time, and the cache key holds their values, so a copy taken now is exact.
        module.__dict__.update({k: v for k, v in self.func.__globals__.items() if not k.startswith("__")})
        code = compile(entry.module_path.read_text(encoding="utf-8"), str(entry.module_path), "exec")
        with _LOAD_LOCK:
            previous = sys.modules.get(name)
            sys.modules[name] = module  # Numba's cache finds the module of cached code by name
            try:
                exec(code, module.__dict__)
                guard = module.__dict__[entry.guard]
                # with `retry_original`, the guard is plain Python around the compiled one
                compiled = module.__dict__.get(f"{entry.guard}_compiled", guard)
                started = time.perf_counter()
                compiled.compile(numba_types)
                seconds = time.perf_counter() - started + typing_seconds
            except BaseException:
                if previous is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = previous
                raise
        compiled._compile_for_args = _refuse_new_types
        gpu_guard = module.__dict__.get(f"{entry.guard}_gpu")
        if gpu_guard is not None:
            guard = _gpu_dispatch(gpu_guard, guard, signature)
        return Specialization(signature, described, guard, "", entry, origin, seconds)

    # -- lifting -------------------------------------------------------------------------------------

    def _lift_identity(self) -> cache.Lifted:
        """The kernel's IR digest and the globals it reads, from the cache's memo of this exact
        function text when there is one (no parsing), else by lifting."""
        if self._lifted is not None:
            return self._lifted.identity
        with self._lift_lock:
            if self._lifted is not None:
                return self._lifted.identity
            if self.func.__qualname__ != self.func.__name__ or self.func.__closure__:
                lifted = _Lifted(cache.Lifted(unsupported="only top-level functions are optimized"))
            elif self.func.__code__.co_name != self.func.__name__:
                # Another decorator below @optimize replaced the function: its body is not the def's.
                lifted = _Lifted(cache.Lifted(unsupported="@optimize must be the only decorator"))
            else:
                try:
                    text = _function_text(self.func)
                except (OSError, TypeError) as error:
                    lifted = _Lifted(cache.Lifted(unsupported=f"its source is not available ({error})"))
                else:
                    root = _cache_root()
                    digest = cache.text_digest(text)
                    remembered = cache.load_lifted(root, digest)
                    if remembered is not None:
                        lifted = _Lifted(remembered)
                    else:
                        lifted = self._lift_now()
                        try:
                            cache.store_lifted(root, digest, lifted.identity)
                        except OSError:
                            pass  # remembered in this process only; the next one lifts again
            self._lifted = lifted
            return lifted.identity

    def _lift_kernel(self) -> _Lifted:
        """The lifted kernel itself, for building (the memo holds only its identity)."""
        self._lift_identity()
        with self._lift_lock:
            assert self._lifted is not None
            if self._lifted.kernel is None:
                fresh = self._lift_now()
                if fresh.identity != self._lifted.identity:  # the file changed since the memo
                    raise RuntimeError(f"{self.where}: the source changed while the program runs")
                self._lifted = fresh
            return self._lifted

    def _lift_now(self) -> _Lifted:
        from optcompiler import frontend
        from optcompiler.analysis import contains_loop, names_assigned, names_read
        from optcompiler.errors import OptcError, Unsupported, unblock_hint
        from optcompiler.passes.vectorize import sums_a_temporary

        path = inspect.getsourcefile(self.func) or self.func.__code__.co_filename
        module_of = inspect.getmodule(self.func)
        try:
            source = inspect.getsource(module_of) if module_of is not None else ""
        except (OSError, TypeError) as error:
            return _Lifted(cache.Lifted(unsupported=f"its module's source is not available ({error})"))
        try:
            kernel = frontend.lift_function(source, path, self.func.__name__)
            module = frontend.parse(source, path)
        except Unsupported as error:
            line = f" (line {error.line})" if error.line is not None else ""
            hint = unblock_hint(error.construct)
            reason = f"{error.construct}{line} is outside the kernel subset optc rewrites" + (
                f"; {hint}" if hint else ""
            )
            return _Lifted(cache.Lifted(unsupported=reason))
        except OptcError as error:
            return _Lifted(cache.Lifted(unsupported=str(error)))
        # The pipeline verifies against `kernel.source` in a fresh process: without its decorators,
        # or the original there would be this wrapper and optimize itself again.
        kernel = replace(kernel, source=_undecorated(kernel.source))
        if not contains_loop(kernel.body) and not sums_a_temporary(kernel.body):
            return _Lifted(
                cache.Lifted(unsupported="no loops: nothing for optc to speed up"), kernel, module, path
            )
        params = {p.name for p in kernel.params}
        reads = names_read(kernel.body) - params - names_assigned(kernel.body)
        identity = cache.Lifted(
            cache.ir_digest(kernel.name, kernel.params, kernel.body), tuple(sorted(reads))
        )
        return _Lifted(identity, kernel, module, path)

    # -- reporting -----------------------------------------------------------------------------------

    def _warn(self, reason: str, described: str = "") -> None:
        with self._lock:
            if reason in self._warned:
                return
            self._warned.add(reason)
        name = self.func.__qualname__
        types_ = f" for ({described})" if described else ""
        warnings.warn_explicit(
            f"optc: {name} runs as written{types_}: {reason}",
            OptcWarning,
            self.func.__code__.co_filename,
            self.func.__code__.co_firstlineno,
            module=self.func.__module__,
        )

    def explanation(self) -> str:
        lines = [f"optc @optimize: {self.func.__qualname__} ({self.where}); {self.options.describe()}"]
        lifted = self._lifted
        if lifted is not None and lifted.identity.unsupported:
            lines.append(f"  runs as written, whatever the arguments: {lifted.identity.unsupported}")
        elif not self.table:
            lines.append("  not called yet: each signature is specialized at its first call")
        for spec in list(self.table.values()):
            lines.append(f"  {self.func.__name__}({spec.described}):")
            lines += [f"    {line}" for line in _explain_specialization(spec)]
        return "\n".join(lines)


def _explain_specialization(spec: Specialization) -> list[str]:
    entry = spec.entry
    origin = f" ({spec.origin})" if spec.origin else ""
    if spec.guard is None or entry is None:
        lines = [f"runs the original, as written{origin}: {spec.reason}"]
    else:
        if entry.derivation:
            lines = [f"runs the variant {'+'.join(entry.derivation)} @ {entry.target}{origin}, because:"]
            lines += [f"  - {reason}" for reason in entry.why]
        else:
            lines = [f"runs the original body compiled @ {entry.target}, no rewrites{origin}"]
        figures = []
        if entry.predicted_speedup:
            figures.append(f"predicted {entry.predicted_speedup:.2f}x")
        if entry.measured_speedup:
            figures.append(f"measured {entry.measured_speedup:.2f}x at {entry.measured_at}")
        if figures:
            lines.append(f"vs plain numba.njit of the original: {', '.join(figures)}")
        lines.append(f"verified: {entry.verified}")
        if entry.alias_pairs:
            pairs = ", ".join(f"{a}/{b}" for a, b in entry.alias_pairs)
            lines.append(f"overlapping {pairs} run the original (the rewrites assume distinct arrays)")
        if spec.load_seconds is not None:
            lines.append(f"Numba compile or cache load: {spec.load_seconds * 1000:.0f} ms")
    if entry is not None and entry.path:
        lines.append(f"cache entry: {entry.path}")
    return lines


# ---- the variant's module ------------------------------------------------------------------------------


def variant_module(
    entry: cache.Entry,
    params: Sequence[str],
    signature: Signature,
    origin: str,
    gpu: tuple[str, str] | None = None,
) -> str:
    """The variant and its guard: the bucket check, the overlap checks, then the variant. With
    `gpu` (the CUDA lowering's source, the condition to call it), also the CUDA wrapper and a plain
    Python guard `<guard>_gpu` making the same checks, then that condition."""
    parts, bucket = signature
    dims = [
        f"{p}.shape[{d}]"
        for p, part in zip(params, parts, strict=True)
        if isinstance(part, tuple)
        for d in range(int(part[2]))
    ]
    checks: list[str] = []
    if dims:
        lo, hi = bucket_bounds(bucket)
        largest = dims[0] if len(dims) == 1 else f"max({', '.join(dims)})"
        low = f"_optc_largest < {lo} or " if lo else ""
        checks += [
            f"    _optc_largest = {largest}",
            f"    if {low}_optc_largest >= {hi}:",
            "        raise _optc_GuardMiss",
        ]
    for a, b in entry.alias_pairs:
        checks += [f"    if _optc_overlap({a}, {b}):", "        raise _optc_GuardMiss"]
    for condition in entry.bounds:  # shapes with which the original raises IndexError: it runs
        checks += [f"    if not ({condition}):", "        raise _optc_GuardMiss"]
    from optcompiler.emit import variant_name

    variant = entry.variant_source.strip()
    header = [
        f"# optc: the variant of {origin} for {entry.signature}.",
        f"# Cache entry {entry.key}; generated, do not edit: the entry records this file's sha256.",
        *strictmath.imports(variant),  # the math helpers spell `math` and `numpy` in full
        "import numba",
        "",
        "from optcompiler.decorator import GuardMiss as _optc_GuardMiss",
        "",
        "",
        variant,
        "",
    ]
    if entry.alias_pairs:
        header += ["", _OVERLAP_HELPERS]
    compiled_guard = f"{entry.guard}_compiled" if entry.retry_original else entry.guard
    guard = [
        "",
        "@numba.njit(cache=True)",
        f"def {compiled_guard}({', '.join(params)}):",
        *checks,
        f"    return {variant_name(entry.kernel)}({', '.join(params)})",
    ]
    if entry.retry_original:  # as the CLI's dispatcher (`pipeline.retry_errors`): the original decides
        guard += [
            "",
            "",
            f"def {entry.guard}({', '.join(params)}):",
            "    try:",
            f"        return {compiled_guard}({', '.join(params)})",
            f"    except ({', '.join(entry.retry_original)},):  # what CPython does there: the original says",
            "        raise _optc_GuardMiss from None",
        ]
    if gpu is not None:
        from optcompiler.emit import gpu_name

        source, condition = gpu
        guard += [
            "",
            "",
            "# optc: the CUDA lowering (target='gpu'), verified on the CUDA simulator and on the call's own",
            "# arguments; its guard runs in Python, before the CPU guard above, and leaves anything else to it.",
            source.strip(),
            "",
            "",
            f"def {entry.guard}_gpu({', '.join(params)}):",
            *checks,
            f"    if {condition}:",
            f"        return {gpu_name(entry.kernel)}({', '.join(params)})",
            "    raise _optc_GuardMiss",
        ]
    return "\n".join(header + guard) + "\n"


# Numba has no np.may_share_memory; this is the same bounds test, on the arrays' byte extents.
_OVERLAP_HELPERS = """\
@numba.njit(cache=True)
def _optc_extent(a):
    low = a.ctypes.data
    high = low
    for d in range(a.ndim):
        if a.shape[d] == 0:
            return 0, 0
        step = a.strides[d] * (a.shape[d] - 1)
        if step > 0:
            high += step
        else:
            low += step
    return low, high + a.itemsize


@numba.njit(cache=True)
def _optc_overlap(a, b):
    a_low, a_high = _optc_extent(a)
    b_low, b_high = _optc_extent(b)
    return a_low < b_high and b_low < a_high
"""


# ---- helpers ---------------------------------------------------------------------------------------------

_LOAD_LOCK = threading.Lock()
_REPORTED: set[str] = set()
_TEMP_ROOT: list[Path] = []


def _gpu_present() -> bool:
    """Is there a CUDA device (or numba-cuda's simulator) to run a lowering on? Imports numba.cuda:
    only asked for target='gpu'."""
    import importlib.util

    if importlib.util.find_spec("numba_cuda") is None:
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # a broken driver is no GPU
        return False


def _gpu_dispatch(
    gpu_guard: Callable[..., Any], cpu_guard: Callable[..., Any], signature: Signature
) -> Callable[..., Any]:
    """The hot path of a signature with a CUDA lowering: its Python guard for exactly that
    signature, else (or when it declines) the compiled CPU guard, which refuses other types."""

    def dispatch(*args: object) -> object:
        if signature_of(args) == signature:
            try:
                return gpu_guard(*args)
            except GuardMiss:
                pass
        return cpu_guard(*args)

    return dispatch


def _cache_root() -> Path:
    """The cache directory, created; a per-process temporary one (with one warning) when it
    cannot be."""
    root = cache.cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        return root
    except OSError as error:
        with _LOAD_LOCK:
            if not _TEMP_ROOT:
                _TEMP_ROOT.append(Path(tempfile.mkdtemp(prefix="optc-cache-")))
                warnings.warn(
                    f"optc: cannot use the cache directory {root} ({error.strerror or error}); "
                    f"this process keeps its variants in {_TEMP_ROOT[0]} (set OPTC_CACHE_DIR)",
                    OptcWarning,
                    stacklevel=2,
                )
            return _TEMP_ROOT[0]


def _report_corrupt(found: cache.Corrupt) -> None:
    with _LOAD_LOCK:
        if str(found.path) in _REPORTED:
            return
        _REPORTED.add(str(found.path))
    warnings.warn(
        f"optc: cache entry {found.path} is unusable ({found.why}); rebuilding it", OptcWarning, stacklevel=2
    )


def _size_profile(
    facts: Any, params: Sequence[str], args: Sequence[object], override: Mapping[str, int]
) -> dict[str, int]:
    """The kernel's size symbols bound to the call's sizes: array dimensions, and int parameters
    that are size symbols; `override` (the decorator's `sizes`) on top."""
    sizes: dict[str, int] = {}
    for name, value in zip(params, args, strict=True):
        at = facts.arg_types.get(name)
        if at is not None and at.kind == "array" and isinstance(value, np.ndarray):
            for symbol, n in zip(at.dims, value.shape, strict=False):
                sizes[symbol] = max(sizes.get(symbol, 1), int(n))
        elif (
            name in facts.size_symbols
            and isinstance(value, (int, np.integer))
            and not isinstance(value, bool)
        ):
            sizes[name] = max(1, int(value))
    sizes.update(override)
    return sizes


def _worth_verifying_on(
    kernel: Any, facts: Any, sizes: Mapping[str, int], default: int, args: Sequence[object]
) -> bool:
    """Can the original run on the call's own arguments under CPython within EXAMPLE_SECONDS?"""
    from optcompiler.costmodel.analytic import estimate_seconds
    from optcompiler.costmodel.hardware import detect
    from optcompiler.ir import Target

    if sum(a.nbytes for a in args if isinstance(a, np.ndarray)) > EXAMPLE_BYTES:
        return False
    try:
        seconds = estimate_seconds(kernel.body, Target("njit"), facts.arg_types, sizes, detect(), default)
    except Exception:
        return False
    return seconds * CPYTHON_SLOWDOWN <= EXAMPLE_SECONDS


def _function_text(func: types.FunctionType) -> str:
    """The function's lines, decorators included, as the lift memo's key: from its first line to the
    last line its code (nested code included) ends on. Reading them through linecache costs far less
    than `inspect.getsource`, which tokenizes the block; trailing comments are left out, which is
    fine for a key that only has to change whenever the lifted IR could."""
    code = func.__code__
    positions = getattr(code, "co_positions", None)
    if positions is None:  # Python 3.10
        return inspect.getsource(func)
    last = code.co_firstlineno
    stack = [code]
    while stack:
        current = stack.pop()
        last = max([last, *(end for _, end, _, _ in current.co_positions() if end is not None)])
        stack += [c for c in current.co_consts if isinstance(c, types.CodeType)]
    import linecache

    lines = linecache.getlines(code.co_filename, func.__globals__)
    if not lines or last > len(lines):
        return inspect.getsource(func)  # raises OSError when there is no source at all
    return "".join(lines[code.co_firstlineno - 1 : last])


def _undecorated(source: str) -> str:
    import libcst as cst

    module = cst.parse_module(source)
    node = module.body[0]
    if isinstance(node, cst.FunctionDef):
        return module.code_for_node(node.with_changes(decorators=(), leading_lines=()))
    return source


def _copy(value: object) -> object:
    return value.copy(order="K") if isinstance(value, np.ndarray) else value


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
