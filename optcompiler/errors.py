"""Errors a user sees: one line, `file:line: message`, and what to do about it."""

from __future__ import annotations


class OptcError(Exception):
    """A failure tied to a place in the user's files; `str()` is the one-line message."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class Unsupported(Exception):
    """A construct outside the kernel IR subset; the kernel is left unchanged, with this reason."""

    def __init__(self, construct: str, line: int | None = None) -> None:
        super().__init__(construct)
        self.construct = construct
        self.line = line

    def __str__(self) -> str:
        at = f" (line {self.line})" if self.line is not None else ""
        return f"unsupported: {self.construct}{at}"
