"""Settings: `[tool.optc]` in the nearest pyproject.toml merged with command-line flags (flags win)."""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Literal

from optcompiler.errors import OptcError

TargetChoice = Literal["auto", "cpu", "gpu"]


@dataclass(frozen=True)
class Config:
    target: TargetChoice = "auto"
    # size profile, e.g. (("m", 500), ("n", 1000)); dimensions not named use default_size
    sizes: tuple[tuple[str, int], ...] = ()
    default_size: int = 1000
    strict_fp: bool = False  # no reassociation at all; verification demands bit-identical results
    fastmath: bool = False  # opt-in: allows fastmath-tagged rules and numba fastmath flags
    verify: bool = True
    threads: int | None = None  # None: all cores
    exclude: tuple[str, ...] = ()  # fnmatch globs against file paths and kernel names
    # "kernel.param" -> numba-style type, e.g. (("gemm.A", "float64[:, :]"),)
    arg_types: tuple[tuple[str, str], ...] = ()
    # e-graph budgets (DESIGN.md: 5k nodes, 12 iterations, 1 s per kernel by default)
    node_limit: int = 5000
    iter_limit: int = 12
    time_limit: float = 1.0
    top_k: int = 32  # distinct variants extracted per kernel
    max_verify: int = 6  # candidates tried in verification, best first
    verify_timeout: float = 120.0  # seconds per candidate (its compile and all its input sets)
    verbose: int = 0
    quiet: bool = False

    def size_of(self, symbol: str) -> int:
        return dict(self.sizes).get(symbol, self.default_size)

    def arg_type_hint(self, kernel: str, param: str) -> str | None:
        return dict(self.arg_types).get(f"{kernel}.{param}")


# ---- loading: [tool.optc] from the nearest pyproject.toml, then command-line flags on top ---------------

PYPROJECT = "pyproject.toml"
_SECTION = ("tool", "optc")


class _Invalid(ValueError):
    """A setting's value has the wrong type or range; `key` narrows it to an entry of a table."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


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


def _sizes(value: object) -> tuple[tuple[str, int], ...]:
    sizes: dict[str, int] = {}
    for name, size in _entries(value, "{n = 1000, m = 500}"):
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise _Invalid(f"size names are identifiers like `n`, got {name!r}", str(name))
        try:
            sizes[name] = _positive_int(size)
        except _Invalid as error:
            raise _Invalid(f"{name}: {error.message}", name) from None
    return tuple(sorted(sizes.items()))


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


# [tool.optc] key (kebab-case, as in ruff) -> (Config field, parser of the TOML value)
SETTINGS: dict[str, tuple[str, Callable[[object], object]]] = {
    "target": ("target", _target),
    "sizes": ("sizes", _sizes),
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
}
_PARSER_OF_FIELD = {field: parse for field, parse in SETTINGS.values()}
_FIELDS = frozenset(f.name for f in fields(Config))


def load_config(start: Path, cli_overrides: Mapping[str, object], config_path: Path | None = None) -> Config:
    """The settings for files in `start` (a file or its directory): `[tool.optc]` of the nearest
    pyproject.toml that has one (or of `config_path`), with `cli_overrides` on top.

    `cli_overrides` maps Config field names to values; None means "flag not given". Flags replace file
    settings, except `sizes`, which is merged per dimension (`--sizes n=10` keeps the file's `m`).
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
            settings[field_name] = parse(value)
        except _Invalid as error:
            at = (key,) if error.key is None else (key, error.key)
            raise OptcError(f"{key}: {error.message}", str(path), _locate(text, section, at)) from None
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
            given[name] = parse(value) if parse is not None else value
        except _Invalid as error:
            raise OptcError(f"{name.replace('_', '-')}: {error.message}", "command line") from None
    if given.get("strict_fp") and given.get("fastmath"):
        raise OptcError("--strict-fp and --fastmath contradict each other; give one", "command line")
    values = dict(settings)
    # A flag beats the file's contradicting setting: `--strict-fp` turns off the file's `fastmath`.
    if given.get("strict_fp"):
        values["fastmath"] = False
    if given.get("fastmath"):
        values["strict_fp"] = False
    if "sizes" in given:
        given["sizes"] = tuple(sorted({**dict(values.get("sizes", ())), **dict(given["sizes"])}.items()))
    values.update(given)
    return Config(**values)


def parse_sizes(text: str) -> tuple[tuple[str, int], ...]:
    """`n=1000,m=500` -> (("m", 500), ("n", 1000)); a ValueError says what is wrong, in one line."""
    sizes: dict[str, int] = {}
    for item in text.split(","):
        name, equals, number = (part.strip() for part in item.partition("="))
        if not item.strip():
            raise ValueError(f"empty entry in {text!r}; expected name=integer pairs like n=1000,m=500")
        if not equals or not name:
            raise ValueError(f"expected name=integer, like n=1000, got {item.strip()!r}")
        if not _IDENTIFIER.match(name):
            raise ValueError(f"size names are identifiers like n, got {name!r}")
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
    """Best-effort line of `keys` (e.g. ("sizes", "n")) under `section`: tomllib keeps no positions.

    Tries the innermost key first, inside its own table (`[tool.optc.sizes]`) or the section's;
    falls back to the outer key, then to the section header.
    """
    lines = text.splitlines()
    tables: list[tuple[int, list[str]]] = [(0, [])]  # (first line index, table name) in file order
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            tables.append((index, _table_name(header[1])))
    for depth in range(len(keys), 0, -1):
        key = keys[depth - 1]
        owners = [list(section) + list(keys[: depth - 1]), list(section)]
        assignment = re.compile(rf"""(^|[\s{{,.])(["']?){re.escape(key)}\2\s*=""")
        for number, (start, name) in enumerate(tables):
            end = tables[number + 1][0] if number + 1 < len(tables) else len(lines)
            if name == list(section) + list(keys[:depth]):
                return start + 1  # `[tool.optc.sizes]` names the key itself
            if name in owners:
                for index in range(start + (1 if name else 0), end):
                    if assignment.search(lines[index].split("#")[0]):
                        return index + 1
    for start, name in tables:
        if name == list(section) and section:
            return start + 1
    return None
