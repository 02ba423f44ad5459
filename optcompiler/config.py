"""Settings: `[tool.optc]` in the nearest pyproject.toml merged with command-line flags (flags win)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TargetChoice = Literal["auto", "cpu", "gpu"]


@dataclass(frozen=True)
class Config:
    target: TargetChoice = "auto"
    sizes: tuple[tuple[str, int], ...] = ()  # size profile, e.g. (("n", 1000), ("m", 500)); unknown dims use default_size
    default_size: int = 1000
    strict_fp: bool = False  # no reassociation at all; verification demands bit-identical results
    fastmath: bool = False  # opt-in: allows fastmath-tagged rules and numba fastmath flags
    verify: bool = True
    threads: int | None = None  # None: all cores
    exclude: tuple[str, ...] = ()  # fnmatch globs against file paths and kernel names
    arg_types: tuple[tuple[str, str], ...] = ()  # "kernel.param" -> numba-style type, e.g. ("gemm.A", "float64[:, :]")
    # e-graph budgets (DESIGN.md: 5k nodes, 12 iterations, 1 s per kernel by default)
    node_limit: int = 5000
    iter_limit: int = 12
    time_limit: float = 1.0
    top_k: int = 32  # distinct variants extracted per kernel
    max_verify: int = 6  # candidates tried in verification, best first
    verify_timeout: float = 120.0  # seconds per kernel verification subprocess
    verbose: int = 0
    quiet: bool = False

    def size_of(self, symbol: str) -> int:
        return dict(self.sizes).get(symbol, self.default_size)

    def arg_type_hint(self, kernel: str, param: str) -> str | None:
        return dict(self.arg_types).get(f"{kernel}.{param}")
