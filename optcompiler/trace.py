"""`optc trace`: run a program once, learn which kernels are hot and what they are called with.

    optc trace script.py [args...]            # or: optc trace -m package.module [args...]
    optc trace --optimize script.py [args...] # then optimize the hot kernels, print the table

How it traces. Every top-level, undecorated function defined in the user's files (the script's
folder, or `--root`; never site-packages) is wrapped by a probe as its module is executed: the
script and every module it imports from those files are compiled from an instrumented AST that
adds `f = __optc_probe__(f)` after each such `def`. The probe times each call (inclusive, and self
time: inclusive minus the time of probed callees, per thread) and records the argument signature
(dtype, ndim, layout, contiguity; scalar types) and shapes, and keeps a small sample of argument
values per signature, copied *before* the call since kernels mutate their inputs. A profile hook
(`sys.setprofile`) would also fire on every builtin call inside the loops being measured (`len`,
`math.sqrt`...), which multiplies the run time of exactly the loop-heavy code optc is for; a probe
costs one extra frame per call of a user function and nothing inside it. Decorated functions are
left alone, so `numba.njit` and friends still see the function they expect. Functions are the
same objects to the program except for identity (`f is f.__wrapped__` is false).

Profile (`.optc/profile.json`, format "optc-profile" version 1)::

    {"format": "optc-profile", "version": 1,
     "program": {"argv": [...], "module": null | "pkg.mod", "root": ".", "python": "3.11.7",
                 "wall_seconds": 2.1, "exit_code": 0, "error": null | "Traceback ..."},
     "samples": {"enabled": true, "budget_bytes": 67108864, "used_bytes": 123456},
     "functions": [          # hottest first, by self time
        {"file": "kernels.py", "name": "smooth", "module": "kernels", "line": 12, "calls": 40,
         "inclusive_seconds": 1.2, "self_seconds": 1.1, "share": 0.52,
         "signatures": [     # most self time first
            {"args": [{"name": "a", "kind": "array", "dtype": "float64", "ndim": 2,
                       "layout": "C"},
                      {"name": "w", "kind": "int"}],
             "calls": 40, "self_seconds": 1.1,
             "shapes": [{"shapes": [[500, 400], []], "calls": 40}],
             "samples": ["samples/kernels.smooth.0.0.npz"]}]}]}

`file` is relative to `root`; `share` is self time over the program's wall time. A sample `.npz`
holds one array per parameter under the parameter's name (scalars as 0-d arrays, restored to
Python scalars of the recorded kind). Samples stop at `--sample-budget` megabytes in all (and a
quarter of it per sample); `--no-samples` records none, for sensitive data.

A crash in the traced program prints its traceback and still writes the profile of what ran; the
exit code is the program's (`SystemExit` code, 1 for an exception, 130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.machinery
import importlib.util
import json
import math
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

FORMAT = "optc-profile"
VERSION = 1
DEFAULT_PROFILE = Path(".optc") / "profile.json"
DEFAULT_BUDGET_MB = 64
LOAD_SECONDS = 0.02  # loading one kernel's cached machine code in a new process, measured ~10-30 ms
SAMPLES_PER_SIGNATURE = 2
MAX_SHAPES = 32  # distinct shape tuples kept per signature; the rest are counted as "other"
PROBE = "__optc_probe__"


# ---- what one call looks like ----------------------------------------------------------------------


def describe_value(value: object) -> dict[str, object]:
    """The type facts optc specializes on, for one argument value."""
    import numpy as np

    if isinstance(value, np.ndarray):
        flags = value.flags
        layout = "C" if flags.c_contiguous else "F" if flags.f_contiguous else "A"
        return {"kind": "array", "dtype": value.dtype.name, "ndim": value.ndim, "layout": layout}
    if isinstance(value, (bool, np.bool_)):
        return {"kind": "bool"}
    if isinstance(value, (int, np.integer)):
        return {"kind": "int", "dtype": "int64" if isinstance(value, int) else np.dtype(type(value)).name}
    if isinstance(value, (float, np.floating)):
        return {
            "kind": "float",
            "dtype": "float64" if isinstance(value, float) else np.dtype(type(value)).name,
        }
    if isinstance(value, (complex, np.complexfloating)):
        return {"kind": "complex"}
    return {"kind": "object", "type": f"{type(value).__module__}.{type(value).__qualname__}"}


def _shape(value: object) -> list[int]:
    shape = getattr(value, "shape", None)
    return [int(s) for s in shape] if isinstance(shape, tuple) else []


def _elements(shapes: Sequence[Sequence[int]]) -> int:
    return sum(math.prod(s) for s in shapes if s)


# ---- the recorder ---------------------------------------------------------------------------------


@dataclass
class SignatureStats:
    args: tuple[tuple[str, tuple[tuple[str, object], ...]], ...]  # (param, sorted type facts)
    calls: int = 0
    self_ns: int = 0
    shapes: dict[tuple[tuple[int, ...], ...], int] = field(default_factory=dict)
    other_shapes: int = 0
    samples: list[tuple[int, dict[str, object]]] = field(default_factory=list)  # (elements, args)
    sampleable: bool = True  # plain parameters, every value an array or a real scalar
    has_arrays: bool = True
    calls_since_shape: int = 0  # scalar-only calls not yet added to `shapes` (kept off the hot path)


@dataclass
class FunctionStats:
    file: str
    name: str
    line: int
    params: tuple[str, ...] | None  # None: takes *args/**kwargs, no samples
    module: str = ""  # the name the program imported it under (`__main__` for the script)
    calls: int = 0
    inclusive_ns: int = 0
    self_ns: int = 0
    signatures: dict[tuple[object, ...], SignatureStats] = field(default_factory=dict)
    fast: dict[tuple[object, ...], SignatureStats] = field(default_factory=dict)  # cheap key -> signature


class Recorder:
    """Collects call statistics from every probe; safe to use from many threads."""

    def __init__(self, root: Path, samples: bool = True, budget_bytes: int = DEFAULT_BUDGET_MB << 20) -> None:
        self.root = root
        self.samples = samples
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self.functions: dict[tuple[str, str, int], FunctionStats] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        import numpy

        self._numpy = numpy
        self._ndarray = numpy.ndarray

    def probe(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap one user function. Applied by the instrumented module code right after its `def`."""
        code = getattr(func, "__code__", None)
        if code is None or not callable(func):
            return func
        path = Path(code.co_filename)
        try:
            rel = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            rel = path.as_posix()
        plain = not (code.co_flags & (0x04 | 0x08))  # CO_VARARGS | CO_VARKEYWORDS
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] if plain else None
        key = (rel, func.__qualname__, code.co_firstlineno)
        with self._lock:
            stats = self.functions.setdefault(
                key, FunctionStats(rel, func.__qualname__, code.co_firstlineno, params, func.__module__)
            )
        local = self._local
        clock = time.perf_counter_ns
        signature, lock = self._signature, self._lock

        def probed(*args: Any, **kwargs: Any) -> Any:
            try:
                stack = local.stack
            except AttributeError:
                stack = local.stack = []
            sig = signature(stats, args, kwargs)
            stack.append(0)
            start = clock()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = clock() - start
                children = stack.pop()
                if stack:
                    stack[-1] += elapsed
                own = elapsed - children
                with lock:
                    stats.calls += 1
                    stats.inclusive_ns += elapsed
                    stats.self_ns += own
                    if sig is not None:
                        sig.calls += 1
                        sig.self_ns += own

        probed.__wrapped__ = func  # type: ignore[attr-defined]
        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(probed, attr, getattr(func, attr, None))
        return probed

    def _signature(
        self, stats: FunctionStats, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> SignatureStats | None:
        """Find (or create) the call's signature and count its shapes. The common call, positional
        arguments only, is looked up by a cheap key so a probe stays a few microseconds."""
        params = stats.params
        if kwargs or params is None or len(args) != len(params):
            return self._describe_call(stats, args, kwargs)
        ndarray = self._ndarray
        key = tuple(
            (v.dtype, v.ndim, v.flags.c_contiguous, v.flags.f_contiguous) if type(v) is ndarray else type(v)
            for v in args
        )
        sig = stats.fast.get(key)
        if sig is None:
            sig = stats.fast[key] = self._describe_call(stats, args, kwargs)
            return sig
        if not sig.has_arrays:  # scalars only: one shape, nothing more to sample
            sig.calls_since_shape += 1
            return sig
        shapes = tuple(v.shape if type(v) is ndarray else () for v in args)
        with self._lock:
            self._count_shape(sig, shapes)
        if self.samples and sig.sampleable:
            elements = _elements(shapes)
            if len(sig.samples) < SAMPLES_PER_SIGNATURE or elements > sig.samples[-1][0]:
                self._maybe_sample(sig, dict(zip(params, args, strict=True)), elements)
        return sig

    def _describe_call(
        self, stats: FunctionStats, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> SignatureStats:
        params = stats.params
        if params is None or len(args) > len(params):
            named = [(f"arg{i}", v) for i, v in enumerate(args)] + sorted(kwargs.items())
        else:
            named = list(zip(params, args, strict=False)) + [(k, kwargs[k]) for k in params if k in kwargs]
        facts = tuple((name, tuple(sorted(describe_value(v).items()))) for name, v in named)
        shapes = tuple(tuple(_shape(v)) for _, v in named)
        with self._lock:
            sig = stats.signatures.get(facts)
            if sig is None:
                kinds = {dict(f)["kind"] for _, f in facts}
                sampleable = (
                    params is not None and len(named) == len(params) and not kinds & {"object", "complex"}
                )
                sig = stats.signatures[facts] = SignatureStats(
                    facts, sampleable=sampleable, has_arrays="array" in kinds
                )
            self._count_shape(sig, shapes)
        if self.samples and sig.sampleable:
            self._maybe_sample(sig, dict(named), _elements(shapes))
        return sig

    @staticmethod
    def _count_shape(sig: SignatureStats, shapes: tuple[tuple[int, ...], ...]) -> None:
        if shapes in sig.shapes or len(sig.shapes) < MAX_SHAPES:
            sig.shapes[shapes] = sig.shapes.get(shapes, 0) + 1
        else:
            sig.other_shapes += 1

    def _maybe_sample(self, sig: SignatureStats, values: dict[str, object], elements: int) -> None:
        """Keep the first call and the largest one seen, within the byte budget."""
        np = self._numpy
        if len(sig.samples) >= SAMPLES_PER_SIGNATURE and elements <= max(e for e, _ in sig.samples[1:]):
            return
        size = sum(v.nbytes for v in values.values() if isinstance(v, np.ndarray))
        with self._lock:
            replaced = sig.samples[-1] if len(sig.samples) >= SAMPLES_PER_SIGNATURE else None
            freed = _sample_bytes(replaced[1]) if replaced else 0
            if size > self.budget_bytes // 4 or self.used_bytes - freed + size > self.budget_bytes:
                return
            copied = {
                k: (np.array(v, copy=True, order="K") if isinstance(v, np.ndarray) else v)
                for k, v in values.items()
            }
            if replaced is not None:
                sig.samples.pop()
            sig.samples.append((elements, copied))
            self.used_bytes += size - freed

    # -- the profile

    def profile(self, program: Mapping[str, object], samples_dir: Path | None) -> dict[str, object]:
        """The JSON-able profile; writes sample `.npz` files into `samples_dir` when given."""
        wall = float(program.get("wall_seconds") or 0.0)
        functions = []
        with self._lock:
            stats_list = sorted(self.functions.values(), key=lambda s: (-s.self_ns, s.file, s.line))
            for stats in stats_list:
                if not stats.calls:
                    continue
                sigs = []
                for n, sig in enumerate(sorted(stats.signatures.values(), key=lambda s: -s.self_ns)):
                    files = []
                    if samples_dir is not None:
                        for k, (_, values) in enumerate(sig.samples):
                            name = f"{Path(stats.file).stem}.{stats.name}.{n}.{k}.npz"
                            _write_sample(samples_dir / name, values)
                            files.append(f"{samples_dir.name}/{name}")
                    if sig.calls_since_shape:
                        only = next(iter(sig.shapes))
                        sig.shapes[only] += sig.calls_since_shape
                        sig.calls_since_shape = 0
                    shapes = sorted(sig.shapes.items(), key=lambda kv: (-kv[1], kv[0]))
                    sigs.append(
                        {
                            "args": [{"name": name, **dict(facts)} for name, facts in sig.args],
                            "calls": sig.calls,
                            "self_seconds": sig.self_ns / 1e9,
                            "shapes": [
                                {"shapes": [list(s) for s in shape], "calls": c} for shape, c in shapes
                            ],
                            "other_shapes": sig.other_shapes,
                            "samples": files,
                        }
                    )
                functions.append(
                    {
                        "file": stats.file,
                        "name": stats.name,
                        "module": stats.module,
                        "line": stats.line,
                        "calls": stats.calls,
                        "inclusive_seconds": stats.inclusive_ns / 1e9,
                        "self_seconds": stats.self_ns / 1e9,
                        "share": (stats.self_ns / 1e9) / wall if wall > 0 else 0.0,
                        "signatures": sigs,
                    }
                )
        return {
            "format": FORMAT,
            "version": VERSION,
            "program": dict(program),
            "samples": {
                "enabled": self.samples,
                "budget_bytes": self.budget_bytes,
                "used_bytes": self.used_bytes,
            },
            "functions": functions,
        }


def _sample_bytes(values: Mapping[str, object]) -> int:
    return sum(int(getattr(v, "nbytes", 0)) for v in values.values())


def _write_sample(path: Path, values: Mapping[str, object]) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".optc-tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **{k: np.asarray(v) for k, v in values.items()})
    os.replace(tmp, path)


def load_sample(path: Path, signature: Mapping[str, object]) -> dict[str, object]:
    """One recorded argument set, scalars restored to the Python kind the program passed."""
    import numpy as np

    kinds = {a["name"]: a for a in signature["args"]}  # type: ignore[index, union-attr]
    out: dict[str, object] = {}
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            value = data[name]
            facts = kinds.get(name, {})
            if facts.get("kind") == "array":
                out[name] = value
            elif facts.get("kind") == "int":
                out[name] = int(value) if facts.get("dtype") == "int64" else value[()]
            elif facts.get("kind") == "float":
                out[name] = float(value) if facts.get("dtype") == "float64" else value[()]
            elif facts.get("kind") == "bool":
                out[name] = bool(value)
            else:
                out[name] = value[()]
    return out


# ---- instrumenting the user's modules ----------------------------------------------------------------


def instrument(source: str | bytes, filename: str) -> types.CodeType:
    """Compile `source` with `name = __optc_probe__(name)` after each top-level undecorated def."""
    tree = ast.parse(source, filename)
    body: list[ast.stmt] = []
    for stmt in tree.body:
        body.append(stmt)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and not stmt.decorator_list:
            wrap = ast.Assign(
                targets=[ast.Name(stmt.name, ast.Store())],
                value=ast.Call(ast.Name(PROBE, ast.Load()), [ast.Name(stmt.name, ast.Load())], []),
            )
            body.append(ast.copy_location(wrap, stmt))
    tree.body = body
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec", dont_inherit=True)


class _InstrumentingLoader(importlib.machinery.SourceFileLoader):
    """Loads a user module from source with probes; never reads or writes the bytecode cache."""

    recorder: Recorder

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        return instrument(self.get_data(path), path)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__[PROBE] = self.recorder.probe
        super().exec_module(module)


class _UserFinder(importlib.abc.MetaPathFinder):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        if not is_user_file(Path(spec.origin), self.recorder.root):
            return None
        loader = _InstrumentingLoader(fullname, spec.origin)
        loader.recorder = self.recorder
        spec.loader = loader
        return spec


def _library_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return [Path(d).resolve() for d in dirs]


def is_user_file(path: Path, root: Path) -> bool:
    """Under the project root and not part of an installed environment (a venv inside the project)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root) or {"site-packages", "dist-packages"} & set(resolved.parts):
        return False
    return not any(resolved.is_relative_to(d) for d in _library_dirs() if not root.is_relative_to(d))


# ---- running a program -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """What to run: a script path or a module name, and its arguments."""

    script: Path | None
    module: str | None
    args: tuple[str, ...]

    @property
    def argv(self) -> list[str]:
        return [str(self.script) if self.script else str(self.module), *self.args]


def run_traced(program: Program, recorder: Recorder) -> dict[str, object]:
    """Run `program` as `__main__` with probes installed; returns facts about the run."""
    finder = _UserFinder(recorder)
    saved_argv, saved_path, saved_main = sys.argv[:], sys.path[:], sys.modules.get("__main__")
    error: str | None = None
    exit_code = 0
    start = time.perf_counter()
    try:
        if program.script is not None:
            origin = program.script.resolve()
            sys.path.insert(0, str(origin.parent))
        else:
            sys.path.insert(0, str(Path.cwd()))
            origin = _module_origin(str(program.module))
        sys.argv = [str(origin), *program.args]
        code = instrument(origin.read_bytes(), str(origin))
        main = types.ModuleType("__main__")
        main.__dict__.update({"__file__": str(origin), "__builtins__": __builtins__, PROBE: recorder.probe})
        if program.module is not None:
            main.__dict__["__package__"] = (
                program.module.rpartition(".")[0] if origin.name != "__main__.py" else program.module
            )
        sys.modules["__main__"] = main
        sys.meta_path.insert(0, finder)
        exec(code, main.__dict__)
    except SystemExit as done:
        exit_code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    except KeyboardInterrupt:
        exit_code = 130
        error = "KeyboardInterrupt"
    except BaseException:  # the traced program's own failure: report it, keep the profile
        error = traceback.format_exc()
        print(error, file=sys.stderr, end="")
        exit_code = 1
    finally:
        wall = time.perf_counter() - start
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        sys.argv, sys.path[:] = saved_argv, saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
    return {
        "argv": program.argv,
        "module": program.module,
        "root": str(recorder.root),
        "python": ".".join(map(str, sys.version_info[:3])),
        "wall_seconds": wall,
        "exit_code": exit_code,
        "error": error,
    }


def _module_origin(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        raise FileNotFoundError(f"No module named {name!r}")
    if spec.submodule_search_locations:  # a package: run its __main__
        main = Path(spec.origin).parent / "__main__.py"
        if not main.exists():
            raise FileNotFoundError(f"{name!r} is a package and has no __main__.py")
        return main
    return Path(spec.origin)


def write_profile(profile_path: Path, recorder: Recorder, program: Mapping[str, object]) -> dict[str, object]:
    from optcompiler.emit import write_atomic

    profile_path.parent.mkdir(parents=True, exist_ok=True)
    samples_dir = profile_path.parent / "samples" if recorder.samples else None
    if samples_dir is not None and samples_dir.exists():
        for old in samples_dir.glob("*.npz"):
            old.unlink()
    profile = recorder.profile(program, samples_dir)
    write_atomic(profile_path, json.dumps(profile, indent=1) + "\n")
    return profile


def read_profile(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"{path}: not an optc profile of version {VERSION}")
    return data


# ---- using a profile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HotKernel:
    file: Path
    name: str
    share: float
    self_seconds: float
    signature: Mapping[str, Any]
    examples: tuple[dict[str, object], ...]
    module: str = ""
    calls: int = 0  # calls in the traced run


def hot_kernels(
    profile: Mapping[str, Any], profile_path: Path, min_share: float, limit: int
) -> list[HotKernel]:
    """Top-level functions worth optimizing: at least `min_share` of the run, hottest first."""
    root = Path(profile["program"]["root"])
    out: list[HotKernel] = []
    for fn in profile["functions"]:
        if fn["share"] < min_share or "." in fn["name"] or not fn["signatures"]:
            continue
        signature = fn["signatures"][0]
        examples = tuple(load_sample(profile_path.parent / s, signature) for s in signature["samples"])
        out.append(
            HotKernel(
                root / fn["file"],
                fn["name"],
                fn["share"],
                fn["self_seconds"],
                signature,
                examples,
                fn["module"],
                int(fn.get("calls", 0)),
            )
        )
    return out[:limit]


def type_hint(facts: Mapping[str, Any]) -> str | None:
    """The `[tool.optc] arg_types` spelling of one observed argument type."""
    kind = facts.get("kind")
    if kind == "array":
        return f"{facts['dtype']}[{', '.join([':'] * int(facts['ndim']))}]"
    if kind in ("int", "float"):
        return str(facts.get("dtype") or kind)
    if kind == "bool":
        return "bool"
    return None


def kernel_config(config: Any, kernel: HotKernel, source: str) -> Any:
    """The file's Config told the kernel's observed argument types and its largest observed sizes."""
    from optcompiler.analysis import ANON_DIM, analyze
    from optcompiler.frontend import lift_function

    hints = {a["name"]: h for a in kernel.signature["args"] if (h := type_hint(a)) is not None}
    arg_types = dict(config.arg_types)
    arg_types.update({f"{kernel.name}.{p}": h for p, h in hints.items()})
    config = replace(config, arg_types=tuple(sorted(arg_types.items())))
    try:
        facts = analyze(lift_function(source, str(kernel.file), kernel.name), hints)
    except Exception:  # outside the subset: the pipeline reports why
        return config
    names = [a["name"] for a in kernel.signature["args"]]
    biggest = max(kernel.signature["shapes"], key=lambda s: _elements(s["shapes"]))["shapes"]
    sizes: dict[str, int] = {}
    for name, shape in zip(names, biggest, strict=False):
        for symbol, extent in zip(facts.array_dims.get(name, ()), shape, strict=False):
            if symbol != ANON_DIM:
                sizes[symbol] = max(sizes.get(symbol, 0), int(extent))
    for example in kernel.examples[-1:]:
        for name in facts.size_symbols:
            if isinstance(example.get(name), int):
                sizes[name] = int(example[name])  # type: ignore[arg-type]
    if not sizes:
        return config
    kernel_sizes = dict(config.kernel_sizes)
    kernel_sizes[kernel.name] = tuple(sorted(sizes.items()))
    return replace(config, kernel_sizes=tuple(sorted(kernel_sizes.items())))


def traced_calls(config: Any, kernel: HotKernel) -> Any:
    """The Config told how often the traced run called `kernel`, unless [tool.optc] calls names it."""
    own = dict(config.kernel_calls)
    if kernel.name in own or kernel.calls <= 0:
        return config
    own[kernel.name] = kernel.calls
    return replace(config, kernel_calls=tuple(sorted(own.items())))


@dataclass(frozen=True)
class Row:
    file: str
    kernel: str
    share: float
    outcome: str  # the chosen variant, or why the kernel was left as written
    speedup: float | None  # CPython original / optimized, on the recorded inputs


def optimize_profile(
    profile_path: Path,
    *,
    min_share: float = 0.01,
    limit: int = 20,
    out_dir: Path | None = None,
    in_place: bool = False,
    overrides: Mapping[str, object] | None = None,
    say: Callable[[str], None] = print,
    startup: float | None = None,
) -> list[Row]:
    """Optimize the profile's hot kernels file by file, verified on their recorded inputs too.

    Compiled code is not free: each process imports Numba (`startup`, measured when None) and
    loads each kernel's machine code (LOAD_SECONDS). A kernel the run spent less than that in is
    left as written, and when the time the traced run would save falls short of the start-up,
    nothing is written: a workload like the traced one would only get slower. Compile time: what
    is written is compiled into Numba's cache here (`warm_cache`), so for imported modules the
    settings' `calls` weighs it (the runs the cache serves); the script itself cannot be warmed, so
    its kernels' traced call counts do (unless [tool.optc] names them): a run like the traced one
    compiles them. `startup=0` (`--ignore-startup`) is for runs known to be longer than the traced
    one: then `calls` comes from the settings throughout."""
    from optcompiler import frontend, pipeline
    from optcompiler.config import load_config
    from optcompiler.emit import write_atomic

    profile = read_profile(profile_path)
    root = Path(profile["program"]["root"])
    hot = hot_kernels(profile, profile_path, min_share, limit)
    startup = startup_seconds() if startup is None and hot else (startup or 0.0)
    by_file: dict[Path, list[HotKernel]] = {}
    rows: list[Row] = []
    for kernel in hot:
        if startup and kernel.self_seconds < LOAD_SECONDS:
            rel = _rel(kernel.file, root)
            why = (
                f"left as written: the run spent {kernel.self_seconds * 1e3:.0f} ms in it, less than loading"
                f" compiled code costs (~{LOAD_SECONDS * 1e3:.0f} ms)"
            )
            rows.append(Row(rel, kernel.name, kernel.share, why, None))
            continue
        by_file.setdefault(kernel.file, []).append(kernel)
    outputs: list[tuple[Path, str, list[HotKernel]]] = []
    for path, kernels in by_file.items():
        rel = _rel(path, root)
        source = frontend.read_source(path)
        config = load_config(path.parent, dict(overrides or {}))
        for kernel in kernels:
            config = kernel_config(config, kernel, source)
            if startup and kernel.module in ("", "__main__"):
                # the script itself: optc cannot warm Numba's cache for it (`warm_cache`), so a run
                # like the traced one compiles, and its call count weighs the compile time
                config = traced_calls(config, kernel)
        result = pipeline.optimize_source(
            source,
            str(path),
            config,
            examples={k.name: k.examples for k in kernels},
            only=frozenset(k.name for k in kernels),
        )
        module = frontend.parse(source, str(path))
        by_name = {r.kernel: r for r in result.kernels}
        for kernel in kernels:
            res = by_name.get(kernel.name)
            if isinstance(res, pipeline.Emitted):
                speedup = measure_on_samples(module, source, str(path), res, kernel.examples)
                rows.append(Row(rel, kernel.name, kernel.share, pipeline.describe(res), speedup))
            else:
                reason = getattr(res, "reason", "not found in the file")
                rows.append(Row(rel, kernel.name, kernel.share, f"left as written: {reason}", None))
        if result.changed:
            target = path if in_place else (out_dir or profile_path.parent / "optimized") / rel
            outputs.append((target, result.output, kernels))
    by_kernel = {(r.file, r.kernel): r for r in rows}
    saved = sum(
        k.self_seconds * (1 - 1 / r.speedup)
        for _, _, kernels in outputs
        for k in kernels
        if (r := by_kernel.get((_rel(k.file, root), k.name))) is not None and r.speedup
    )
    if outputs and startup and saved < startup:
        say(
            f"optc: nothing written: a run like the traced one would save {saved:.2f} s, less than the"
            f" {startup:.2f} s each process pays to import Numba (--ignore-startup writes anyway)"
        )
        return rows
    for target, text, kernels in outputs:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text)
        say(f"optc: wrote {target}")
        warmed = warm_cache(target, profile_path, kernels[0].module, [k.name for k in kernels])
        if warmed:
            say(f"optc: compiled {', '.join(warmed)} into Numba's cache next to {target.name}")
    return rows


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


_WARM = """
import importlib.util, json, sys
from pathlib import Path
from optcompiler import trace
target, profile_path, name, names = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
spec = importlib.util.spec_from_file_location(name, target)
module = importlib.util.module_from_spec(spec)
sys.path.insert(0, str(target.parent))
sys.modules[name] = module
spec.loader.exec_module(module)
profile = trace.read_profile(profile_path)
for kernel in trace.hot_kernels(profile, profile_path, 0.0, 10**6):
    if kernel.name in names:
        for example in kernel.examples:
            getattr(module, kernel.name)(**{k: trace._copies([v])[0] for k, v in example.items()})
        print(kernel.name)
"""


def warm_cache(target: Path, profile_path: Path, module: str, names: Sequence[str]) -> list[str]:
    """Call the optimized kernels once on their recorded inputs in a fresh process, so the emitted
    `cache=True` functions are compiled into Numba's on-disk cache and the program's first run
    does not pay the compilation. Best effort: a failure here only costs that first run.

    Numba's cache entries name the module they were compiled in, so the module is loaded under
    the name the program imported it by; the script itself (`__main__`) is not warmed."""
    if not module or module == "__main__":
        return []
    done = subprocess.run(
        [sys.executable, "-c", _WARM, str(target.resolve()), str(profile_path.resolve()), module, *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return done.stdout.split() if done.returncode == 0 else []


def measure_on_samples(
    module: Any,
    source: str,
    path: str,
    emitted: Any,
    examples: Sequence[Mapping[str, object]],
    budget: float = 3.0,
) -> float | None:
    """CPython original time over optimized time, both on copies of the recorded arguments
    (min of interleaved repeats after a compiling warm-up)."""
    from optcompiler import pipeline
    from optcompiler.frontend import lift_function

    if not examples:
        return None
    kernel = lift_function(source, path, emitted.kernel)
    prelude = pipeline.module_prelude(module, kernel)
    original_ns: dict[str, Any] = {"__name__": "_optc_trace_original"}
    exec(compile(prelude + kernel.source, path, "exec"), original_ns)
    from optcompiler.emit import variant_name

    with tempfile.TemporaryDirectory(prefix="optc-trace-") as folder:
        file = Path(folder) / "_optc_trace_variant.py"
        file.write_text("import numba\n" + prelude + emitted.source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("_optc_trace_variant", file)
        assert spec is not None and spec.loader is not None
        variant_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(variant_module)  # numba's cache=True needs a real file
        return _time_pair(
            original_ns[kernel.name],
            getattr(variant_module, variant_name(kernel.name)),
            [p.name for p in kernel.params],
            examples,
            budget,
        )


def _time_pair(
    original: Callable[..., Any],
    variant: Callable[..., Any],
    names: Sequence[str],
    examples: Sequence[Mapping[str, object]],
    budget: float,
) -> float | None:
    total_original = total_variant = 0.0
    for example in examples:
        args = [example[n] for n in names]
        variant(*_copies(args))  # compile
        best = {"o": math.inf, "v": math.inf}
        deadline = time.perf_counter() + budget / len(examples)
        for _ in range(5):
            for which, fn in (("o", original), ("v", variant)):
                fresh = _copies(args)
                start = time.perf_counter()
                fn(*fresh)
                best[which] = min(best[which], time.perf_counter() - start)
            if time.perf_counter() > deadline:
                break
        total_original += best["o"]
        total_variant += best["v"]
    return total_original / total_variant if total_variant > 0 else None


def _copies(args: Sequence[object]) -> list[object]:
    return [a.copy() if hasattr(a, "copy") and hasattr(a, "shape") else a for a in args]


def amdahl(rows: Sequence[Row], wall: float | None = None, startup: float = 0.0) -> float | None:
    """Whole-program speed-up if each optimized kernel's share shrinks by its measured factor;
    with the run's `wall` time, also charging a fixed `startup` (importing Numba, loading cached
    machine code) that every process of the optimized program pays once."""
    gained = [(r.share, r.speedup) for r in rows if r.speedup]
    if not gained:
        return None
    total = sum(share for share, _ in gained)
    if total > 1.0:  # kernels ran concurrently in threads: their shares of the wall time overlap
        gained = [(share / total, s) for share, s in gained]
    rest = max(1.0 - sum(share for share, _ in gained), 0.0)
    after = rest + sum(share / s for share, s in gained)
    if wall:
        return wall / (wall * after + startup)
    return 1.0 / after


def startup_seconds() -> float:
    """What a fresh process pays to import Numba (its cached machine code loads on top)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numba"], check=False, capture_output=True)
    return time.perf_counter() - start


def table(rows: Sequence[Row], wall: float | None = None, startup: float = 0.0) -> str:
    lines = [
        "| kernel | share of runtime | speed-up on recorded inputs | chosen |",
        "|---|---:|---:|---|",
    ]
    for r in rows:
        speed = f"{r.speedup:.2f}x" if r.speedup else "-"
        lines.append(f"| {r.file}:{r.kernel} | {r.share:.1%} | {speed} | {r.outcome} |")
    kernels_only = amdahl(rows)
    if kernels_only is not None:
        lines.append("")
        lines.append(f"predicted whole-program speed-up (Amdahl, from the shares above): {kernels_only:.2f}x")
        if wall:
            with_startup = amdahl(rows, wall, startup)
            assert with_startup is not None
            lines.append(
                f"for a run like the traced one ({wall:.2f} s), counting Numba's start-up "
                f"({startup:.2f} s a process): {with_startup:.2f}x"
                + ("; too short a run to pay for compiled code" if with_startup < 1 else "")
            )
    return "\n".join(lines)


# ---- command line ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optc trace",
        description="Run a program under optc's tracer; record hot functions, their argument types, "
        "shapes and sample inputs; optionally optimize the hot kernels.",
    )
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a module, like python -m")
    parser.add_argument(
        "--profile",
        type=Path,
        default=DEFAULT_PROFILE,
        help="where to write the profile (default: .optc/profile.json)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        help="trace functions in files under this folder (default: the script's folder, or the current one with -m)",
    )
    parser.add_argument(
        "--no-samples", action="store_true", help="record no argument values (sensitive data)"
    )
    parser.add_argument(
        "--sample-budget",
        type=float,
        default=DEFAULT_BUDGET_MB,
        metavar="MB",
        help=f"cap on recorded argument values (default {DEFAULT_BUDGET_MB} MB)",
    )
    parser.add_argument(
        "--optimize", action="store_true", help="then optimize the hot kernels and print the speed-up table"
    )
    parser.add_argument(
        "--min-share",
        type=float,
        default=0.01,
        metavar="F",
        help="optimize functions with at least this share of the run (default 0.01)",
    )
    parser.add_argument(
        "--ignore-startup",
        action="store_true",
        help="with --optimize: optimize and write even when the traced run is too short to pay for "
        "importing Numba (for workloads known to run longer)",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="with --optimize: rewrite the program's files instead of writing to .optc/optimized/",
    )
    parser.add_argument(
        "-o",
        "--out-dir",
        type=Path,
        help="with --optimize: where optimized files go (default: .optc/optimized next to the profile)",
    )
    parser.add_argument(
        "program",
        nargs=argparse.REMAINDER,
        help="script.py [args...] (or, after -m MODULE, the module's args)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rest = list(args.program)
    if args.module is None:
        if not rest:
            print(
                "optc trace: error: give a script to run (optc trace script.py [args...]) or -m MODULE",
                file=sys.stderr,
            )
            return 2
        script = Path(rest.pop(0))
        if not script.is_file():
            print(f"optc trace: error: {script}: no such file", file=sys.stderr)
            return 2
        program = Program(script, None, tuple(rest))
        root = (args.root or script.parent).resolve()
    else:
        program = Program(None, args.module, tuple(rest))
        root = (args.root or Path.cwd()).resolve()
    budget = 0 if args.no_samples else int(args.sample_budget * (1 << 20))
    recorder = Recorder(root, samples=not args.no_samples, budget_bytes=budget)
    try:
        facts = run_traced(program, recorder)
    except (FileNotFoundError, SyntaxError, UnicodeDecodeError) as error:
        print(f"optc trace: error: {error}", file=sys.stderr)
        return 2
    profile = write_profile(args.profile, recorder, facts)
    print(_summary(profile, args.profile), file=sys.stderr)
    if facts["exit_code"] not in (0, None):
        return int(facts["exit_code"])  # type: ignore[arg-type]
    if args.optimize:
        startup = 0.0 if args.ignore_startup else startup_seconds()
        rows = optimize_profile(
            args.profile,
            min_share=args.min_share,
            out_dir=args.out_dir,
            in_place=args.in_place,
            say=lambda line: print(line, file=sys.stderr),
            startup=startup,
        )
        wall = float(facts["wall_seconds"])  # type: ignore[arg-type]
        print(
            table(rows, wall, startup)
            if rows
            else f"optc trace: no function took at least {args.min_share:.0%} of the run; nothing to optimize"
        )
    return 0


def _summary(profile: Mapping[str, Any], path: Path) -> str:
    wall = profile["program"]["wall_seconds"]
    functions = profile["functions"]
    lines = [f"optc trace: {len(functions)} function(s) traced in {wall:.2f} s; profile in {path}"]
    for fn in functions[:5]:
        lines.append(f"  {fn['share']:6.1%}  {fn['file']}:{fn['line']} {fn['name']} ({fn['calls']} calls)")
    return "\n".join(lines)
