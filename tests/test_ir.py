"""Lift (CST → IR) and lower (IR → Python): the subset, its refusals, the printing, and round trips.

The last part is the one that matters most: every sample kernel, lifted and lowered, computes
bit for bit what the original computes, arguments included.
"""

from __future__ import annotations

import copy
import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optcompiler import ir
from optcompiler.errors import Unsupported
from optcompiler.frontend import find_kernels, parse
from optcompiler.ir import (
    NONE,
    Kernel,
    Param,
    Term,
    const,
    lift,
    lower_block,
    lower_expr,
    lower_function,
    seq,
    to_sexpr,
    var,
)

SAMPLES = Path(__file__).parent / "samples" / "kernels.py"


def lift_source(source: str) -> Kernel:
    """The first function in `source`, lifted."""
    source = textwrap.dedent(source)
    module = parse(source, "k.py")
    site = find_kernels(module, "k.py")[0]
    return lift(site.node, "k.py", module, site.line)


def lift_body(body: str) -> str:
    """The s-expression of a function body written at column 0 (the `def` is line 1)."""
    source = "def f(a, b, x, y, n, A, B):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return to_sexpr(lift_source(source).body)


def unsupported(body: str) -> Unsupported:
    with pytest.raises(Unsupported) as caught:
        lift_body(body)
    return caught.value


# ---- lift: the subset --------------------------------------------------------------------------------

LIFTS = [
    # statements
    ("x = 1", "(seq (assign x 1))"),
    ("x: float = 1.5", "(seq (assign x 1.5))"),
    ("x: float\nx = 1", "(seq (assign x 1))"),
    ("a: float", "seq"),
    ("A[i, j] = x", "(seq (assign (index A (tuple i j)) x))"),
    ("n, m = A.shape", "(seq (assign (tuple n m) (attr:shape A)))"),
    ("(n, m) = A.shape", "(seq (assign (tuple n m) (attr:shape A)))"),
    ("a, A[0] = b, x", "(seq (assign (tuple a (index A 0)) (tuple b x)))"),
    ("x += 1", "(seq (augassign:add x 1))"),
    ("A[i] -= x", "(seq (augassign:sub (index A i) x))"),
    (
        "x *= 2; x /= 2; x //= 2; x %= 2",
        "(seq (augassign:mul x 2) (augassign:truediv x 2) (augassign:floordiv x 2) (augassign:mod x 2))",
    ),
    ("x **= 2\nA @= B", "(seq (augassign:pow x 2) (augassign:matmul A B))"),
    ("f(x)", "(seq (expr (call f x)))"),
    ("return", "(seq return)"),
    ("return x", "(seq (return x))"),
    ("return a, b", "(seq (return (tuple a b)))"),
    ("pass", "seq"),
    (
        "while x < n:\n    x += 1\n    if x:\n        break\n    continue",
        "(seq (while (lt x n) (seq (augassign:add x 1) (if x (seq break) seq) continue)))",
    ),
    ("if a:\n    x = 1", "(seq (if a (seq (assign x 1)) seq))"),
    ("if a:\n    pass\nelse:\n    x = 2", "(seq (if a seq (seq (assign x 2))))"),
    (
        "if a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    x = 3",
        "(seq (if a (seq (assign x 1)) (seq (if b (seq (assign x 2)) (seq (assign x 3))))))",
    ),
    ("if a: x = 1", "(seq (if a (seq (assign x 1)) seq))"),
    # loops
    ("for i in range(n):\n    pass", "(seq (for:range i 0 n 1 seq))"),
    ("for i in range(1, n):\n    pass", "(seq (for:range i 1 n 1 seq))"),
    ("for i in range(n, 0, -1):\n    pass", "(seq (for:range i n 0 -1 seq))"),
    ("for i in prange(n):\n    pass", "(seq (for:prange i 0 n 1 seq))"),
    ("for i in numba.prange(n):\n    pass", "(seq (for:prange i 0 n 1 seq))"),
    ("for i in nb.prange(2, n, 2):\n    pass", "(seq (for:prange i 2 n 2 seq))"),
    # expressions
    ("x = True, False, None", "(seq (assign x (tuple True False None)))"),
    ("x = 0x10 + 1_000 + 2.5e3", "(seq (assign x (add (add 16 1000) 2500.0)))"),
    ("x = -3 + -0.0 + -(3) + +3", "(seq (assign x (add (add (add -3 -0.0) (neg 3)) (pos 3))))"),
    ("x = -2 ** 2", "(seq (assign x (neg (pow 2 2))))"),
    ("x = (-2) ** 2", "(seq (assign x (pow -2 2)))"),
    (
        "x = a - b * x / y // n % 2 @ A",
        "(seq (assign x (sub a (matmul (mod (floordiv (truediv (mul b x) y) n) 2) A))))",
    ),
    ("x = a ** b ** n", "(seq (assign x (pow a (pow b n))))"),
    ("x = not a, ~b, -a", "(seq (assign x (tuple (not a) (invert b) (neg a))))"),
    (
        "x = a < b, a <= b, a > b, a >= b, a == b, a != b",
        "(seq (assign x (tuple (lt a b) (le a b) (gt a b) (ge a b) (eq a b) (ne a b))))",
    ),
    ("x = a < b <= 3 < y", "(seq (assign x (and (and (lt a b) (le b 3)) (lt 3 y))))"),
    ("x = a and b or not x", "(seq (assign x (or (and a b) (not x))))"),
    ("x = a and b and x", "(seq (assign x (and (and a b) x)))"),
    ("x = a if b else y", "(seq (assign x (ifexp b a y)))"),
    (
        "x = np.zeros((n, 2), dtype=np.float32)",
        "(seq (assign x (call (attr:zeros np) (tuple n 2) (kw:dtype (attr:float32 np)))))",
    ),
    ("x = A[i]", "(seq (assign x (index A i)))"),
    ("x = A[i,]", "(seq (assign x (index A (tuple i))))"),
    ("x = A[(i, j)]", "(seq (assign x (index A (tuple i j))))"),
    ("x = A[()]", "(seq (assign x (index A tuple)))"),
    ("x = A[1:n - 1]", "(seq (assign x (index A (slice 1 (sub n 1) None))))"),
    ("x = A[::2, :]", "(seq (assign x (index A (tuple (slice None None 2) (slice None None None)))))"),
    ("x = A[:, 1:]", "(seq (assign x (index A (tuple (slice None None None) (slice 1 None None)))))"),
    ("x = ((a))", "(seq (assign x a))"),
    ("x = float('inf') + float('-inf')", "(seq (assign x (add inf -inf)))"),
    ("x = float('nan')", "(seq (assign x nan))"),
    ("x = f()(a).b[0]", "(seq (assign x (index (attr:b (call (call f) a)) 0)))"),
]


@pytest.mark.parametrize(("body", "expected"), LIFTS)
def test_lift(body: str, expected: str):
    assert lift_body(body) == expected


def test_lift_kernel_fields():
    source = textwrap.dedent(
        '''\
        import numpy as np

        # leading comment, not part of the function
        def colsum(X: np.ndarray, scale: float=2.0, k=(1, 2)):
            """Column sums,
            scaled."""
            n, m = X.shape
            return X.sum(axis=0) * scale
        '''
    )
    module = parse(source, "k.py")
    (site,) = find_kernels(module, "k.py")
    kernel = lift(site.node, "k.py", module, site.line)
    assert kernel.name == "colsum"
    assert kernel.params == (
        Param("X", "np.ndarray"),
        Param("scale", "float", "2.0"),
        Param("k", None, "(1, 2)"),
    )
    assert kernel.docstring == "Column sums,\n    scaled."
    assert kernel.body.args[0].op == "assign"
    assert (kernel.path, kernel.line) == ("k.py", 4)
    assert kernel.source == source[source.index("def colsum") :]


def test_docstring_only_function_has_an_empty_body():
    kernel = lift_source('def f(x):\n    """Nothing."""\n')
    assert kernel.docstring == "Nothing."
    assert kernel.body == seq()


def test_crlf_docstring_reads_like_python_reads_it():
    kernel = lift_source('def f(x):\r\n    """One\r\n    two."""\r\n    return x\r\n')
    assert kernel.docstring == "One\n    two."


def test_lines_are_file_lines():
    source = "import numpy as np\n\n\n# about f\n@dec\ndef f(x):\n    y = 1\n    y = [x]\n"
    module = parse(source, "k.py")
    site = find_kernels(module, "k.py")[0]
    assert site.line == 6
    with pytest.raises(Unsupported) as caught:
        lift(site.node, "k.py", module, site.line)
    assert (caught.value.construct, caught.value.line) == ("list literal", 8)


# ---- lift: what it refuses ---------------------------------------------------------------------------

REFUSALS = [
    # (body, construct, line counted from the `def` as line 1)
    ("x = [1, 2]", "list literal", 2),
    ("x = {1: 2}", "dict literal", 2),
    ("x = {1}", "set literal", 2),
    ("x = [i for i in A]", "list comprehension", 2),
    ("x = {i for i in A}", "set comprehension", 2),
    ("x = {i: i for i in A}", "dict comprehension", 2),
    ("x = sum(i for i in A)", "generator expression", 2),
    ("x = lambda: 1", "lambda", 2),
    ("x = f'{a}'", "f-string", 2),
    ("x = 'a'", "string literal", 2),
    ("x = 'a' 'b'", "string literal", 2),
    ("x = b'a'", "bytes literal", 2),
    ("x = 1\n'''not a docstring'''", "string literal", 3),
    ("x = (y := 2)", "walrus operator (:=)", 2),
    ("x = yield a", "yield expression", 2),
    ("x = await a", "await expression", 2),
    ("x = (*a, b)", "starred expression", 2),
    ("x = ...", "Ellipsis (...)", 2),
    ("x = 1j", "complex literal", 2),
    ("x = a & b", "bitwise operator `&`", 2),
    ("x = a | b", "bitwise operator `|`", 2),
    ("x = a ^ b", "bitwise operator `^`", 2),
    ("x = a << b", "bitwise operator `<<`", 2),
    ("x = a >> b", "bitwise operator `>>`", 2),
    ("x &= 1", "bitwise augmented assignment `&=`", 2),
    ("x = a is None", "`is` comparison", 2),
    ("x = a is not None", "`is not` comparison", 2),
    ("x = a in b", "`in` comparison", 2),
    ("x = a not in b", "`not in` comparison", 2),
    ("x = a < f(b) < y", "chained comparison with a computed middle operand", 2),
    ("x = f(*a)", "*args in a call", 2),
    ("x = f(**a)", "**kwargs in a call", 2),
    ("x = A[*a]", "starred index", 2),
    ("x = y = 1", "chained assignment", 2),
    ("a.b = 1", "attribute assignment", 2),
    ("a.b += 1", "attribute assignment", 2),
    ("[a, b] = x", "list assignment target", 2),
    ("a, *b = x", "starred assignment target", 2),
    ("(a, b), n = x", "nested tuple assignment target", 2),
    ("a.b: int", "annotation without a value", 2),
    ("x = 1\nz: int\nreturn z", "annotation without a value", 3),
    ("for i in A:\n    pass", "for loop over something other than range", 2),
    ("for i in enumerate(A):\n    pass", "for loop over something other than range", 2),
    ("for i, j in range(n):\n    pass", "for loop target other than a plain name", 2),
    ("for i in range(n):\n    pass\nelse:\n    pass", "for-else", 2),
    ("for i in range():\n    pass", "range() with 0 arguments", 2),
    ("for i in range(n, step=2):\n    pass", "range() with keyword or starred arguments", 2),
    ("while a:\n    pass\nelse:\n    pass", "while-else", 2),
    ("def g():\n    pass", "nested function definition", 2),
    ("class C:\n    pass", "class definition", 2),
    ("with a:\n    pass", "with statement", 2),
    ("try:\n    pass\nexcept E:\n    pass", "try statement", 2),
    ("raise ValueError", "raise statement", 2),
    ("assert a", "assert statement", 2),
    ("import math", "import statement", 2),
    ("from math import sqrt", "import statement", 2),
    ("global g", "global statement", 2),
    ("nonlocal g", "nonlocal statement", 2),
    ("del a", "del statement", 2),
    ("match a:\n    case 1:\n        pass", "match statement", 2),
    ("x = 1\nif a:\n    y = 2\nelse:\n    y = [3]", "list literal", 6),
]


@pytest.mark.parametrize(("body", "construct", "line"), REFUSALS)
def test_lift_refuses(body: str, construct: str, line: int):
    error = unsupported(body)
    assert (error.construct, error.line) == (construct, line)
    assert str(error) == f"unsupported: {construct} (line {line})"


@pytest.mark.parametrize(
    ("signature", "construct"),
    [
        ("def f(*args):", "*args parameter"),
        ("def f(**kw):", "**kwargs parameter"),
        ("def f(a, *, b):", "keyword-only parameter"),
        ("def f(a, /, b):", "positional-only parameter"),
        ("async def f(a):", "async function"),
    ],
)
def test_lift_refuses_signatures(signature: str, construct: str):
    source = f"import numpy\n{signature}\n    return 1\n"
    module = parse(source, "k.py")
    node = module.body[1]
    with pytest.raises(Unsupported) as caught:
        lift(node, "k.py", module, 2)
    assert (caught.value.construct, caught.value.line) == (construct, 2)


# ---- lower: what the printed Python looks like -------------------------------------------------------

# Canonical lines: lift then lower gives them back unchanged.
CANONICAL = [
    "y = (a + b) * x",
    "y = a - (b - x)",
    "y = a - b - x",
    "y = a / (b * x)",
    "y = -(x**2)",
    "y = (-x) ** 2",
    "y = (-1) ** n",
    "y = (-2) ** x",
    "y = x**-2",
    "y = x**-2.5",
    "y = x ** (a + b)",
    "y = a**b**x",
    "y = (a**b) ** x",
    "y = A.shape**2",
    "y = f(x) ** 2",
    "y = x - -2",
    "y = -(2) + -(-x) + -(-2)",
    "y = -0.0",
    "y = 0.0",
    "y = 1e16 + 1e-05 + 0.1",
    'y = float("inf") - float("-inf") + float("nan")',
    "y = (2).bit_length() + (2.5).real + (-2).real",
    "y = not a and b",
    "y = not (a and b)",
    "y = (not a) == b",
    "y = a or b and x",
    "y = (a or b) and x",
    "y = a and (b and x)",
    "y = 0 <= x < n",
    "y = a < x and f(x) < b",
    "y = (a < b) < x",
    "y = (a if b else x) + 1",
    "y = a if b else x if n else y",
    "y = (a if b else x) if n else y",
    "y = f(a if b else x, key=b if a else x)",
    "y = np.zeros(n, dtype=np.float64)",
    "y = f((a, b), (x,), ())",
    "y = A[i, j] + A[i,] + A[()] + A[(a, b), x]",
    "y = A[1:n - 1] + A[:, ::2] + A[1:] + A[:n] + A[::-1] + A[:]",
    "y = (a + b)[0] + (a + b).T + f(x)[0] + A[0][1]",
    "y = ~x + +x",
    "y = a @ b @ x",
    "n, m = A.shape",
    "a, b = b, a",
    "(a,) = x",
    "A[i, j] = x",
    "A[i] += x",
    "y //= 2",
    "y @= A",
    "return a, b",
    "return (a,)",
    "return",
    "f(x)",
]


@pytest.mark.parametrize("line", CANONICAL)
def test_lower_prints_canonical_python(line: str):
    body = lift_source("def f():\n    " + line + "\n").body
    assert lower_block(body, "") == [line]


def test_lower_blocks():
    source = textwrap.dedent(
        """\
        def f(A, n):
            \"\"\"Doc.\"\"\"
            for i in range(n):
                for j in range(1, n):
                    for k in range(n, 0, -1):
                        pass
            for i in numba.prange(n):
                while i < n:
                    i += 1
                    if i > 3:
                        break
                    elif i > 2:
                        continue
                    elif i > 1:
                        pass
                    else:
                        A[i] = 0
            if n:
                x = 1
            else:
                if n > 1:
                    x = 2
                x = 3
            return x
        """
    )
    kernel = lift_source(source)
    assert lower_function("f", kernel.params, kernel.body, kernel.docstring) == source


def test_lower_function_signature_and_decorators():
    params = (Param("X", "np.ndarray"), Param("scale", "float", "2.0"), Param("k", None, "3"))
    text = lower_function("_f_v1", params, seq(), None, ("numba.njit(cache=True)",))
    assert text == "@numba.njit(cache=True)\ndef _f_v1(X: np.ndarray, scale: float = 2.0, k=3):\n    pass\n"


@pytest.mark.parametrize(
    "docstring",
    [
        "Plain.",
        "Two\n    lines.\n    ",
        'Ends with a quote "',
        'Has """ inside',
        "Back\\slash",
        "Tab\tand\x00",
    ],
)
def test_lower_docstrings_round_trip(docstring: str):
    text = lower_function("f", (), seq(Term("return")), docstring)
    assert lift_source(text).docstring == docstring


def test_lower_terms_lift_never_makes():
    # Terms a pass may build: printing must still be faithful Python.
    assert lower_expr(Term("neg", (const(2),))) == "-(2)"
    assert lower_expr(Term("neg", (const(-0.0),))) == "-(-0.0)"
    assert lower_expr(Term("tuple", (var("a"), var("b")))) == "(a, b)"
    assert lower_expr(Term("slice", (const(1), NONE, NONE))) == "slice(1, None, None)"
    assert lower_expr(const(-math.nan)) == 'float("-nan")'
    assert lower_block(seq(), "  ") == ["  pass"]


def test_negative_zero_round_trips_bitwise():
    (value,) = [t.value for t in lift_source("def f():\n    return -0.0\n").body.walk() if t.op == "const"]
    assert math.copysign(1.0, value) == -1.0


# ---- round trips of random terms ---------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "x", "y", "n", "A", "np", "math", "k_1"])
VARS = NAMES.map(var)
LEAVES = st.one_of(
    VARS,
    st.integers(-(10**20), 10**20).map(const),
    st.floats(allow_nan=True, allow_infinity=True).map(const),
    st.sampled_from([0.0, -0.0, 1e16, -1.5e-300, 2.0]).map(const),
    st.sampled_from([True, False, None]).map(const),
)
ATTRS = st.sampled_from(["shape", "T", "real", "sqrt", "float64"])


def _expressions(children: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
    def op_of(ops: tuple[str, ...], arity: int) -> st.SearchStrategy[Term]:
        return st.builds(
            lambda op, args: Term(op, tuple(args)),
            st.sampled_from(ops),
            st.lists(children, min_size=arity, max_size=arity),
        )

    callee = st.one_of(VARS, st.builds(lambda obj, name: Term("attr", (obj,), name), VARS, ATTRS))
    keywords = st.dictionaries(st.sampled_from(["axis", "dtype", "out", "k"]), children, max_size=2)
    calls = st.builds(
        lambda func, args, kws: Term("call", (func, *args, *(Term("kw", (v,), k) for k, v in kws.items()))),
        callee,
        st.lists(children, max_size=3),
        keywords,
    )
    bound = st.one_of(st.just(NONE), children)
    slices = st.builds(lambda *bounds: Term("slice", bounds), bound, bound, bound)
    index_part = st.one_of(children, slices)
    index = st.one_of(index_part, st.lists(index_part, max_size=3).map(lambda xs: Term("tuple", tuple(xs))))
    array = st.one_of(callee, calls)
    return st.one_of(
        op_of(ir.BINARY_OPS, 2),
        op_of(ir.UNARY_OPS, 1),
        op_of(ir.COMPARE_OPS, 2),
        op_of(ir.BOOL_OPS, 2),
        op_of(("ifexp",), 3),
        calls,
        st.builds(lambda obj, name: Term("attr", (obj,), name), children, ATTRS),
        st.builds(lambda a, i: Term("index", (a, i)), array, index),
        st.lists(children, max_size=3).map(lambda xs: Term("tuple", tuple(xs))),
    )


EXPRESSIONS = st.recursive(LEAVES, _expressions, max_leaves=12)
SMALL_EXPRESSIONS = st.recursive(LEAVES, _expressions, max_leaves=4)


def _lifted_return_value(term: Term) -> Term:
    kernel = lift_source(lower_function("f", (), seq(Term("return", (term,)))))
    (statement,) = kernel.body.args
    return statement.args[0]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_expression_round_trip(term: Term):
    assert _lifted_return_value(term) == term, lower_expr(term)


def _statements(children: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
    blocks = st.lists(children, max_size=3).map(lambda xs: seq(*xs))
    small = st.sampled_from(["a", "b", "x"]).map(var)
    loop_bound = st.one_of(small, st.integers(-3, 5).map(const))
    return st.one_of(
        st.builds(lambda c, t, e: Term("if", (c, t, e)), SMALL_EXPRESSIONS, blocks, blocks),
        st.builds(lambda c, b: Term("while", (c, b)), SMALL_EXPRESSIONS, blocks),
        st.builds(
            lambda v, lo, hi, step, body, kind: ir.for_range(v, lo, hi, step, body, kind),
            st.sampled_from(["i", "j"]),
            loop_bound,
            loop_bound,
            loop_bound,
            blocks,
            st.sampled_from(["range", "prange"]),
        ),
    )


TARGETS = st.one_of(
    VARS,
    st.builds(lambda a, i: Term("index", (a, i)), VARS, SMALL_EXPRESSIONS),
    st.lists(
        st.one_of(VARS, st.builds(lambda i: Term("index", (var("A"), i)), SMALL_EXPRESSIONS)), max_size=3
    ).map(lambda xs: Term("tuple", tuple(xs))),
)
SIMPLE_STATEMENTS = st.one_of(
    st.builds(lambda t, v: Term("assign", (t, v)), TARGETS, SMALL_EXPRESSIONS),
    st.builds(
        lambda op, t, v: Term("augassign", (t, v), op),
        st.sampled_from(ir.BINARY_OPS),
        st.one_of(VARS, st.builds(lambda i: Term("index", (var("A"), i)), SMALL_EXPRESSIONS)),
        SMALL_EXPRESSIONS,
    ),
    st.builds(lambda v: Term("expr", (v,)), SMALL_EXPRESSIONS),
    st.builds(lambda v: Term("return", (v,)), SMALL_EXPRESSIONS),
    st.sampled_from([Term("return"), Term("break"), Term("continue")]),
)
STATEMENTS = st.recursive(SIMPLE_STATEMENTS, _statements, max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STATEMENTS, max_size=4).map(lambda xs: seq(*xs)))
def test_statement_round_trip(body: Term):
    text = lower_function("f", (Param("a"),), body)
    assert lift_source(text).body == body, text


# ---- semantics: lowered kernels compute what the originals compute -----------------------------------

Inputs = Callable[[np.random.Generator], tuple]


def _size(rng: np.random.Generator, lo: int = 3, hi: int = 9) -> int:
    return int(rng.integers(lo, hi))


def _with_specials(rng: np.random.Generator, n: int, dtype: type = np.float64) -> np.ndarray:
    values = rng.normal(size=n) * 3
    specials = [0.0, -0.0, -1.0, 1.0, np.nan, np.inf, -np.inf, 1e300]
    mask = rng.random(n) < 0.3
    values[mask] = rng.choice(specials, size=int(mask.sum()))
    return values.astype(dtype)


SAMPLE_INPUTS: dict[str, Inputs] = {
    "gemm": lambda rng: (
        rng.normal(size=(n := _size(rng), k := _size(rng))),
        rng.normal(size=(k, m := _size(rng))),
        rng.normal(size=(n, m)),
        float(rng.normal()),
        float(rng.choice([0.0, 0.5])),
    ),
    "matvec": lambda rng: (
        (A := rng.normal(size=(_size(rng), _size(rng))).astype(rng.choice([np.float32, np.float64]))),
        rng.normal(size=A.shape[1]).astype(A.dtype),
    ),
    "jacobi_step": lambda rng: (rng.normal(size=(n := _size(rng))), rng.normal(size=n), float(rng.random())),
    "blur": lambda rng: (rng.normal(size=(_size(rng), _size(rng))),),
    "first_above": lambda rng: (rng.normal(size=_size(rng)), float(rng.normal() + 1)),
    "classify": lambda rng: (_with_specials(rng, _size(rng, 5, 20)),),
    "find_negative": lambda rng: (np.abs(rng.normal(size=_size(rng))) * rng.choice([-1.0, 1.0]),),
    "normalize_rows": lambda rng: (
        rng.normal(size=(_size(rng), _size(rng))) * (rng.random(size=(1, 1)) > 0.3),
    ),
    "digits": lambda rng: (rng.integers(0, 10**6, size=_size(rng)), int(rng.integers(2, 17))),
    "saxpy32": lambda rng: (
        float(rng.normal()),
        rng.normal(size=(n := _size(rng))).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
    ),
    "softplus": lambda rng: (_with_specials(rng, _size(rng)) * 100,),
    "clip_count": lambda rng: (rng.normal(size=_size(rng)), -0.5, float(rng.choice([0.5, -1.0]))),
    "row_sums_parallel": lambda rng: (rng.normal(size=(_size(rng), _size(rng))),),
    "swap_scan": lambda rng: (rng.normal(size=_size(rng)),),
    "poly": lambda rng: (float(rng.choice([0.0, -0.0, 1.0, -1.0, rng.normal() * 1e3])),),
    "matmul_op": lambda rng: (
        rng.normal(size=(n := _size(rng), n)),
        rng.normal(size=(n, n)),
        rng.normal(size=n),
    ),
}


def _sample_kernels() -> list[Kernel]:
    source = SAMPLES.read_text(encoding="utf-8")
    module = parse(source, str(SAMPLES))
    return [lift(site.node, str(SAMPLES), module, site.line) for site in find_kernels(module, str(SAMPLES))]


def _namespace() -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "samples"}
    exec(compile(SAMPLES.read_text(encoding="utf-8"), str(SAMPLES), "exec"), namespace)
    return namespace


def assert_identical(expected: object, actual: object, what: str) -> None:
    """Same type and same bits; NaN equals NaN (with the same payload), -0.0 differs from 0.0."""
    assert type(expected) is type(actual), f"{what}: {type(expected)} != {type(actual)}"
    if isinstance(expected, tuple):
        assert len(expected) == len(actual), what
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_identical(e, a, f"{what}[{i}]")
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert (expected.dtype, expected.shape) == (actual.dtype, actual.shape), what
        assert expected.tobytes() == actual.tobytes(), f"{what}: {expected!r} != {actual!r}"
    elif isinstance(expected, float):
        assert np.float64(expected).tobytes() == np.float64(actual).tobytes(), (
            f"{what}: {expected} != {actual}"
        )
    else:
        assert expected == actual, f"{what}: {expected!r} != {actual!r}"


def test_samples_cover_the_styles():
    kernels = _sample_kernels()
    assert len(kernels) >= 12
    assert {k.name for k in kernels} == set(SAMPLE_INPUTS)
    ops = {t.op for k in kernels for t in k.body.walk()}
    assert {"for", "while", "if", "break", "continue", "return", "slice", "augassign", "ifexp", "and"} <= ops
    assert {t.value for k in kernels for t in k.body.walk() if t.op == "for"} == {"range", "prange"}


@pytest.mark.parametrize("kernel", _sample_kernels(), ids=lambda k: k.name)
def test_lowered_kernel_computes_what_the_original_computes(kernel: Kernel):
    namespace = _namespace()
    original = namespace[kernel.name]
    lowered_source = lower_function(kernel.name, kernel.params, kernel.body, kernel.docstring)
    lowered_namespace = dict(namespace)
    exec(compile(lowered_source, f"<lowered {kernel.name}>", "exec"), lowered_namespace)
    lowered = lowered_namespace[kernel.name]
    assert lowered is not original
    assert lowered.__doc__ == original.__doc__
    rng = np.random.default_rng(sum(map(ord, kernel.name)))
    for trial in range(6):
        args = SAMPLE_INPUTS[kernel.name](rng)
        expected_args, actual_args = copy.deepcopy(args), copy.deepcopy(args)
        with np.errstate(all="ignore"):
            expected = original(*expected_args)
            actual = lowered(*actual_args)
        assert_identical(expected, actual, f"{kernel.name} trial {trial} result")
        assert_identical(expected_args, actual_args, f"{kernel.name} trial {trial} arguments")


@pytest.mark.parametrize("kernel", _sample_kernels(), ids=lambda k: k.name)
def test_lowering_is_a_fixed_point(kernel: Kernel):
    text = lower_function(kernel.name, kernel.params, kernel.body, kernel.docstring)
    again = lift_source(text)
    assert again.body == kernel.body
    assert lower_function(again.name, again.params, again.body, again.docstring) == text
