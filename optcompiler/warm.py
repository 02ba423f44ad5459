"""`optc warm FILE...`: compile optc's output ahead of time into Numba's on-disk cache.

Emitted variants are `numba.njit(cache=True)`: the first call in the first process compiles them
(from a fraction of a second to seconds for parallel ones) and later processes load the machine
code from `__pycache__`. Warming pays that first compilation now, for the signature each variant
was verified for (recorded in its comment, arrays C-contiguous), e.g. at install or image-build
time, so the user's first call does not.

Numba's cache entries name the module they were compiled in, so the file is imported under the
name the program will import it by: its dotted package path (walking up folders that hold an
`__init__.py`), or `--module` when the program puts it elsewhere on `sys.path`.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from optcompiler.emit import WARM_MARK, variant_name
from optcompiler.frontend import is_generated, read_source

_KERNEL = re.compile(r"^# optc: (\w+), target ")


@dataclass(frozen=True)
class Warmed:
    variant: str
    signature: str
    seconds: float
    error: str | None = None


def signatures(source: str) -> list[tuple[str, str]]:
    """(variant function, Numba signature) for every variant the file's comments describe."""
    out: list[tuple[str, str]] = []
    kernel = None
    for line in source.splitlines():
        found = _KERNEL.match(line)
        if found:
            kernel = found.group(1)
            continue
        mark = line.find(WARM_MARK)
        if kernel is not None and mark >= 0:
            out.append((variant_name(kernel), line[mark + len(WARM_MARK) :].strip()))
            kernel = None
    return out


def module_name(path: Path) -> tuple[str, Path]:
    """The dotted name a program imports `path` by, and the folder that must be on sys.path."""
    path = path.resolve()
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def warm(path: Path, module: str | None = None) -> list[Warmed]:
    """Import `path` under its program name and compile each variant for its signature."""
    source = read_source(path)
    if not is_generated(source):
        raise ValueError(f"{path}: not a file optc generated (no optc header); nothing to warm")
    name, root = module_name(path)
    if module is not None:
        name, root = module, path.resolve().parent
    sys.path.insert(0, str(root))
    try:
        loaded = importlib.import_module(name)
    finally:
        sys.path.remove(str(root))
    if Path(getattr(loaded, "__file__", "") or "").resolve() != path.resolve():
        raise ValueError(f"{path}: importing {name!r} finds {loaded.__file__} instead; pass --module")
    results = []
    for variant, signature in signatures(source):
        dispatcher = getattr(loaded, variant, None)
        start = time.perf_counter()
        try:
            if dispatcher is None or not hasattr(dispatcher, "compile"):
                raise LookupError(f"no compiled function {variant}")
            from numba.core import sigutils

            # a tuple of types, as a call would look it up (a string would be cached under the string)
            args, _ = sigutils.normalize_signature(signature)
            dispatcher.compile(tuple(args))
            results.append(Warmed(variant, signature, time.perf_counter() - start))
        except Exception as exc:  # one variant that fails to compile must not stop the others
            results.append(
                Warmed(variant, signature, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
            )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="optc warm", description="Compile optc's output into Numba's cache ahead of the first call."
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files optc wrote")
    parser.add_argument("--module", help="the name the program imports FILE by (one FILE only)")
    args = parser.parse_args(argv)
    if args.module and len(args.files) != 1:
        print("optc warm: error: --module names one file's module; give one FILE", file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        try:
            results = warm(path, args.module)
        except (OSError, ValueError, ImportError, SyntaxError) as error:
            print(f"{path}: {error}", file=sys.stderr)
            status = 2
            continue
        for r in results:
            if r.error:
                print(f"{path}: {r.variant}{r.signature}: not compiled: {r.error}", file=sys.stderr)
                status = 2
            else:
                print(f"{path}: {r.variant}{r.signature}: compiled in {r.seconds:.2f} s")
        if not results:
            print(f"{path}: no variants to compile")
    return status
