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


# A function whose loop regions were compiled while the rest stays Python (optcompiler.outline):
# its reason starts with this, and reports print it instead of "unchanged".
PARTLY_COMPILED = "partly compiled: "


class Unsupported(Exception):
    """A construct outside the kernel IR subset; the kernel is left unchanged, with this reason."""

    def __init__(self, construct: str, line: int | None = None) -> None:
        super().__init__(construct)
        self.construct = construct
        self.line = line

    def __str__(self) -> str:
        at = f" (line {self.line})" if self.line is not None else ""
        return f"unsupported: {self.construct}{at}"

    def explain(self) -> str:
        """What blocks compilation and, where there is one, what to change: the user's next step."""
        hint = unblock_hint(self.construct)
        return f"{self.construct} is outside the kernel subset optc rewrites" + (f"; {hint}" if hint else "")


# What would let optc (and Numba) compile a kernel that uses each construct: said next to the
# reason, so a user knows what to change, not only what is wrong.
_UNBLOCK = {
    "f-string": "format text in the caller and pass numbers in",
    "string literal": "keep text in the caller and pass numbers in",
    "dict literal": "return a tuple or fill arrays, and build the dict in the caller",
    "dict comprehension": "return arrays and build the dict in the caller",
    "list literal": "preallocate a NumPy array (np.empty) and fill it",
    "list comprehension": "preallocate a NumPy array (np.empty) and fill it in a loop",
    "set literal": "use a boolean NumPy array as the set",
    "set comprehension": "use a boolean NumPy array as the set",
    "generator expression": "write the loop out, or use a NumPy reduction",
    "raise statement": "validate the arguments in a caller before the kernel runs",
    "assert statement": "validate the arguments in a caller before the kernel runs",
    "try statement": "move the try/except into the caller",
    "with statement": "open files and contexts in the caller and pass arrays in",
    "import statement": "import at module level",
    "nested function definition": "move the function to module level",
    "lambda": "define a module-level function instead",
    "class definition": "define the class at module level",
    "global statement": "pass the value in and return the new one",
    "nonlocal statement": "pass the value in and return the new one",
    "del statement": "drop the del; the name goes out of scope at return",
    "walrus operator (:=)": "assign on a line of its own",
    "`in` comparison": "compare with == over an array, or index a lookup array",
    "`not in` comparison": "compare with != over an array, or index a lookup array",
    "`is` comparison": "compare values with ==",
    "`is not` comparison": "compare values with !=",
    "*args parameter": "give the kernel fixed positional parameters",
    "**kwargs parameter": "give the kernel fixed positional parameters",
    "keyword-only parameter": "make it an ordinary positional parameter",
    "positional-only parameter": "make it an ordinary positional parameter",
    "yield expression": "collect the values in an array and return it",
    "await expression": "await in the caller; kernels run synchronously",
    "async function": "make the numeric part a plain function",
}


def unblock_hint(construct: str) -> str | None:
    return _UNBLOCK.get(construct)
