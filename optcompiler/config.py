"""Settings: `[tool.optc]` in the nearest pyproject.toml merged with command-line flags (flags win)."""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import ModuleType
from typing import Literal

from optcompiler.errors import OptcError
from optcompiler.llm.settings import LlmConfig

TargetChoice = Literal["auto", "cpu", "gpu"]
SizeProfile = tuple[tuple[str, int], ...]  # symbol -> size, sorted by symbol


@dataclass(frozen=True)
class Config:
    target: TargetChoice = "auto"
    # size profile, e.g. (("m", 500), ("n", 1000)); dimensions not named use default_size
    sizes: SizeProfile = ()
    default_size: int = 1000
    strict_fp: bool = False  # no reassociation at all; verification demands bit-identical results
    fastmath: bool = False  # opt-in: allows fastmath-tagged rules and numba fastmath flags
    verify: bool = True
    threads: int | None = None  # None: all cores
    exclude: tuple[str, ...] = ()  # fnmatch globs against file paths and kernel names
    # "kernel.param" -> numba-style type, e.g. (("gemm.A", "float64[:, :]"),)
    arg_types: tuple[tuple[str, str], ...] = ()
    # e-graph budgets: 5k nodes, 12 iterations, 3 s per kernel by default. DESIGN.md's 1 s is
    # raised: with gram, fresh.store and distribution over sunk starts, five corpus kernels (bicg,
    # correlation, cosine_similarity, gemver, mvt) saturate in 1.1-2.3 s on the 2-core VM, and a
    # run cut by the clock depends on the machine's load (its output bytes could too)
    node_limit: int = 5000
    iter_limit: int = 12
    time_limit: float = 3.0
    top_k: int = 32  # distinct variants extracted per kernel
    max_verify: int = 6  # candidates tried in verification, best first
    verify_timeout: float = 120.0  # seconds per candidate (its compile and all its input sets)
    verbose: int = 0
    quiet: bool = False
    # kernel -> its own profile over `sizes`, e.g. (("moving_average", (("n", 2000000), ("w", 16))),):
    # kernels of one file bind the same symbol names to very different sizes
    kernel_sizes: tuple[tuple[str, SizeProfile], ...] = ()
    # input file -> generated file, relative to the pyproject.toml naming them, e.g.
    # (("src/kernels.py", "src/kernels_fast.py"),): teams commit generated code, so `optc --outputs`
    # (the `optc` pre-commit hook) keeps each output in step with its input, like a formatter
    outputs: tuple[tuple[str, str], ...] = ()
    # `--check` fails only for kernels predicted more than this many times faster than plain njit
    # (None: for any kernel it would optimize), so the `optc-check` hook flags what is worth it
    check_threshold: float | None = None
    # [tool.optc.llm]: model suggestions, off unless `--llm` or `enabled = true` (optcompiler/llm)
    llm: LlmConfig = field(default_factory=LlmConfig)
    # Offer variants with no loop left (slices, `@`, `.sum()`) as plain NumPy too: no compile time,
    # which wins short runs. `@optimize` turns it off (its dispatcher is compiled and calls the variant).
    numpy_target: bool = True
    # Expected calls of each kernel in one run of the program: a verified variant whose compile time
    # is not won back in that many calls (at the size profile) is not emitted. None: compile time is
    # reported but not weighed (a `Config` built in code, as `@optimize` does); settings read by
    # `load_config` default to DEFAULT_CALLS. Not `[tool.optc.llm] max-calls`, the model's budget.
    calls: int | None = None
    kernel_calls: tuple[tuple[str, int], ...] = ()  # kernel -> its own count, e.g. (("smooth", 3),)

    def size_of(self, symbol: str) -> int:
        return dict(self.sizes).get(symbol, self.default_size)

    def sizes_for(self, kernel: str) -> dict[str, int]:
        """The profile to predict `kernel` at: the file's sizes with the kernel's own on top."""
        return {**dict(self.sizes), **dict(dict(self.kernel_sizes).get(kernel, ()))}

    def calls_for(self, kernel: str) -> int | None:
        """How often `kernel` is expected to run in one process: its own count, else the file's."""
        return dict(self.kernel_calls).get(kernel, self.calls)

    def arg_type_hint(self, kernel: str, param: str) -> str | None:
        return dict(self.arg_types).get(f"{kernel}.{param}")


# ---- loading: [tool.optc] from the nearest pyproject.toml, then command-line flags on top ---------------

# Calls of a kernel in one run that optc assumes when it is not told (`calls` in [tool.optc],
# `--calls`, or the count `optc trace` recorded). Each run on a machine without Numba's cache for the
# file (the first, a fresh container, a read-only install) compiles the kernel, so optc charges one
# compilation to one run's calls. A thousand keeps what pays for itself within a typical loop of a
# program (anything that saves a millisecond a call for a second of compiling) and refuses kernels
# that save microseconds, whose compilation a short run never wins back.
DEFAULT_CALLS = 1000

PYPROJECT = "pyproject.toml"
_SECTION = ("tool", "optc")


class _Invalid(ValueError):
    """A setting's value has the wrong type or range; `keys` narrow it to an entry of a (nested) table."""

    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.message = message
        self.keys = keys


class _Fields(dict[str, object]):
    """A parser's result that sets several Config fields at once (`sizes` fills `kernel_sizes` too)."""


def _describe(value: object) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}
    kind = "a table" if isinstance(value, Mapping) else kinds.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


def _positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Invalid(f"expected a positive integer, got {_describe(value)}")
    return value


def _positive_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise _Invalid(f"expected a positive number of seconds, got {_describe(value)}")
    return float(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_describe(value)}")
    return value


def _target(value: object) -> str:
    choices = ("auto", "cpu", "gpu")
    if value not in choices:
        raise _Invalid(f"expected one of {', '.join(map(repr, choices))}, got {_describe(value)}")
    return str(value)


def _entries(value: object, example: str) -> list[tuple[object, object]]:
    """A TOML table, or (from the command line) a mapping or a sequence of pairs."""
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        return [tuple(p) for p in value]
    raise _Invalid(f"expected a table like {example}, got {_describe(value)}")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KERNEL_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z")


_SIZES_EXAMPLE = "{n = 1000, m = 500}"
_KERNEL_SIZES_EXAMPLE = "{n = 2000000, w = 16}"


def _size(size: object, *keys: str) -> int:
    """A positive size; an error names its entry (`n`, or `moving_average.w`)."""
    try:
        return _positive_int(size)
    except _Invalid as error:
        raise _Invalid(f"{'.'.join(keys)}: {error.message}", *keys) from None


def _kernel_profile(kernel: str, value: object, into: dict[str, int]) -> None:
    """Adds a kernel's table ({symbol = size}) to `into`, refusing symbols it already has."""
    try:
        entries = _entries(value, _KERNEL_SIZES_EXAMPLE)
    except _Invalid as error:
        raise _Invalid(f"{kernel}: {error.message}", kernel) from None
    for symbol, size in entries:
        if not isinstance(symbol, str) or not _IDENTIFIER.match(symbol):
            raise _Invalid(
                f"{kernel}: size names are identifiers like `n`, got {symbol!r}", kernel, str(symbol)
            )
        if symbol in into:
            raise _Invalid(f"{kernel}.{symbol} is given twice", kernel, symbol)
        into[symbol] = _size(size, kernel, symbol)


def _size_profiles(value: object) -> _Fields:
    """`sizes`: `symbol = size` entries are the file's profile; a `kernel = {symbol = size}` table, or a
    `"kernel.symbol" = size` entry (the form `--sizes` uses), is that kernel's own."""
    sizes: dict[str, int] = {}
    kernels: dict[str, dict[str, int]] = {}
    for name, size in _entries(value, _SIZES_EXAMPLE):
        if isinstance(name, str) and _IDENTIFIER.match(name) and isinstance(size, Mapping):
            _kernel_profile(name, size, kernels.setdefault(name, {}))
        elif isinstance(name, str) and _KERNEL_PARAM.match(name):
            kernel, _, symbol = name.partition(".")
            _kernel_profile(kernel, {symbol: size}, kernels.setdefault(kernel, {}))
        elif isinstance(name, str) and _IDENTIFIER.match(name):
            sizes[name] = _size(size, name)
        else:
            raise _Invalid(
                f"size names are identifiers like `n`, or kernel.symbol like `moving_average.w`, got {name!r}",
                str(name),
            )
    return _Fields(sizes=_sorted_profile(sizes), kernel_sizes=_sorted_kernels(kernels))


def _kernel_sizes(value: object) -> tuple[tuple[str, SizeProfile], ...]:
    """`kernel_sizes` given to `load_config` directly: kernel -> {symbol: size}, or Config's own form."""
    kernels: dict[str, dict[str, int]] = {}
    for kernel, profile in _entries(value, f"{{moving_average = {_KERNEL_SIZES_EXAMPLE}}}"):
        if not isinstance(kernel, str) or not _IDENTIFIER.match(kernel):
            raise _Invalid(f"kernel names are identifiers like `gemm`, got {kernel!r}", str(kernel))
        _kernel_profile(kernel, profile, kernels.setdefault(kernel, {}))
    return _sorted_kernels(kernels)


def _sorted_profile(sizes: Mapping[str, int]) -> SizeProfile:
    return tuple(sorted(sizes.items()))


def _sorted_kernels(kernels: Mapping[str, Mapping[str, int]]) -> tuple[tuple[str, SizeProfile], ...]:
    """Config's canonical form: sorted, kernels with empty tables left out (they change nothing)."""
    return tuple((kernel, _sorted_profile(profile)) for kernel, profile in sorted(kernels.items()) if profile)


def _globs(value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(g, str) and g for g in value):
        raise _Invalid(
            f'expected an array of glob strings like ["tests/*", "slow_*"], got {_describe(value)}'
        )
    return tuple(value)


def _arg_types(value: object) -> tuple[tuple[str, str], ...]:
    types: dict[str, str] = {}
    for key, numba_type in _entries(value, '{"gemm.A" = "float64[:, :]"}'):
        if not isinstance(key, str) or not _KERNEL_PARAM.match(key):
            raise _Invalid(f'keys are "kernel.param", like "gemm.A", got {key!r}', str(key))
        if not isinstance(numba_type, str) or not numba_type.strip():
            raise _Invalid(
                f'{key}: expected a numba type string like "float64[:, :]", got {_describe(numba_type)}', key
            )
        types[key] = numba_type.strip()
    return tuple(sorted(types.items()))


def _outputs(value: object) -> tuple[tuple[str, str], ...]:
    """`outputs`: Python file -> the file optc generates from it; no file both read and written."""
    pairs: dict[str, str] = {}
    for source, output in _entries(value, '{"src/kernels.py" = "src/kernels_fast.py"}'):
        for role, path in (("input", source), ("output", output)):
            if not isinstance(path, str) or not path.endswith(".py"):
                raise _Invalid(
                    f'{role} files are Python paths like "src/kernels.py", got {path!r}', str(source)
                )
        key = os.path.normpath(source)
        if key in pairs:
            raise _Invalid(f"{source} is given twice", source)
        pairs[key] = os.path.normpath(output)
    written = list(pairs.values())
    for source, output in pairs.items():
        if output in pairs:
            raise _Invalid(f"{output} is both an input and an output; optc never rewrites its inputs", source)
        if written.count(output) > 1:
            raise _Invalid(f"{output} is the output of more than one input", source)
    return tuple(sorted(pairs.items()))


def _threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value < float("inf"):
        raise _Invalid(f"expected a speed-up of at least 1 (like 1.5 for 1.5x), got {_describe(value)}")
    return float(value)


def _text(value: object, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"expected a string like {example!r}, got {_describe(value)}")
    return value.strip()


def _url(value: object) -> str:
    text = _text(value, "http://127.0.0.1:8080/v1")
    if not re.match(r"https?://[^/\s]+", text):
        raise _Invalid(f"expected an http(s) URL like 'http://127.0.0.1:8080/v1', got {text!r}")
    return text


def _temperature(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
        raise _Invalid(f"expected a number from 0 to 2, got {_describe(value)}")
    return float(value)


_CALLS_EXAMPLE = '{"*" = 1000, smooth = 3}'


def _kernel_calls(value: object) -> _Fields:
    """`calls`: a count for every kernel (`calls = 1000`), or a table of per-kernel counts where
    `"*"` is every other kernel's (`[tool.optc.calls]`, `smooth = 3`); the form `--calls` gives
    (pairs, with "*" for the bare count) too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _Fields(calls=_positive_int(value))
    calls: dict[str, int] = {}
    every: int | None = None
    for name, count in _entries(value, _CALLS_EXAMPLE):
        if name == "*":
            every = _count(count, "*")
        elif isinstance(name, str) and _IDENTIFIER.match(name):
            calls[name] = _count(count, name)
        else:
            raise _Invalid(
                f'keys are kernel names like `smooth`, or "*" for every kernel, got {name!r}', str(name)
            )
    fields_: dict[str, object] = {"kernel_calls": tuple(sorted(calls.items()))}
    if every is not None:
        fields_["calls"] = every
    return _Fields(fields_)


def _count(value: object, key: str) -> int:
    try:
        return _positive_int(value)
    except _Invalid as error:
        raise _Invalid(f"{key}: {error.message}", key) from None


def _calls(value: object) -> int:
    """0 is allowed: learned rules and cached answers only, no new call."""
    return 0 if value == 0 and type(value) is int else _positive_int(value)


_LLM_KEYS: dict[str, tuple[str, Callable[[object], object]]] = {
    "enabled": ("enabled", _flag),
    "endpoint": ("endpoint", _url),
    "model": ("model", lambda v: _text(v, "qwen2.5-coder")),
    "api-key-env": ("api_key_env", lambda v: _text(v, "OPENAI_API_KEY")),
    "max-calls": ("max_calls", _calls),
    "max-tokens": ("max_tokens", _positive_int),
    "timeout": ("timeout", _positive_seconds),
    "temperature": ("temperature", _temperature),
    "candidates": ("candidates", _positive_int),
    "cache": ("cache", _flag),
    "cache-dir": ("cache_dir", lambda v: _text(v, "~/.cache/optc/llm")),
    "rules": ("rules", lambda v: _text(v, "optc-rules.json")),
    "learn": ("learn", _flag),
}


def _llm(value: object) -> LlmConfig | bool:
    """`[tool.optc.llm]` as an LlmConfig; `--llm` gives True, which `merge` applies to the file's table.
    The API key itself is never a setting: `api-key-env` names the variable that holds it."""
    if isinstance(value, (bool, LlmConfig)):
        return value
    if not isinstance(value, Mapping):
        raise _Invalid(
            f'expected a table like {{endpoint = "http://127.0.0.1:8080/v1"}}, got {_describe(value)}'
        )
    options: dict[str, object] = {}
    for key, entry in value.items():
        if key not in _LLM_KEYS:
            known = ", ".join(_LLM_KEYS)
            raise _Invalid(f"unknown key {key!r}; known keys: {known}", str(key))
        name, parse = _LLM_KEYS[key]
        try:
            options[name] = parse(entry)
        except _Invalid as error:
            raise _Invalid(f"{key}: {error.message}", str(key)) from None
    return LlmConfig(**options)  # type: ignore[arg-type]


# [tool.optc] key (kebab-case, as in ruff) -> (Config field, parser of the TOML value)
SETTINGS: dict[str, tuple[str, Callable[[object], object]]] = {
    "target": ("target", _target),
    "sizes": ("sizes", _size_profiles),  # also fills kernel_sizes
    "default-size": ("default_size", _positive_int),
    "strict-fp": ("strict_fp", _flag),
    "fastmath": ("fastmath", _flag),
    "verify": ("verify", _flag),
    "threads": ("threads", _positive_int),
    "exclude": ("exclude", _globs),
    "types": ("arg_types", _arg_types),
    "node-limit": ("node_limit", _positive_int),
    "iter-limit": ("iter_limit", _positive_int),
    "time-limit": ("time_limit", _positive_seconds),
    "top-k": ("top_k", _positive_int),
    "max-verify": ("max_verify", _positive_int),
    "verify-timeout": ("verify_timeout", _positive_seconds),
    "outputs": ("outputs", _outputs),
    "check-threshold": ("check_threshold", _threshold),
    "llm": ("llm", _llm),
    "calls": ("calls", _kernel_calls),  # also fills kernel_calls
    "numpy-target": ("numpy_target", _flag),
}
_PARSER_OF_FIELD = {field: parse for field, parse in SETTINGS.values()} | {
    "kernel_sizes": _kernel_sizes,
    "kernel_calls": lambda value: _kernel_calls(value)["kernel_calls"],
}
_FIELDS = frozenset(f.name for f in fields(Config))


def load_config(start: Path, cli_overrides: Mapping[str, object], config_path: Path | None = None) -> Config:
    """The settings for files in `start` (a file or its directory): `[tool.optc]` of the nearest
    pyproject.toml that has one (or of `config_path`), with `cli_overrides` on top.

    `cli_overrides` maps Config field names to values; None means "flag not given". Flags replace file
    settings, except sizes, which are merged per dimension (`--sizes n=10` keeps the file's `m`), and
    per kernel and dimension (`--sizes gemm.n=10` keeps the file's `gemm.m` and `n`).
    """
    path = config_path if config_path is not None else find_config_file(start)
    settings = read_settings(path) if path is not None else {}
    return merge(settings, cli_overrides)


def find_config_file(start: Path) -> Path | None:
    """The nearest pyproject.toml with a `[tool.optc]` table, from `start` upwards (like ruff,
    pyproject.toml files without one are passed over)."""
    directory = Path(start).resolve()
    if not directory.is_dir():
        directory = directory.parent
    for folder in (directory, *directory.parents):
        candidate = folder / PYPROJECT
        if candidate.is_file() and _has_optc_table(candidate):
            return candidate
    return None


def read_settings(path: Path) -> dict[str, object]:
    """`[tool.optc]` of a pyproject.toml (or the top level of any other TOML file given with
    --config) as Config field values, validated; any mistake is an OptcError at `path:line`."""
    text = _read_text(path)
    toml = _toml()
    if toml is None:
        warnings.warn(
            f"{path}: settings ignored: reading TOML on Python 3.10 needs the `tomli` package",
            stacklevel=2,
        )
        return {}
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as error:
        line = re.search(r"at line (\d+)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise OptcError(f"invalid TOML: {message}", str(path), int(line[1]) if line else None) from None
    section: tuple[str, ...] = _SECTION if path.name == PYPROJECT else ()
    table: object = data
    for part in section:
        table = table.get(part, {}) if isinstance(table, Mapping) else table
    where = f"[{'.'.join(section)}]" if section else "the config file"
    if not isinstance(table, Mapping):
        raise OptcError(f"{where} must be a table", str(path), _locate(text, section, ()))
    settings: dict[str, object] = {}
    for key, value in table.items():
        if key not in SETTINGS:
            raise OptcError(
                f"unknown key {key!r} in {where}{_suggestion(key)}", str(path), _locate(text, section, (key,))
            )
        field_name, parse = SETTINGS[key]
        try:
            parsed = parse(value)
        except _Invalid as error:
            raise OptcError(
                f"{key}: {error.message}", str(path), _locate(text, section, (key, *error.keys))
            ) from None
        settings.update(parsed if isinstance(parsed, _Fields) else {field_name: parsed})
    if settings.get("strict_fp") and settings.get("fastmath"):
        raise OptcError(
            "strict-fp and fastmath contradict each other (fastmath rewrites change results); keep one",
            str(path),
            _locate(text, section, ("fastmath",)),
        )
    return settings


def merge(settings: Mapping[str, object], cli_overrides: Mapping[str, object]) -> Config:
    """Config from file settings (field -> value) with command-line values on top."""
    unknown = set(cli_overrides) - _FIELDS
    if unknown:
        raise TypeError(f"not Config fields: {', '.join(sorted(unknown))}")
    given: dict[str, object] = {}
    for name, value in cli_overrides.items():
        if value is None:
            continue
        parse = _PARSER_OF_FIELD.get(name)
        try:
            parsed = parse(value) if parse is not None else value
        except _Invalid as error:
            raise OptcError(f"{name.replace('_', '-')}: {error.message}", "command line") from None
        for field_name, field_value in (parsed if isinstance(parsed, _Fields) else {name: parsed}).items():
            if field_name == "kernel_sizes" and field_name in given:  # both `sizes` and `kernel_sizes`
                field_value = _merged_kernels(given[field_name], field_value)
            given[field_name] = field_value
    if given.get("strict_fp") and given.get("fastmath"):
        raise OptcError("--strict-fp and --fastmath contradict each other; give one", "command line")
    values = dict(settings)
    if isinstance(given.get("llm"), bool):  # `--llm` switches the file's [tool.optc.llm] on
        given["llm"] = replace(_as_llm(values.get("llm")), enabled=given["llm"])
    # A flag beats the file's contradicting setting: `--strict-fp` turns off the file's `fastmath`.
    if given.get("strict_fp"):
        values["fastmath"] = False
    if given.get("fastmath"):
        values["strict_fp"] = False
    if "sizes" in given:
        given["sizes"] = _sorted_profile({**dict(values.get("sizes", ())), **dict(given["sizes"])})
    if "kernel_sizes" in given:
        given["kernel_sizes"] = _merged_kernels(values.get("kernel_sizes", ()), given["kernel_sizes"])
    if "kernel_calls" in given:  # `--calls smooth=3` keeps the file's count for other kernels
        given["kernel_calls"] = tuple(
            sorted({**dict(values.get("kernel_calls", ())), **dict(given["kernel_calls"])}.items())
        )
    values.update(given)
    values.setdefault("calls", DEFAULT_CALLS)
    return Config(**values)


def _as_llm(value: object) -> LlmConfig:
    return value if isinstance(value, LlmConfig) else LlmConfig(enabled=bool(value))


def _merged_kernels(
    under: tuple[tuple[str, SizeProfile], ...], over: tuple[tuple[str, SizeProfile], ...]
) -> tuple[tuple[str, SizeProfile], ...]:
    """Kernel profiles merged per kernel and symbol; `over` wins."""
    kernels = {kernel: dict(profile) for kernel, profile in under}
    for kernel, profile in over:
        kernels.setdefault(kernel, {}).update(profile)
    return _sorted_kernels(kernels)


def parse_sizes(text: str) -> tuple[tuple[str, int], ...]:
    """`n=1000,m=500,moving_average.w=16` -> (("m", 500), ("moving_average.w", 16), ("n", 1000)):
    `kernel.symbol` entries are for that kernel only (as `sizes` in [tool.optc] takes them). A
    ValueError says what is wrong, in one line."""
    sizes: dict[str, int] = {}
    for item in text.split(","):
        name, equals, number = (part.strip() for part in item.partition("="))
        if not item.strip():
            raise ValueError(f"empty entry in {text!r}; expected name=integer pairs like n=1000,m=500")
        if not equals or not name:
            raise ValueError(f"expected name=integer, like n=1000, got {item.strip()!r}")
        if not _IDENTIFIER.match(name) and not _KERNEL_PARAM.match(name):
            raise ValueError(
                f"size names are identifiers like n, or kernel.symbol like moving_average.w, got {name!r}"
            )
        if name in sizes:
            raise ValueError(f"{name} is given twice")
        try:
            size = int(number)
        except ValueError:
            raise ValueError(f"{name}: expected a positive integer, got {number!r}") from None
        if size <= 0:
            raise ValueError(f"{name}: expected a positive integer, got {size}")
        sizes[name] = size
    return tuple(sorted(sizes.items()))


def parse_calls(text: str) -> tuple[tuple[str, int], ...]:
    """`1000,smooth=3` -> (("*", 1000), ("smooth", 3)): a bare count is every kernel's, `kernel=N`
    that kernel's (as `calls` in [tool.optc] takes them). A ValueError says what is wrong, in one line."""
    calls: dict[str, int] = {}
    for item in text.split(","):
        name, _, number = (part.strip() for part in item.rpartition("="))
        name = name if "=" in item else "*"
        what = "calls" if name == "*" else name
        if not number:
            raise ValueError(
                f"empty entry in {text!r}; expected a count like 1000, or kernel=count like smooth=3"
            )
        if name != "*" and not _IDENTIFIER.match(name):
            raise ValueError(
                f"expected a count like 1000, or kernel=count like smooth=3, got {item.strip()!r}"
            )
        if name in calls:
            raise ValueError(f"{'the count for every kernel' if name == '*' else name} is given twice")
        try:
            count = int(number)
        except ValueError:
            raise ValueError(f"{what}: expected a positive integer, got {number!r}") from None
        if count <= 0:
            raise ValueError(f"{what}: expected a positive integer, got {count}")
        calls[name] = count
    return tuple(sorted(calls.items()))


def excluded_by(path: Path, exclude: Sequence[str], root: Path | None = None) -> str | None:
    """The first `exclude` glob matching `path`, or None.

    A glob matches the path as given, relative to the project root, or absolute; or any leading part
    of it or any single name in it, so `build`, `build/*` and `legacy_*.py` all do what they say.
    """
    if not exclude:
        return None
    absolute = Path(os.path.abspath(path))
    forms = {Path(path).as_posix(), absolute.as_posix()}
    parts = absolute.parts
    if root is not None:
        try:
            parts = absolute.relative_to(os.path.abspath(root)).parts
        except ValueError:
            parts = Path(path).parts
    forms.update(parts)
    forms.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    for pattern in exclude:
        if any(fnmatch.fnmatchcase(form, pattern.rstrip("/")) for form in forms):
            return pattern
    return None


def _suggestion(key: str) -> str:
    spelled = key.replace("_", "-").lower()
    close = (
        [spelled] if spelled in SETTINGS else difflib.get_close_matches(spelled, SETTINGS, n=1, cutoff=0.6)
    )
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(SETTINGS)}"


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OptcError("config file not found", str(path)) from None
    except UnicodeDecodeError:
        raise OptcError("config file is not valid UTF-8", str(path)) from None
    except OSError as error:
        raise OptcError(f"cannot read config file: {error.strerror or error}", str(path)) from None


def _toml() -> ModuleType | None:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli  # type: ignore[import-not-found]
    except ImportError:
        return None
    return tomli


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _has_optc_table(path: Path) -> bool:
    text = _read_text(path)
    if "optc" not in text:  # cheap: most pyproject.toml files never mention optc
        return False
    toml = _toml()
    if toml is None:
        return any(
            _table_name(m[1])[:2] == list(_SECTION) for m in map(_HEADER.match, text.splitlines()) if m
        )
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError:
        return True  # it mentions optc; read_settings reports the syntax error where it is
    return isinstance(data.get("tool"), Mapping) and "optc" in data["tool"]


def _table_name(header: str) -> list[str]:
    return [part.strip().strip("\"'") for part in header.split(".")]


def _locate(text: str, section: tuple[str, ...], keys: tuple[str, ...]) -> int | None:
    """Best-effort line of `keys` (e.g. ("sizes", "gemm", "n")) under `section`: tomllib keeps no positions.

    Tries the innermost key first: its own table (`[tool.optc.sizes.gemm]`), then its assignment in the
    nearest enclosing table, dotted from there (`n =`, `gemm.n =`, `"gemm.n" =`), then the bare key
    anywhere in an enclosing table (an inline table's entry); falls back to the outer key, then to the
    section header.
    """
    lines = text.splitlines()
    tables: list[tuple[int, list[str]]] = [(0, [])]  # (first line index, table name) in file order
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            tables.append((index, _table_name(header[1])))

    def assigned(table: list[str], pattern: re.Pattern[str]) -> int | None:
        for number, (start, name) in enumerate(tables):
            if name != table:
                continue
            end = tables[number + 1][0] if number + 1 < len(tables) else len(lines)
            for index in range(start + (1 if name else 0), end):
                if pattern.search(lines[index].split("#")[0]):
                    return index + 1
        return None

    for depth in range(len(keys), 0, -1):
        path = list(section) + list(keys[:depth])
        for start, name in tables:
            if name == path:
                return start + 1  # `[tool.optc.sizes]` names the key itself
        outers = range(depth - 1, -1, -1)  # innermost enclosing table first
        enclosing = [list(section) + list(keys[:outer]) for outer in outers]
        for outer in outers:
            line = assigned(list(section) + list(keys[:outer]), _assignment(keys[outer:depth]))
            if line is not None:
                return line
        bare = re.compile(rf"""(^|[\s{{,.])(["']?){re.escape(keys[depth - 1])}\2\s*=""")
        for table in enclosing:
            line = assigned(table, bare)
            if line is not None:
                return line
    for start, name in tables:
        if name == list(section) and section:
            return start + 1
    return None


def _assignment(parts: Sequence[str]) -> re.Pattern[str]:
    """`a.b =`, with any part quoted, or `"a.b" =`: at a line's start or an inline table's entry."""
    quote = "[\"']?"
    dotted = r"\s*\.\s*".join(f"{quote}{re.escape(part)}{quote}" for part in parts)
    whole = f"[\"']{re.escape('.'.join(parts))}[\"']"
    return re.compile(rf"(^|[\s{{,])({dotted}|{whole})\s*=")
