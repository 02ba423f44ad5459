"""A content-addressed cache of `@optimize` decisions that is never stale.

Numba's own cache misses edits to callees and changes of referenced globals (numba issues #8851,
#8359). An entry here is found by a key that covers everything the decision depends on:

  - the kernel's IR (its parameters and the lifted body's repr, not its text: reformatting and
    comments do not invalidate, and neither does a docstring);
  - every module-level value the kernel reads: the repr of a simple constant, the contents of an
    array, the source of a function (and, recursively, what that function reads);
  - the argument signature and size bucket, the decorator's options;
  - the hardware (`costmodel.hardware.detect().id`) and the versions of optc, Numba, llvmlite,
    NumPy and Python;
  - the cost model that ranked (`cost_model_identity`): the analytic model, or the contents of the
    learned model files of this machine, so `optc calibrate` (a new or retrained model) invalidates
    the decisions the previous model made.

An entry is a directory `<root>/entries/<key[:2]>/<key>/` holding `entry.json` (the decision: the
variant's source, its derivation, the figures, when it was made) and, for a variant, the module
file that defines it, so Numba's `cache=True` keeps its machine code beside it in `__pycache__`.
Both are written atomically, the module first: a reader never sees a decision without its module.
A decision not to optimize (the pipeline's `Unchanged`/`Failed`) is an entry too, so it is not
retried. `load` tells a missing entry from a corrupt one (unreadable JSON, a key that does not
match, a module file missing or changed) so the caller can report the latter and rebuild it.

Lifting a kernel parses its whole module with libcst (tens of milliseconds), so `lift/` remembers,
per exact function text and optc version, the IR digest and the global names the kernel reads: a
restarted process computes the key without parsing anything.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import inspect
import json
import os
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

ENTRY_FILE = "entry.json"
FORMAT = 3  # bump when the entry layout changes; old entries then read as corrupt and are rebuilt


def cache_root() -> Path:
    """`$OPTC_CACHE_DIR`, else the user cache dir (`$XDG_CACHE_HOME/optc`, `~/.cache/optc`)."""
    explicit = os.environ.get("OPTC_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "optc"


# ---- the key --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyParts:
    """Everything a decision depends on, each part as stable text."""

    ir: str  # `ir_digest` of the kernel
    globals: tuple[tuple[str, str], ...]  # (name, fingerprint) of each module-level value it reads
    signature: str  # argument types and size bucket
    options: str  # the decorator's options
    hardware: str  # costmodel.hardware.detect().id
    versions: tuple[tuple[str, str], ...]  # `versions()`
    cost_model: str = ""  # `cost_model_identity(hardware)`, filled in when not given

    def __post_init__(self) -> None:
        if not self.cost_model:
            object.__setattr__(self, "cost_model", cost_model_identity(self.hardware))

    def key(self) -> str:
        payload = json.dumps([FORMAT, *asdict(self).values()], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def cost_model_paths(hardware_id: str, shipped: Path | None = None) -> list[Path]:
    """The learned model files the pipeline may rank with on machine `hardware_id`, in the order
    `costmodel.model.find` tries them: the one `optc calibrate` made, then the one shipped (in
    `shipped`, by default the package's `costmodel/models`)."""
    if shipped is None:
        import optcompiler.costmodel  # its __init__ is empty: no NumPy, no analysis code

        shipped = Path(optcompiler.costmodel.__file__).parent / "models"
    return [cache_root() / "costmodel" / "models" / f"{hardware_id}.txt", shipped / f"{hardware_id}.txt"]


def cost_model_identity(hardware_id: str) -> str:
    """Which cost model ranks on machine `hardware_id`, as stable text: "analytic" when the learned
    model is off (`OPTC_COST_MODEL=analytic`) or this machine has none, else the digest of every
    model file the pipeline may read for it. A file that changes (a calibration) changes the text;
    hashing every candidate file, not only the one `find` would pick, never misses a change and
    needs no model parsing (cheap enough for `--check`'s cached path)."""
    if os.environ.get("OPTC_COST_MODEL", "").strip().lower() == "analytic":
        return "analytic"
    digests = []
    for path in cost_model_paths(hardware_id):
        try:
            stat = path.stat()
        except OSError:
            continue
        digests.append(_file_digest(path, stat.st_mtime_ns, stat.st_size))
    return "learned " + " ".join(digests) if digests else "analytic"


@functools.lru_cache(maxsize=8)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return f"unreadable {mtime_ns} {size}"


def versions() -> tuple[tuple[str, str], ...]:
    import llvmlite
    import numba
    import numpy as np

    from optcompiler import __version__

    return (
        ("optc", __version__),
        ("numba", numba.__version__),
        ("llvmlite", llvmlite.__version__),
        ("numpy", np.__version__),
        ("python", sys.version),
    )


def ir_digest(name: str, params: Iterable[object], body: object) -> str:
    """The kernel's identity as the IR sees it: its name, parameters and body repr."""
    text = repr((name, tuple(params), body))
    return hashlib.sha256(text.encode()).hexdigest()


def referenced_globals(names: Iterable[str], namespace: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """(name, fingerprint) for each of `names` bound in `namespace` (a module's globals); names
    bound nowhere are recorded as such (builtins are covered by the Python version)."""
    seen: set[int] = set()
    out = []
    for name in sorted(set(names)):
        if name in namespace:
            out.append((name, fingerprint(namespace[name], seen)))
        elif not hasattr(builtins, name):
            out.append((name, "unbound"))
    return tuple(out)


_SIMPLE = (bool, int, float, complex, str, bytes, type(None))


def fingerprint(value: object, seen: set[int] | None = None) -> str:
    """Stable text that changes whenever `value` could change what a kernel computes.

    Modules by name (their versions are in the key where it matters), constants by repr, arrays by
    contents, functions by source plus what they read in turn. Anything else falls back to its
    repr, which may include an address: such a kernel is re-optimized by each process rather than
    ever served a stale decision.
    """
    import numpy as np

    seen = set() if seen is None else seen
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if isinstance(value, _SIMPLE):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, tuple) and all(isinstance(v, (*_SIMPLE, tuple)) for v in value):
        return "tuple (" + ", ".join(fingerprint(v, seen) for v in value) + ")"
    if isinstance(value, np.ndarray):
        data = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return f"ndarray {value.dtype.str} {value.shape} {data}"
    if isinstance(value, np.generic):
        return f"{type(value).__name__} {value!r}"
    function = getattr(value, "py_func", value)  # a numba dispatcher: its Python function and options
    if isinstance(function, types.FunctionType):
        if id(function) in seen:
            return f"function {function.__qualname__} (seen)"
        seen.add(id(function))
        options = getattr(value, "targetoptions", None)
        reads = referenced_globals(_code_names(function.__code__), function.__globals__)
        return f"function {function.__qualname__} {options!r} {_source(function)} reads {reads!r}"
    if isinstance(value, type):
        return f"class {value.__module__}.{value.__qualname__} {_source(value)}"
    return f"{type(value).__module__}.{type(value).__qualname__} {value!r}"


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # nested functions and comprehensions
            names |= _code_names(const)
    return names


def _source(obj: object) -> str:
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return repr((code.co_code, code.co_consts, code.co_names)) if code is not None else "<no source>"


# ---- entries ----------------------------------------------------------------------------------------

Outcome = str  # "variant": `source` was chosen and verified; "fallback": the original runs, `reason` says why


@dataclass(frozen=True)
class Entry:
    key: str
    kernel: str
    outcome: Outcome
    signature: str  # readable, e.g. "X: float64 2-D C array; largest dimension 16-63"
    reason: str = ""  # why the original runs (fallback)
    variant_source: str = ""  # the variant's `def`, as the pipeline emitted it
    module_file: str = ""  # the module defining the variant and its guard, in the entry's directory
    module_sha256: str = ""
    guard: str = ""  # the module's function to call
    alias_pairs: tuple[tuple[str, str], ...] = ()  # arguments that must not overlap (else: the original)
    bounds: tuple[str, ...] = ()  # shape conditions for the original to index in range (else: the original)
    # errors on which the original runs instead (`pipeline.retry_errors`)
    retry_original: tuple[str, ...] = ()
    target: str = ""
    derivation: tuple[str, ...] = ()
    why: tuple[str, ...] = ()  # one legality line per derivation step
    predicted_speedup: float | None = None
    measured_speedup: float | None = None
    measured_at: str = ""
    verified: str = ""
    build_seconds: float | None = None  # pipeline, including Numba compiles and verification
    created: str = ""
    optc_version: str = ""
    path: str = field(default="", compare=False)  # where it was read from or written to

    @property
    def directory(self) -> Path:
        return Path(self.path).parent

    @property
    def module_path(self) -> Path:
        return self.directory / self.module_file


@dataclass(frozen=True)
class Missing:
    path: Path


@dataclass(frozen=True)
class Corrupt:
    path: Path
    why: str


def entry_dir(root: Path, key: str) -> Path:
    return root / "entries" / key[:2] / key


def load(root: Path, key: str) -> Entry | Missing | Corrupt:
    """The entry stored under `key`; `Missing` when there is none, `Corrupt` (with the reason) when
    what is there cannot be trusted."""
    path = entry_dir(root, key) / ENTRY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Missing(path)
    except OSError as error:
        return Corrupt(path, f"unreadable: {error.strerror or error}")
    try:
        data = json.loads(text)
    except ValueError as error:
        return Corrupt(path, f"bad JSON: {error}")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return Corrupt(path, "not an entry of this cache format")
    data.pop("format")
    names = {f.name for f in fields(Entry)} - {"path"}
    if set(data) != names:
        return Corrupt(path, f"fields {sorted(set(data) ^ names)} missing or unexpected")
    if data["key"] != key:
        return Corrupt(path, "key mismatch: the entry was stored under another key")
    data["alias_pairs"] = tuple(tuple(p) for p in data["alias_pairs"])
    data["bounds"] = tuple(data["bounds"])
    data["retry_original"] = tuple(data["retry_original"])
    data["derivation"] = tuple(data["derivation"])
    data["why"] = tuple(data["why"])
    try:
        entry = Entry(**data, path=str(path))
    except TypeError as error:
        return Corrupt(path, f"bad fields: {error}")
    if entry.outcome not in ("variant", "fallback"):
        return Corrupt(path, f"unknown outcome {entry.outcome!r}")
    if entry.outcome == "variant":
        try:
            module = entry.module_path.read_bytes()
        except OSError:
            return Corrupt(path, f"variant module {entry.module_file} is missing")
        if hashlib.sha256(module).hexdigest() != entry.module_sha256:
            return Corrupt(path, f"variant module {entry.module_file} does not match the entry")
    return entry


def store(root: Path, entry: Entry, module_text: str | None = None) -> Entry:
    """Write `entry` (and the variant's module) atomically; the stored entry, with its path."""
    from optcompiler import __version__
    from optcompiler.emit import write_atomic  # emit imports libcst: only the writing path pays for it

    directory = entry_dir(root, entry.key)
    directory.mkdir(parents=True, exist_ok=True)
    if module_text is not None:
        write_atomic(directory / entry.module_file, module_text)
        digest = hashlib.sha256(module_text.encode("utf-8")).hexdigest()
        entry = replace(entry, module_sha256=digest)
    created = entry.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
    entry = replace(entry, created=created, optc_version=entry.optc_version or __version__)
    data = {"format": FORMAT, **{k: v for k, v in asdict(entry).items() if k != "path"}}
    path = directory / ENTRY_FILE
    write_atomic(path, json.dumps(data, indent=1) + "\n")
    return replace(entry, path=str(path))


# ---- lifting, remembered per function text -----------------------------------------------------------


@dataclass(frozen=True)
class Lifted:
    """What the key needs from a lifted kernel; or why it cannot be lifted (`unsupported`)."""

    ir: str = ""
    reads: tuple[str, ...] = ()  # global names the kernel reads
    unsupported: str = ""


def text_digest(function_text: str) -> str:
    from optcompiler import __version__

    return hashlib.sha256(f"optc {__version__}\n{function_text}".encode()).hexdigest()


def _lift_path(root: Path, digest: str) -> Path:
    return root / "lift" / f"{digest}.json"


def load_lifted(root: Path, digest: str) -> Lifted | None:
    """The remembered lift of a function text; None when there is none or it is unreadable (then
    the caller lifts again and overwrites it, nothing lost)."""
    try:
        data = json.loads(_lift_path(root, digest).read_text(encoding="utf-8"))
        return Lifted(str(data["ir"]), tuple(map(str, data["reads"])), str(data["unsupported"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_lifted(root: Path, digest: str, lifted: Lifted) -> None:
    from optcompiler.emit import write_atomic

    path = _lift_path(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(asdict(lifted)) + "\n")


# ---- the command line: stamps on generated files, and remembered --check results -----------------------

STAMP = "# optc-stamp: "


def settings_text(config: object) -> str:
    """The settings that decide what optc writes for a file, as stable text: every Config field but
    the ones that only change how it talks or where it looks (verbosity, threads, the hooks' own)."""
    skip = {"verbose", "quiet", "threads", "outputs", "check_threshold"}
    from optcompiler import __version__

    values = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in skip}  # type: ignore[arg-type]
    return json.dumps(["optc", __version__, sorted(values.items())], default=repr)


def _short(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def stamp_line(source: bytes, settings: str, body: str) -> str:
    """The last line of a generated output: what it was generated from (the input's bytes, the
    settings, optc's version) and its own text, so a changed input, setting or hand edit is seen
    without running the pipeline. No hardware: the file is committed and read on every machine."""
    return (
        f"{STAMP}{_short(source)} {_short(settings)} {_short(body)}"
        " (input, settings, this file; `optc --outputs` regenerates it)\n"
    )


def with_stamp(body: str, source: bytes, settings: str) -> str:
    body = body if body.endswith("\n") or not body else body + "\n"
    return body + stamp_line(source, settings, body)


def stamp_status(output: str, source: bytes, settings: str) -> str:
    """`fresh` when `output` is what optc wrote from `source` under `settings`, untouched since;
    else why not: `unstamped` (no stamp), `stale` (input, settings or optc changed), `edited`."""
    body, newline, last = output.rstrip("\n").rpartition("\n")
    if not last.startswith(STAMP):
        return "edited" if f"\n{STAMP}" in f"\n{output}" else "unstamped"
    expected = stamp_line(source, settings, body + newline).rstrip("\n").split()
    found = last.split()
    if found[:4] != expected[:4]:
        return "stale"
    return "fresh" if found == expected else "edited"


def result_key(source: bytes, settings: str) -> str:
    """`--check`'s results depend on the input, the settings, the machine and the cost model that
    ranks on it (`cost_model_identity`); package versions are read from metadata, without
    importing Numba."""
    from importlib import metadata

    from optcompiler.costmodel.hardware import detect

    packages = []
    for name in ("numba", "llvmlite", "numpy", "libcst"):
        try:
            packages.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            packages.append((name, ""))
    hardware_id = detect().id
    payload = json.dumps(
        [
            FORMAT,
            _short(source),
            settings,
            hardware_id,
            cost_model_identity(hardware_id),
            packages,
            sys.version,
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _result_path(root: Path, key: str) -> Path:
    return root / "results" / key[:2] / f"{key}.json"


def load_result(root: Path, key: str) -> object | None:
    """A remembered `--check` result (JSON data); None when there is none or it is unreadable."""
    try:
        return json.loads(_result_path(root, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def store_result(root: Path, key: str, data: object) -> None:
    """Remember a `--check` result; a cache that cannot be written only costs speed."""
    from optcompiler.emit import write_atomic

    path = _result_path(root, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data) + "\n")
    except OSError:
        pass
