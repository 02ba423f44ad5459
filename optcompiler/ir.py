"""Kernel IR: one small frozen term type for the numeric subset of Python.

Why one uniform `Term` (op, value, args) instead of a class per construct: the
e-graph stores whole kernels, loops included, and egg-style hashconsing and
pattern matching want every node to look the same. Readability comes back in
`lower`, which prints the terms as the Python a person would write.

Ops (the closed catalogue; `value` holds the leaf payload or operator parameter):

  expressions
    const    value=int|float|bool|None            args=()
    var      value=name                           args=()
    add sub mul truediv floordiv mod pow matmul   args=(a, b)
    neg pos not invert                            args=(a,)
    lt le gt ge eq ne                             args=(a, b)
    and or                                        args=(a, b)   Python value semantics
    ifexp                                         args=(cond, then, orelse)
    call                                          args=(func, *positional, *kw)
    kw       value=keyword name                   args=(expr,)
    attr     value=attribute name                 args=(obj,)
    index                                         args=(array, idx)  idx: expr or tuple
    tuple                                         args=elements
    slice                                         args=(lo, hi, step)  missing parts are const None
  statements
    assign                                        args=(target, value)  target: var | index | tuple
    augassign value=binary op name ("add", ...)   args=(target, value)
    expr                                          args=(value,)
    for      value="range"|"prange"               args=(var, lo, hi, step, body)
    while                                         args=(cond, body)
    if                                            args=(cond, then, orelse)   blocks are seq terms
    seq                                           args=statements (empty seq is `pass`)
    return                                        args=() | (value,)
    break continue pass                           args=()
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

BINARY_OPS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
UNARY_OPS = ("neg", "pos", "not", "invert")
COMPARE_OPS = ("lt", "le", "gt", "ge", "eq", "ne")
BOOL_OPS = ("and", "or")
EXPR_OPS = (
    ("const", "var", "ifexp", "call", "kw", "attr", "index", "tuple", "slice")
    + BINARY_OPS
    + UNARY_OPS
    + COMPARE_OPS
    + BOOL_OPS
)
STMT_OPS = ("assign", "augassign", "expr", "for", "while", "if", "seq", "return", "break", "continue", "pass")
ALL_OPS = frozenset(EXPR_OPS + STMT_OPS)


def value_key(value: object) -> object:
    """Identity of a leaf payload, strict enough for hashconsing.

    Python says 2 == 2.0 == True and 0.0 == -0.0 and nan != nan; merging any of
    those in an e-graph would be a miscompile (x**2 and x**2.0 differ for ints,
    x+0.0 and x+(-0.0) differ for -0.0). So the key is the type plus the repr.
    """
    if isinstance(value, (bool, int, float)) or value is None:
        return (type(value).__name__, repr(value))
    return value


@dataclass(frozen=True, eq=False, slots=True)
class Term:
    """An immutable IR node. Equality and hash are structural and use `value_key`."""

    op: str
    args: tuple[Term, ...] = ()
    value: object = None
    _hash: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in ALL_OPS:
            raise ValueError(f"unknown IR op {self.op!r}")
        object.__setattr__(self, "_hash", hash((self.op, value_key(self.value), self.args)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Term) or self._hash != other._hash:
            return False
        return (
            self.op == other.op
            and value_key(self.value) == value_key(other.value)
            and self.args == other.args
        )

    def __repr__(self) -> str:
        return to_sexpr(self)

    def walk(self) -> Iterator[Term]:
        """Pre-order traversal of this term and all its descendants."""
        stack = [self]
        while stack:
            term = stack.pop()
            yield term
            stack.extend(reversed(term.args))

    def size(self) -> int:
        return sum(1 for _ in self.walk())


# ---- constructors: short names keep tests and rules readable ---------------------------------


def const(value: int | float | bool | None) -> Term:
    return Term("const", (), value)


def var(name: str) -> Term:
    return Term("var", (), name)


def seq(*stmts: Term) -> Term:
    """A block; nested seqs are flattened so equal blocks have one shape."""
    flat: list[Term] = []
    for stmt in stmts:
        if stmt.op == "seq":
            flat.extend(stmt.args)
        elif stmt.op != "pass":
            flat.append(stmt)
    return Term("seq", tuple(flat))


def for_range(name: str, lo: Term, hi: Term, step: Term, body: Term, kind: str = "range") -> Term:
    return Term("for", (var(name), lo, hi, step, body), kind)


NONE = const(None)


def to_sexpr(term: Term) -> str:
    """Compact s-expression, used in reprs, explanations and test failure messages."""
    head = term.op if term.value is None or term.op == "const" else f"{term.op}:{term.value}"
    if term.op == "const":
        head = repr(term.value)
    elif term.op == "var":
        head = str(term.value)
    if not term.args:
        return head
    return "(" + " ".join([head, *(to_sexpr(a) for a in term.args)]) + ")"


def is_float_literal(term: Term) -> bool:
    return term.op == "const" and isinstance(term.value, float) and math.isfinite(term.value)


# ---- kernels and the data that flows between stages ---------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str | None = None  # source text of the annotation, e.g. "np.ndarray" or "float"
    default: str | None = None  # source text of the default value, if any


@dataclass(frozen=True)
class Kernel:
    """A function lifted into the IR. `body` is a seq term without the docstring."""

    name: str
    params: tuple[Param, ...]
    body: Term
    docstring: str | None
    path: str
    line: int  # 1-based line of the `def`
    source: str  # the function's original source text, exactly as written


@dataclass(frozen=True)
class Variant:
    """An equivalent body for a kernel and the rule names that produced it, in order."""

    kernel: str
    body: Term
    derivation: tuple[str, ...] = ()


TargetName = Literal["njit", "njit-parallel", "numpy", "cuda"]


@dataclass(frozen=True)
class Target:
    name: TargetName
    fastmath: tuple[str, ...] = ()  # numba fastmath flags, only ever set on opt-in

    @property
    def parallel(self) -> bool:
        return self.name == "njit-parallel"


@dataclass(frozen=True)
class Candidate:
    variant: Variant
    target: Target

    @property
    def label(self) -> str:
        rules = "+".join(self.variant.derivation) or "original"
        return f"{rules} @ {self.target.name}"


@dataclass(frozen=True)
class ArgType:
    """What a kernel argument is, as far as optc knows: from annotations, config, inference or a real call.

    `dims` names a size symbol per array dimension (e.g. ("n", "m") from `n, m = A.shape`), so the
    cost model can evaluate trip counts and verification can build inputs of consistent shapes.
    """

    kind: Literal["array", "float", "int", "bool"]
    dtype: str = "float64"  # numpy dtype name; for scalars the numpy type they behave as
    ndim: int = 0
    dims: tuple[str, ...] = ()
