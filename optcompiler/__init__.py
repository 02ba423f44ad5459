"""optc: a compiler-style optimizer for numeric Python."""

__version__ = "0.1.0"
