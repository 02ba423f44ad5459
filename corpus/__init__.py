"""The corpus: naive numeric kernels that train and benchmark the cost model.

One module a kernel, named after it. Each module defines
  - the kernel itself, a function with the module's name, written the naive way (loops);
  - `inputs(size) -> tuple`: its positional arguments at a size, deterministic (seeded);
  - `reference(*args)`: what a NumPy expert would write, computing the same result;
  - `SIZES`: four sizes, from cache-resident to memory-bound;
  - optionally `MUTATES`: the names of the parameters the kernel updates in place, its documented
    contract (BLAS-style `A += ...`, in-place sweeps). Its reference updates them the same way.
    A kernel without `MUTATES` leaves its arguments as they were.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class CorpusKernel:
    name: str
    module: ModuleType
    function: Callable[..., Any]
    inputs: Callable[[int], tuple[Any, ...]]
    reference: Callable[..., Any]
    sizes: tuple[int, ...]
    mutates: tuple[str, ...] = ()  # parameters updated in place (the module's MUTATES)

    @property
    def path(self) -> Path:
        """The kernel's source file, as optc would read it."""
        return Path(self.module.__file__ or "")


class CorpusError(ValueError):
    """A corpus module does not follow the layout above."""


def names() -> list[str]:
    """The kernels' names, sorted: the order of `load_all`."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def load(name: str) -> CorpusKernel:
    if name not in names():
        raise KeyError(f"no corpus kernel {name!r}; the corpus has {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    parts = {}
    for attribute in (name, "inputs", "reference"):
        value = getattr(module, attribute, None)
        if not callable(value):
            raise CorpusError(f"{module.__file__}: corpus module lacks a function {attribute!r}")
        parts[attribute] = value
    sizes = getattr(module, "SIZES", None)
    if not (
        isinstance(sizes, tuple)
        and sizes
        and all(isinstance(s, int) and s > 0 for s in sizes)
        and list(sizes) == sorted(set(sizes))
    ):
        raise CorpusError(
            f"{module.__file__}: SIZES must be a tuple of increasing positive ints, got {sizes!r}"
        )
    mutates = getattr(module, "MUTATES", ())
    parameters = list(inspect.signature(parts[name]).parameters)
    if not (isinstance(mutates, tuple) and all(m in parameters for m in mutates)):
        raise CorpusError(
            f"{module.__file__}: MUTATES must be a tuple of {name}'s parameter names, got {mutates!r}"
        )
    return CorpusKernel(name, module, parts[name], parts["inputs"], parts["reference"], sizes, mutates)


def load_all() -> list[CorpusKernel]:
    return [load(name) for name in names()]
