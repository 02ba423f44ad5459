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

import ast
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from optcompiler.errors import Unsupported

BINARY_OPS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
UNARY_OPS = ("neg", "pos", "not", "invert")
COMPARE_OPS = ("lt", "le", "gt", "ge", "eq", "ne")
BOOL_OPS = ("and", "or")
EXPR_OPS = (
    "const",
    "var",
    "ifexp",
    "call",
    "kw",
    "attr",
    "index",
    "tuple",
    "slice",
    *BINARY_OPS,
    *UNARY_OPS,
    *COMPARE_OPS,
    *BOOL_OPS,
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


_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})  # `value_key` of one is equal to itself


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
        if not isinstance(other, Term) or self._hash != other._hash or self.op != other.op:
            return False
        # Equal hashes are mostly equal terms (memo lookups of a statement that another candidate
        # holds as a distinct object), compared node by node: a payload shared by both (a name, an
        # operator parameter, a small constant) is equal without making its two keys.
        a, b = self.value, other.value
        if (a is not b or type(a) not in _PLAIN_VALUES) and value_key(a) != value_key(b):
            return False
        return self.args == other.args

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
    head = sexpr_head(term)
    if not term.args:
        return head
    return "(" + " ".join([head, *(to_sexpr(a) for a in term.args)]) + ")"


def sexpr_head(term: Term) -> str:
    """`to_sexpr`'s text of the node itself: a leaf's whole text, else what precedes its arguments."""
    if term.op == "const":
        return repr(term.value)
    if term.op == "var":
        return str(term.value)
    return term.op if term.value is None else f"{term.op}:{term.value}"


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
    returns: str | None = None  # source text of the return annotation, if any


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


# ---- lift: libcst → IR ------------------------------------------------------------------------------
#
# Lift accepts exactly the numeric subset and raises `Unsupported(construct, line)` for anything
# else, naming the construct in plain words. It normalizes as it goes (elif → nested if, `pass`
# dropped, `range(n)` → lo 0 / step 1, `-3` → const -3, parentheses dropped), so that
# `lift(lower(t)) == t` for every term lift produces.


def _optional_node_types(words: dict[str, str]) -> dict[type[cst.CSTNode], str]:
    """Entries for node types this libcst has: t-strings, `except*` and `type` aliases are recent."""
    return {getattr(cst, name): text for name, text in words.items() if hasattr(cst, name)}


_BINARY = {
    cst.Add: "add",
    cst.Subtract: "sub",
    cst.Multiply: "mul",
    cst.Divide: "truediv",
    cst.FloorDivide: "floordiv",
    cst.Modulo: "mod",
    cst.Power: "pow",
    cst.MatrixMultiply: "matmul",
}
_BITWISE = {cst.BitAnd: "&", cst.BitOr: "|", cst.BitXor: "^", cst.LeftShift: "<<", cst.RightShift: ">>"}
_AUGMENTED = {
    cst.AddAssign: "add",
    cst.SubtractAssign: "sub",
    cst.MultiplyAssign: "mul",
    cst.DivideAssign: "truediv",
    cst.FloorDivideAssign: "floordiv",
    cst.ModuloAssign: "mod",
    cst.PowerAssign: "pow",
    cst.MatrixMultiplyAssign: "matmul",
}
_AUGMENTED_BITWISE = {
    cst.BitAndAssign: "&=",
    cst.BitOrAssign: "|=",
    cst.BitXorAssign: "^=",
    cst.LeftShiftAssign: "<<=",
    cst.RightShiftAssign: ">>=",
}


_UNARY = {cst.Minus: "neg", cst.Plus: "pos", cst.Not: "not", cst.BitInvert: "invert"}
_COMPARE = {
    cst.LessThan: "lt",
    cst.LessThanEqual: "le",
    cst.GreaterThan: "gt",
    cst.GreaterThanEqual: "ge",
    cst.Equal: "eq",
    cst.NotEqual: "ne",
}
_COMPARE_UNSUPPORTED = {
    cst.Is: "`is` comparison",
    cst.IsNot: "`is not` comparison",
    cst.In: "`in` comparison",
    cst.NotIn: "`not in` comparison",
}
_EXPRESSIONS_UNSUPPORTED: dict[type[cst.CSTNode], str] = {
    cst.List: "list literal",
    cst.Dict: "dict literal",
    cst.Set: "set literal",
    cst.ListComp: "list comprehension",
    cst.SetComp: "set comprehension",
    cst.DictComp: "dict comprehension",
    cst.GeneratorExp: "generator expression",
    cst.Lambda: "lambda",
    cst.FormattedString: "f-string",
    cst.ConcatenatedString: "string literal",
    cst.NamedExpr: "walrus operator (:=)",
    cst.Await: "await expression",
    cst.Yield: "yield expression",
    cst.StarredElement: "starred expression",
    cst.Ellipsis: "Ellipsis (...)",
    cst.Imaginary: "complex literal",
    **_optional_node_types({"TemplatedString": "t-string"}),
}
_STATEMENTS_UNSUPPORTED: dict[type[cst.CSTNode], str] = {
    cst.FunctionDef: "nested function definition",
    cst.ClassDef: "class definition",
    cst.With: "with statement",
    cst.Try: "try statement",
    cst.Raise: "raise statement",
    cst.Assert: "assert statement",
    cst.Import: "import statement",
    cst.ImportFrom: "import statement",
    cst.Global: "global statement",
    cst.Nonlocal: "nonlocal statement",
    cst.Del: "del statement",
    cst.Match: "match statement",
    **_optional_node_types({"TryStar": "try statement", "TypeAlias": "type alias statement"}),
}
_PRANGE_MODULES = ("numba", "nb")


def lift(node: cst.FunctionDef, path: str, module: cst.Module, first_line: int) -> Kernel:
    """The kernel for a function in the numeric subset; `Unsupported(construct, line)` otherwise.

    `first_line` is the line of `def` in the file (`KernelSite.line`); lines inside the function are
    computed from it, so `node` may come from any module. `module` supplies the source text of
    annotations, defaults and `Kernel.source` (from the first decorator to the end of the body).
    Decorators are ignored here: whether a decorated function may be rewritten is the caller's call.
    """
    positions = _positions(node)
    lifter = _Lifter(positions, first_line - positions[node].start.line)
    if node.asynchronous is not None:
        raise Unsupported("async function", first_line)
    if getattr(node, "type_parameters", None) is not None:
        raise Unsupported("type parameters", first_line)
    params = _lift_params(node.params, module, lifter)
    statements = _flatten(node.body)
    docstring = _docstring(statements[0], module) if statements else None
    if docstring is not None:
        statements = statements[1:]
    body = seq(*(lifter.statement(stmt) for stmt in statements))
    _check_declarations(lifter.declared, body, params)
    source = module.code_for_node(node.with_changes(leading_lines=()))
    returns = module.code_for_node(node.returns.annotation) if node.returns is not None else None
    return Kernel(node.name.value, params, body, docstring, path, first_line, source, returns)


def _check_declarations(declared: Sequence[tuple[str, int]], body: Term, params: Sequence[Param]) -> None:
    """`x: int` alone makes `x` local, so lift may drop it only where `x` is bound anyway."""
    bound = {param.name for param in params}
    for term in body.walk():
        if term.op == "for":
            bound.add(str(term.args[0].value))
        elif term.op in ("assign", "augassign"):
            target = term.args[0]
            for name in target.args if target.op == "tuple" else (target,):
                if name.op == "var":
                    bound.add(str(name.value))
    for name, line in declared:
        if name not in bound:
            raise Unsupported("annotation without a value", line)


def _positions(node: cst.FunctionDef) -> Mapping[cst.CSTNode, CodeRange]:
    """Positions of the function's nodes within the function's own text (no copy of `node`)."""
    wrapper = MetadataWrapper(cst.Module(body=[node]), unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider)


def _lift_params(params: cst.Parameters, module: cst.Module, lifter: _Lifter) -> tuple[Param, ...]:
    if params.posonly_params or isinstance(params.posonly_ind, cst.ParamSlash):
        raise Unsupported("positional-only parameter", lifter.line(params))
    if isinstance(params.star_arg, cst.Param):
        raise Unsupported("*args parameter", lifter.line(params.star_arg))
    if params.kwonly_params:
        raise Unsupported("keyword-only parameter", lifter.line(params.kwonly_params[0]))
    if params.star_kwarg is not None:
        raise Unsupported("**kwargs parameter", lifter.line(params.star_kwarg))
    return tuple(
        Param(
            param.name.value,
            module.code_for_node(param.annotation.annotation) if param.annotation is not None else None,
            module.code_for_node(param.default) if param.default is not None else None,
        )
        for param in params.params
    )


def _flatten(body: cst.BaseSuite) -> list[cst.CSTNode]:
    """The block's statements one by one: `a = 1; b = 2` is two statements."""
    if isinstance(body, cst.SimpleStatementSuite):
        return list(body.body)
    statements: list[cst.CSTNode] = []
    for stmt in body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            statements.extend(stmt.body)
        else:
            statements.append(stmt)
    return statements


def _docstring(stmt: cst.CSTNode, module: cst.Module) -> str | None:
    """What Python would store in `__doc__`: only a plain (non-f, non-bytes) string as first statement."""
    if not isinstance(stmt, cst.Expr) or not isinstance(
        stmt.value, (cst.SimpleString, cst.ConcatenatedString)
    ):
        return None
    # Python reads source with universal newlines, so a CRLF file's docstring holds "\n".
    code = module.code_for_node(stmt.value).replace("\r\n", "\n").replace("\r", "\n")
    try:
        value = ast.literal_eval(code)
    except (ValueError, SyntaxError):  # f-string parts in a concatenation: not a docstring
        return None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class _Lifter:
    """CST → IR for one function; holds only the positions needed to name lines in errors."""

    positions: Mapping[cst.CSTNode, CodeRange]
    offset: int  # file line minus line in the function's own text
    declared: list[tuple[str, int]] = field(default_factory=list)  # `x: int` without a value

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line + self.offset

    def unsupported(self, construct: str, node: cst.CSTNode) -> Unsupported:
        return Unsupported(construct, self.line(node))

    # -- statements ----------------------------------------------------------------------------------

    def block(self, body: cst.BaseSuite) -> Term:
        return seq(*(self.statement(stmt) for stmt in _flatten(body)))

    def statement(self, node: cst.CSTNode) -> Term:
        if isinstance(node, cst.Assign):
            if len(node.targets) > 1:
                raise self.unsupported("chained assignment", node)
            return Term("assign", (self.target(node.targets[0].target), self.expr(node.value)))
        if isinstance(node, cst.AugAssign):
            return self.augassign(node)
        if isinstance(node, cst.AnnAssign):
            if node.value is not None:
                return Term("assign", (self.target(node.target), self.expr(node.value)))
            if not isinstance(node.target, cst.Name):
                raise self.unsupported("annotation without a value", node)
            self.declared.append((node.target.value, self.line(node)))
            return seq()
        if isinstance(node, cst.Expr):
            return Term("expr", (self.expr(node.value),))
        if isinstance(node, cst.Return):
            return Term("return") if node.value is None else Term("return", (self.expr(node.value),))
        if isinstance(node, cst.Pass):
            return Term("pass")
        if isinstance(node, cst.Break):
            return Term("break")
        if isinstance(node, cst.Continue):
            return Term("continue")
        if isinstance(node, cst.If):
            return self.if_(node)
        if isinstance(node, cst.While):
            if node.orelse is not None:
                raise self.unsupported("while-else", node)
            return Term("while", (self.expr(node.test), self.block(node.body)))
        if isinstance(node, cst.For):
            return self.for_(node)
        if isinstance(node, cst.With) and node.asynchronous is not None:
            raise self.unsupported("async with statement", node)
        raise self.unsupported(_STATEMENTS_UNSUPPORTED.get(type(node), _plain_words(node, "statement")), node)

    def augassign(self, node: cst.AugAssign) -> Term:
        operator = type(node.operator)
        if operator in _AUGMENTED_BITWISE:
            raise self.unsupported(f"bitwise augmented assignment `{_AUGMENTED_BITWISE[operator]}`", node)
        if not isinstance(node.target, (cst.Name, cst.Subscript)):
            raise self.unsupported(_target_words(node.target), node)
        return Term("augassign", (self.target(node.target), self.expr(node.value)), _AUGMENTED[operator])

    def if_(self, node: cst.If) -> Term:
        if node.orelse is None:
            orelse = seq()
        elif isinstance(node.orelse, cst.If):  # elif
            orelse = seq(self.if_(node.orelse))
        else:
            orelse = self.block(node.orelse.body)
        return Term("if", (self.expr(node.test), self.block(node.body), orelse))

    def for_(self, node: cst.For) -> Term:
        if node.asynchronous is not None:
            raise self.unsupported("async for loop", node)
        if node.orelse is not None:
            raise self.unsupported("for-else", node)
        if not isinstance(node.target, cst.Name):
            raise self.unsupported("for loop target other than a plain name", node.target)
        kind = _range_kind(node.iter)
        if kind is None:
            raise self.unsupported("for loop over something other than range", node.iter)
        assert isinstance(node.iter, cst.Call)
        args = node.iter.args
        if any(arg.keyword is not None or arg.star for arg in args):
            raise self.unsupported(f"{kind}() with keyword or starred arguments", node.iter)
        if not 1 <= len(args) <= 3:
            raise self.unsupported(f"{kind}() with {len(args)} arguments", node.iter)
        bounds = [self.expr(arg.value) for arg in args]
        if len(bounds) == 1:
            bounds.insert(0, const(0))
        if len(bounds) == 2:
            bounds.append(const(1))
        lo, hi, step = bounds
        return for_range(node.target.value, lo, hi, step, self.block(node.body), kind)

    def target(self, node: cst.BaseExpression) -> Term:
        if isinstance(node, cst.Name):
            return var(node.value)
        if isinstance(node, cst.Subscript):
            return self.expr(node)
        if isinstance(node, cst.Tuple):
            elements = []
            for element in node.elements:
                if isinstance(element, cst.StarredElement):
                    raise self.unsupported("starred assignment target", element)
                if not isinstance(element.value, (cst.Name, cst.Subscript)):
                    raise self.unsupported(_target_words(element.value, "nested "), element.value)
                elements.append(self.target(element.value))
            return Term("tuple", tuple(elements))
        raise self.unsupported(_target_words(node), node)

    # -- expressions ---------------------------------------------------------------------------------

    def expr(self, node: cst.BaseExpression) -> Term:
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return const({"True": True, "False": False, "None": None}[node.value])
            return var(node.value)
        if isinstance(node, (cst.Integer, cst.Float)):
            return const(node.evaluated_value)
        if isinstance(node, cst.BinaryOperation):
            operator = type(node.operator)
            if operator in _BITWISE:
                raise self.unsupported(f"bitwise operator `{_BITWISE[operator]}`", node)
            return Term(_BINARY[operator], (self.expr(node.left), self.expr(node.right)))
        if isinstance(node, cst.UnaryOperation):
            operand = node.expression
            # `-3` is the constant -3 (and `-0.0` the constant -0.0); `-(3)` stays neg(3), so that
            # lower can print each term back as itself.
            if isinstance(node.operator, cst.Minus) and isinstance(operand, (cst.Integer, cst.Float)):
                if not operand.lpar:
                    return const(-operand.evaluated_value)
            return Term(_UNARY[type(node.operator)], (self.expr(operand),))
        if isinstance(node, cst.Comparison):
            return self.comparison(node)
        if isinstance(node, cst.BooleanOperation):
            op = "and" if isinstance(node.operator, cst.And) else "or"
            return Term(op, (self.expr(node.left), self.expr(node.right)))
        if isinstance(node, cst.IfExp):
            return Term("ifexp", (self.expr(node.test), self.expr(node.body), self.expr(node.orelse)))
        if isinstance(node, cst.Call):
            return self.call(node)
        if isinstance(node, cst.Attribute):
            return Term("attr", (self.expr(node.value),), node.attr.value)
        if isinstance(node, cst.Subscript):
            return self.subscript(node)
        if isinstance(node, cst.Tuple):
            return Term("tuple", tuple(self.element(element) for element in node.elements))
        if isinstance(node, cst.SimpleString) and "b" in node.prefix.lower():
            raise self.unsupported("bytes literal", node)
        if isinstance(node, cst.SimpleString):
            raise self.unsupported("string literal", node)
        raise self.unsupported(
            _EXPRESSIONS_UNSUPPORTED.get(type(node), _plain_words(node, "expression")), node
        )

    def element(self, element: cst.BaseElement) -> Term:
        if isinstance(element, cst.StarredElement):
            raise self.unsupported("starred expression", element)
        return self.expr(element.value)

    def comparison(self, node: cst.Comparison) -> Term:
        for target in node.comparisons:
            if type(target.operator) in _COMPARE_UNSUPPORTED:
                raise self.unsupported(_COMPARE_UNSUPPORTED[type(target.operator)], node)
        operands = [self.expr(node.left), *(self.expr(target.comparator) for target in node.comparisons)]
        # `a < b < c` evaluates b once; `a < b and b < c` twice. Equal only when b has no effects
        # and cannot change in between: a name or a constant.
        for middle, source in zip(operands[1:-1], node.comparisons[:-1], strict=True):
            if middle.op not in ("var", "const"):
                raise self.unsupported("chained comparison with a computed middle operand", source.comparator)
        result: Term | None = None
        for i, target in enumerate(node.comparisons):
            test = Term(_COMPARE[type(target.operator)], (operands[i], operands[i + 1]))
            result = test if result is None else Term("and", (result, test))
        assert result is not None
        return result

    def call(self, node: cst.Call) -> Term:
        special = _nonfinite_float(node)
        if special is not None:
            return const(special)
        positional: list[Term] = []
        keywords: list[Term] = []
        for arg in node.args:
            if arg.star == "*":
                raise self.unsupported("*args in a call", arg)
            if arg.star == "**":
                raise self.unsupported("**kwargs in a call", arg)
            if arg.keyword is not None:
                keywords.append(Term("kw", (self.expr(arg.value),), arg.keyword.value))
            elif keywords:
                raise self.unsupported("positional argument after a keyword argument", arg)
            else:
                positional.append(self.expr(arg.value))
        return Term("call", (self.expr(node.func), *positional, *keywords))

    def subscript(self, node: cst.Subscript) -> Term:
        parts = [self.index_part(element.slice) for element in node.slice]
        single = len(parts) == 1 and not isinstance(node.slice[0].comma, cst.Comma)
        index = parts[0] if single else Term("tuple", tuple(parts))
        return Term("index", (self.expr(node.value), index))

    def index_part(self, part: cst.BaseSlice) -> Term:
        if isinstance(part, cst.Slice):
            bounds = (part.lower, part.upper, part.step)
            return Term("slice", tuple(NONE if b is None else self.expr(b) for b in bounds))
        assert isinstance(part, cst.Index)
        if part.star is not None:
            raise self.unsupported("starred index", part)
        return self.expr(part.value)


def _range_kind(node: cst.BaseExpression) -> str | None:
    """'range' or 'prange' when `node` calls one of them, else None."""
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    if isinstance(func, cst.Name) and func.value in ("range", "prange"):
        return func.value
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value in _PRANGE_MODULES
        and func.attr.value == "prange"
    ):
        return "prange"
    return None


def _nonfinite_float(node: cst.Call) -> float | None:
    """`float('inf')`, `float('-inf')`, `float('nan')`: how lower writes non-finite constants."""
    if not (isinstance(node.func, cst.Name) and node.func.value == "float" and len(node.args) == 1):
        return None
    arg = node.args[0]
    if arg.keyword is not None or arg.star or not isinstance(arg.value, cst.SimpleString):
        return None
    text = arg.value.evaluated_value
    if not isinstance(text, str) or text.strip().lower().lstrip("+-") not in ("inf", "infinity", "nan"):
        return None
    return float(text)


def _target_words(node: cst.CSTNode, prefix: str = "") -> str:
    if isinstance(node, cst.Attribute):
        return "attribute assignment"
    if isinstance(node, cst.Tuple):
        return f"{prefix}tuple assignment target"
    if isinstance(node, cst.List):
        return f"{prefix}list assignment target"
    return f"assignment to {_plain_words(node, 'expression')}"


def _plain_words(node: cst.CSTNode, kind: str) -> str:
    """A readable name for a construct without an entry in the tables, e.g. 'TypeAlias statement'."""
    known = _EXPRESSIONS_UNSUPPORTED.get(type(node)) or _STATEMENTS_UNSUPPORTED.get(type(node))
    return known or f"{type(node).__name__} {kind}"


# ---- lower: IR → Python source ----------------------------------------------------------------------
#
# Precedence levels follow the Python reference (expressions.html#operator-precedence). Each
# printer returns its text and level; a child is parenthesized only when its level is below what
# its position requires.

_TUPLE, _IFEXP, _OR, _AND, _NOT, _COMPARE_LEVEL = 0, 1, 2, 3, 4, 5
_ADD, _MUL, _UNARY_LEVEL, _POW, _PRIMARY, _ATOM = 10, 11, 12, 13, 15, 16

_BINARY_SYMBOLS = {
    "add": ("+", _ADD),
    "sub": ("-", _ADD),
    "mul": ("*", _MUL),
    "truediv": ("/", _MUL),
    "floordiv": ("//", _MUL),
    "mod": ("%", _MUL),
    "matmul": ("@", _MUL),
    "pow": ("**", _POW),
}
_UNARY_SYMBOLS = {"neg": "-", "pos": "+", "invert": "~"}
_COMPARE_SYMBOLS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
INDENT = "    "


def lower_expr(term: Term) -> str:
    """Python source for an expression term; tuples come parenthesized, so the text is self-contained."""
    return _expr(term)[0]


def lower_block(term: Term, indent: str = INDENT) -> list[str]:
    """Source lines of a statement or block, each prefixed with `indent`; an empty block is `pass`."""
    statements = term.args if term.op == "seq" else (term,)
    if not statements:
        return [f"{indent}pass"]
    lines: list[str] = []
    for stmt in statements:
        lines.extend(_statement(stmt, indent))
    return lines


def lower_function(
    name: str,
    params: Sequence[Param],
    body: Term,
    docstring: str | None = None,
    decorators: Sequence[str] = (),
    returns: str | None = None,
) -> str:
    """A complete `def`, ending in a newline. `decorators` are source text without the `@`."""
    lines = [f"@{decorator}" for decorator in decorators]
    arrow = f" -> {returns}" if returns is not None else ""
    lines.append(f"def {name}({', '.join(_param(param) for param in params)}){arrow}:")
    if docstring is not None:
        lines.append(INDENT + _docstring_literal(docstring))
    if docstring is None or body.op != "seq" or body.args:
        lines.extend(lower_block(body, INDENT))
    return "\n".join(lines) + "\n"


def _param(param: Param) -> str:
    text = param.name if param.annotation is None else f"{param.name}: {param.annotation}"
    if param.default is None:
        return text
    return f"{text} = {param.default}" if param.annotation is not None else f"{text}={param.default}"


def _docstring_literal(doc: str) -> str:
    """Triple quotes when the text can sit between them verbatim, else an escaped literal."""
    verbatim = (
        "\\" not in doc
        and '"""' not in doc
        and not doc.endswith('"')
        and all(char.isprintable() or char in "\n\t" for char in doc)
    )
    if verbatim:
        return f'"""{doc}"""'
    escaped = repr(doc)
    if escaped.startswith("'") and '"' not in doc:  # double quotes, as ruff format writes them
        escaped = '"' + escaped[1:-1].replace("\\'", "'") + '"'
    return escaped


# -- statements --------------------------------------------------------------------------------------


def _statement(term: Term, indent: str) -> list[str]:
    op, args = term.op, term.args
    inner = indent + INDENT
    if op == "seq":
        return lower_block(term, indent)
    if op == "assign":
        return [f"{indent}{_bare(args[0])} = {_bare(args[1])}"]
    if op == "augassign":
        symbol = _BINARY_SYMBOLS[str(term.value)][0]
        return [f"{indent}{_bare(args[0])} {symbol}= {_bare(args[1])}"]
    if op == "expr":
        return [f"{indent}{_bare(args[0])}"]
    if op == "return":
        return [f"{indent}return {_bare(args[0])}" if args else f"{indent}return"]
    if op in ("break", "continue", "pass"):
        return [f"{indent}{op}"]
    if op == "for":
        loop_var, lo, hi, step, body = args
        bounds = [lo, hi, step]
        if step == const(1):  # range(n) and range(lo, hi), as people write them
            bounds = [hi] if lo == const(0) else [lo, hi]
        func = "numba.prange" if term.value == "prange" else "range"
        header = f"for {_expr(loop_var)[0]} in {func}({', '.join(_wrap(b, _IFEXP) for b in bounds)}):"
        return [indent + header, *lower_block(body, inner)]
    if op == "while":
        return [f"{indent}while {_wrap(args[0], _IFEXP)}:", *lower_block(args[1], inner)]
    if op == "if":
        return _if(term, indent, "if")
    raise ValueError(f"not a statement: {to_sexpr(term)}")


def _if(term: Term, indent: str, keyword: str) -> list[str]:
    cond, then, orelse = term.args
    lines = [f"{indent}{keyword} {_wrap(cond, _IFEXP)}:", *lower_block(then, indent + INDENT)]
    if orelse.op == "seq" and len(orelse.args) == 1 and orelse.args[0].op == "if":
        return lines + _if(orelse.args[0], indent, "elif")
    if orelse.op != "seq" or orelse.args:
        lines += [f"{indent}else:", *lower_block(orelse, indent + INDENT)]
    return lines


def _bare(term: Term) -> str:
    """An expression where a bare tuple is allowed: `n, m = A.shape`, `return a, b`."""
    if term.op == "tuple" and len(term.args) >= 2:
        return ", ".join(_wrap(element, _IFEXP) for element in term.args)
    return _expr(term)[0]


# -- expressions -------------------------------------------------------------------------------------


def _wrap(term: Term, level: int) -> str:
    text, own = _expr(term)
    return text if own >= level else f"({text})"


def _expr(term: Term) -> tuple[str, int]:
    op, args = term.op, term.args
    if op == "const":
        return _const(term.value)
    if op == "var":
        return str(term.value), _ATOM
    if op in _BINARY_SYMBOLS:
        return _binary(term)
    if op in _UNARY_SYMBOLS:
        return _unary(term)
    if op == "not":
        return f"not {_wrap(args[0], _NOT)}", _NOT
    if op in _COMPARE_SYMBOLS:
        return _comparison([args[0], args[1]], [op]), _COMPARE_LEVEL
    if op in ("and", "or"):
        chain = _compare_chain(term)
        if chain is not None:
            return _comparison(*chain), _COMPARE_LEVEL
        level = _AND if op == "and" else _OR
        return f"{_wrap(args[0], level)} {op} {_wrap(args[1], level + 1)}", level
    if op == "ifexp":
        cond, then, orelse = args
        return f"{_wrap(then, _OR)} if {_wrap(cond, _OR)} else {_wrap(orelse, _IFEXP)}", _IFEXP
    if op == "call":
        arguments = ", ".join(_argument(arg) for arg in args[1:])
        return f"{_wrap(args[0], _PRIMARY)}({arguments})", _PRIMARY
    if op == "kw":
        return _argument(term), _IFEXP
    if op == "attr":
        obj = args[0]
        number = obj.op == "const" and type(obj.value) in (int, float)
        # `2.real` does not parse; `(2).real` does.
        text = f"({_expr(obj)[0]})" if number else _wrap(obj, _PRIMARY)
        return f"{text}.{term.value}", _PRIMARY
    if op == "index":
        return f"{_wrap(args[0], _PRIMARY)}[{_subscript(args[1])}]", _PRIMARY
    if op == "tuple":
        if len(args) == 1:
            return f"({_wrap(args[0], _IFEXP)},)", _ATOM
        return f"({', '.join(_wrap(element, _IFEXP) for element in args)})", _ATOM
    if op == "slice":  # outside a subscript only the builtin can say it
        return f"slice({', '.join(_wrap(part, _IFEXP) for part in args)})", _PRIMARY
    raise ValueError(f"not an expression: {to_sexpr(term)}")


def _const(value: object) -> tuple[str, int]:
    if isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else "inf"
        sign = "-" if math.copysign(1.0, value) < 0 else ""
        return f'float("{sign}{text}")', _PRIMARY
    text = repr(value)
    if isinstance(value, float):
        text = text.replace("e+", "e")  # 1e16, as ruff format writes it
    return text, _UNARY_LEVEL if text.startswith("-") else _ATOM


def _binary(term: Term) -> tuple[str, int]:
    symbol, level = _BINARY_SYMBOLS[term.op]
    left, right = term.args
    if term.op != "pow":
        return f"{_wrap(left, level)} {symbol} {_wrap(right, level + 1)}", level
    # `**` binds right to left and tighter than a unary minus on its left: (-2) ** x, x ** -2.
    base, exponent = _wrap(left, _POW + 1), _wrap(right, _UNARY_LEVEL)
    # In `a ** b ** c` the operator's right neighbour is `b`, not the whole `b ** c`.
    neighbour, neighbour_text = right, exponent
    if right.op == "pow":
        neighbour = right.args[0]
        neighbour_text = _wrap(neighbour, _POW + 1)
    if _simple_power_operand(left, base) and _simple_power_operand(neighbour, neighbour_text):
        return f"{base}**{exponent}", level  # hugged, as ruff format (and black) print it
    return f"{base} ** {exponent}", level


def _simple_power_operand(term: Term, text: str) -> bool:
    """Ruff format's rule: a name, a number, a dotted name, or a unary operator applied to one."""
    if text.startswith("("):
        return False
    if term.op in _UNARY_SYMBOLS:
        term = term.args[0]
    while term.op == "attr":
        term = term.args[0]
    if term.op == "const":
        return not (isinstance(term.value, float) and not math.isfinite(term.value))
    return term.op == "var"


def _unary(term: Term) -> tuple[str, int]:
    symbol = _UNARY_SYMBOLS[term.op]
    operand = term.args[0]
    text = _wrap(operand, _UNARY_LEVEL)
    is_number = operand.op == "const" and type(operand.value) in (int, float)
    if term.op == "neg" and is_number and not text.startswith(("-", "f")):
        text = f"({text})"  # bare `-3` is the constant -3; the negation of 3 is written -(3)
    elif operand.op == "pow" or (symbol in "-+" and text.startswith(("-", "+"))):
        text = f"({text})"  # -(x**2), which `-x**2` means but does not say; -(-x), not --x
    return f"{symbol}{text}", _UNARY_LEVEL


def _compare_chain(term: Term) -> tuple[list[Term], list[str]] | None:
    """Operands and operators when `term` is `a < b and b < c ...` with name or constant middles,
    which reads better, and means the same, as `a < b < c`."""
    if term.op in _COMPARE_SYMBOLS:
        return [term.args[0], term.args[1]], [term.op]
    if term.op != "and" or term.args[1].op not in _COMPARE_SYMBOLS:
        return None
    head = _compare_chain(term.args[0])
    last = term.args[1]
    if head is None or head[0][-1] != last.args[0] or last.args[0].op not in ("var", "const"):
        return None
    return [*head[0], last.args[1]], [*head[1], last.op]


def _comparison(operands: list[Term], ops: list[str]) -> str:
    parts = [_wrap(operands[0], _COMPARE_LEVEL + 1)]
    for op, operand in zip(ops, operands[1:], strict=True):
        parts += [_COMPARE_SYMBOLS[op], _wrap(operand, _COMPARE_LEVEL + 1)]
    return " ".join(parts)


def _argument(term: Term) -> str:
    if term.op == "kw":
        return f"{term.value}={_wrap(term.args[0], _IFEXP)}"
    return _wrap(term, _IFEXP)


def _subscript(index: Term) -> str:
    """`A[i, j]`, `A[1:n - 1]`, `A[i,]`, `A[()]`: slices are only written as slices in here."""
    if index.op == "tuple":
        if not index.args:
            return "()"
        parts = [_index_part(part) for part in index.args]
        return ", ".join(parts) + ("," if len(parts) == 1 else "")
    return _index_part(index)


def _index_part(part: Term) -> str:
    if part.op != "slice":
        return _wrap(part, _IFEXP)
    lo, hi, step = (_wrap(bound, _IFEXP) if bound != NONE else "" for bound in part.args)
    return f"{lo}:{hi}:{step}" if step else f"{lo}:{hi}"
