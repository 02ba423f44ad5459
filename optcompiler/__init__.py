"""optc: a compiler-style optimizer for numeric Python."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optcompiler.decorator import optimize

__all__ = ["__version__", "optimize"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`optimize` is imported on first use: the decorator needs NumPy, and `optc --version` or the
    pre-commit hook's fast path (nothing changed) should not pay for it."""
    if name == "optimize":
        from optcompiler.decorator import optimize

        globals()["optimize"] = optimize
        return optimize
    raise AttributeError(f"module 'optcompiler' has no attribute {name!r}")
