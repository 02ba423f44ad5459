"""Focused before/after tests of the BLAS idioms (libcst-codemod style).

The fixture snapshots show what the pipeline picks; these show the statement each rule puts in
place of a nest, where it slices, and where it refuses, independent of the cost model. The last
test compiles the lowered forms with Numba on C-ordered, Fortran-ordered and strided inputs,
the layouts verification runs.
"""

from __future__ import annotations

import textwrap
import warnings
from itertools import permutations

import numpy as np
import pytest

from optcompiler import frontend
from optcompiler.analysis import all_names, analyze
from optcompiler.ir import Kernel, Term, lower_block, lower_function
from optcompiler.passes import PassContext, all_rules, idioms
from optcompiler.passes.idioms import array_dtypes, blas_form, reduction_form


def _kernel(source: str) -> Kernel:
    return frontend.lift_function(textwrap.dedent(source), "k.py")


def _nest(kernel: Kernel) -> Term:
    """The kernel's last top-level loop."""
    return [stmt for stmt in kernel.body.args if stmt.op == "for"][-1]


def _rewrite(source: str) -> str | None:
    """The statement that replaces the kernel's last top-level loop nest, as source, or None."""
    kernel = _kernel(source)
    facts = analyze(kernel)
    found = blas_form(_nest(kernel), facts, array_dtypes(kernel.body, facts))
    return None if found is None else "\n".join(lower_block(found.statement, indent=""))


def _if(guard: str, statement: str) -> str:
    return f"if {guard}:\n    {statement}"


def _gemm(order: str, statement: str = "C[i, j] += A[i, k] * B[k, j]") -> str:
    a, b, c = order
    return f"""
        import numpy as np
        def gemm(A, B):
            n, m = A.shape
            p = B.shape[1]
            C = np.zeros((n, p))
            for {a} in range({dict(i="n", j="p", k="m")[a]}):
                for {b} in range({dict(i="n", j="p", k="m")[b]}):
                    for {c} in range({dict(i="n", j="p", k="m")[c]}):
                        {statement}
            return C
    """


# ---- what each rule produces --------------------------------------------------------------


@pytest.mark.parametrize("order", ["".join(p) for p in permutations("ijk")])
def test_gemm_in_any_loop_order_becomes_one_matmul(order: str) -> None:
    # B.shape[0] is never declared: B is read through the rows the nest reads, B[:m], and only
    # when the result is not empty (an empty result reads no row of B, however short B is)
    assert _rewrite(_gemm(order)) == _if("n > 0 and p > 0", "C += A @ B[:m]")


@pytest.mark.parametrize(
    "statement",
    [
        "C[i, j] += B[k, j] * A[i, k]",
        "C[i, j] = C[i, j] + A[i, k] * B[k, j]",
        "C[i, j] = A[i, k] * B[k, j] + C[i, j]",
    ],
)
def test_gemm_spellings(statement: str) -> None:
    assert _rewrite(_gemm("ikj", statement)) == _if("n > 0 and p > 0", "C += A @ B[:m]")


def test_gemm_subtracting_becomes_minus_equals() -> None:
    statement = "C[i, j] = C[i, j] - A[i, k] * B[k, j]"
    assert _rewrite(_gemm("ijk", statement)) == _if("n > 0 and p > 0", "C -= A @ B[:m]")


@pytest.mark.parametrize(
    "header,statement,want",
    [
        ("m, n = A.shape\n    p = B.shape[1]", "C[i, j] += A[k, i] * B[k, j]", "A.T @ B[:m]"),
        ("n, m = A.shape\n    p = B.shape[0]", "C[i, j] += A[i, k] * B[j, k]", "A @ B[:, :m].T"),
        ("n, m = A.shape\n    p = B.shape[0]", "C[i, j] += B[j, k] * A[i, k]", "A @ B[:, :m].T"),
        ("m, n = A.shape\n    p = B.shape[0]", "C[i, j] += A[k, i] * B[j, k]", "A.T @ B[:, :m].T"),
    ],
    ids=["AtB", "ABt", "ABt-swapped", "AtBt"],
)
def test_transposed_operands_read_through_T(header: str, statement: str, want: str) -> None:
    source = f"""
import numpy as np
def g(A, B):
    {header}
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                {statement}
    return C
"""
    if "B[:, :m]" not in want:
        assert _rewrite(source) == _if("n > 0 and p > 0", f"C += {want}")
        return
    # a column slice is a strided view that Numba's `@` would copy: the whole B runs when it fits
    whole = want.replace("B[:, :m]", "B")
    assert _rewrite(source) == _if(
        "n > 0 and p > 0", f"if B.shape[1] == m:\n        C += {whole}\n    else:\n        C += {want}"
    )


def test_a_gram_matrix_reads_one_array_twice() -> None:
    source = """
        import numpy as np
        def gram(X):
            n, d = X.shape
            G = np.zeros((n, n))
            for i in range(n):
                for j in range(n):
                    for k in range(d):
                        G[i, j] += X[i, k] * X[j, k]
            return G
    """
    assert _rewrite(source) == "G += X @ X.T"  # every extent declared: nothing sliced, no guard


@pytest.mark.parametrize(
    "statement",
    ["C[i, j] += A[i, k] * B[i, k]", "C[i, j] += A[k, k] * B[k, j]", "C[i, j] += A[i, j] * B[k, j]"],
    ids=["row-dot", "diagonal", "no-sum"],
)
def test_refuses_products_that_are_not_a_matrix_product(statement: str) -> None:
    assert _rewrite(_gemm("ijk", statement)) is None


def test_an_undeclared_summed_column_extent_is_sliced_on_the_left() -> None:
    source = """
        import numpy as np
        def mv(A, x):
            n = A.shape[0]
            m = len(x)
            y = np.zeros(n)
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] * x[j]
            return y
    """
    strided = "if A.shape[1] == m:\n        y += A @ x\n    else:\n        y += A[:, :m] @ x"
    assert _rewrite(source) == _if("n > 0", strided)


def test_matvec_by_columns() -> None:
    source = """
        import numpy as np
        def mv(A, x):
            n, m = A.shape
            y = np.zeros(n)
            for j in range(m):
                for i in range(n):
                    y[i] += x[j] * A[i, j]
            return y
    """
    assert _rewrite(source) == _if("n > 0", "y += A @ x[:m]")


def test_transposed_matvec_is_vector_times_matrix() -> None:
    source = """
        import numpy as np
        def vm(A, x):
            n, m = A.shape
            y = np.zeros(m)
            for i in range(n):
                for j in range(m):
                    y[j] += A[i, j] * x[i]
            return y
    """
    assert _rewrite(source) == _if("m > 0", "y += x[:n] @ A")


def test_dot_of_two_vectors() -> None:
    source = """
        def dot(x, y):
            n = len(x)
            s = 0.0
            for i in range(n):
                s += x[i] * y[i]
            return s
    """
    assert _rewrite(source) == "s += x @ y[:n]"  # a scalar result is never empty: no guard


def test_sum_of_squares_reads_its_vector_twice() -> None:
    source = """
        def sum_squares(x):
            s = 0.0
            for i in range(x.shape[0]):
                s += x[i] * x[i]
            return s
    """
    assert _rewrite(source) == "s += x @ x"


def test_array_parameters_that_might_overlap_the_target_are_left_to_the_alias_guard() -> None:
    source = """
        import numpy as np
        def f(x, y):
            n = len(y)
            m = len(x)
            A = np.ones((n, m))
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] * x[j]
    """
    assert _rewrite(source) == "y += A @ x"  # y, x: both parameters, overlap → the original


# ---- an empty result reads no operand: the variant must not raise where the nest does not ----

_MATVEC = """
    import numpy as np
    def f(A, x):
        n, m = A.shape
        y = np.zeros(n)
        for i in range(n):
            for j in range(m):
                y[i] += A[i, j] * x[j]
        return y
"""
_VECMAT = """
    import numpy as np
    def f(A, x):
        n, m = A.shape
        y = np.zeros(m)
        for i in range(n):
            for j in range(m):
                y[j] += A[i, j] * x[i]
        return y
"""
_DOT = """
    def f(x, y):
        n = len(x)
        s = 0.0
        for i in range(n):
            s += x[i] * y[i]
        return s
"""
_ATB = """
    import numpy as np
    def f(A, B):
        m, n = A.shape
        p = B.shape[1]
        C = np.zeros((n, p))
        for i in range(n):
            for j in range(p):
                for k in range(m):
                    C[i, j] += A[k, i] * B[k, j]
        return C
"""
_ABT = _ATB.replace("m, n = A.shape", "n, m = A.shape").replace("B.shape[1]", "B.shape[0]")
_ABT = _ABT.replace("A[k, i] * B[k, j]", "A[i, k] * B[j, k]")
_EDGES = [  # (kernel, argument shapes): the short operand's length is what the nest never checks
    (_ATB, ((3, 0), (1, 4))),  # A.T @ B[:m]: no rows in the result, B shorter than m
    (_ATB, ((3, 2), (5, 4))),
    (_ABT, ((0, 3), (2, 1))),  # A @ B[:, :m].T: no rows in the result, B narrower than m
    (_ABT, ((2, 3), (4, 5))),
    (_gemm("ijk"), ((0, 3), (1, 4))),  # no rows in the result, B shorter than m
    (_gemm("kji"), ((2, 3), (1, 0))),  # no columns in the result, B shorter than m
    (_gemm("ijk"), ((2, 0), (5, 3))),  # nothing summed: zeros, B longer than m
    (_gemm("jki"), ((2, 3), (5, 4))),  # B longer than m: its first m rows
    (_MATVEC, ((0, 3), (1,))),
    (_MATVEC, ((2, 0), (4,))),
    (_MATVEC, ((3, 2), (5,))),
    (_VECMAT, ((3, 0), (1,))),
    (_VECMAT, ((0, 2), (0,))),
    (_DOT, ((0,), (0,))),
    (_DOT, ((0,), (3,))),
    (_DOT, ((2,), (5,))),
]
_RAISING = [(_gemm("ijk"), ((2, 3), (1, 4))), (_MATVEC, ((2, 3), (1,))), (_VECMAT, ((3, 2), (1,)))]


def _variant(source: str) -> tuple[str, str]:
    """The original function's source and the same function, named `f`, with its last nest rewritten."""
    kernel = _kernel(source)
    facts = analyze(kernel)
    nest = _nest(kernel)
    found = blas_form(nest, facts, array_dtypes(kernel.body, facts))
    assert found is not None
    body = Term("seq", tuple(found.statement if stmt == nest else stmt for stmt in kernel.body.args))
    original = textwrap.dedent(source).replace(f"def {kernel.name}(", "def f(")
    return original, lower_function("f", kernel.params, body)


def _function(source: str, decorate=None):
    namespace: dict = {"np": np}
    exec(source, namespace)
    return namespace["f"] if decorate is None else decorate(namespace["f"])


def _arguments(shapes: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(3)
    return tuple(rng.random(shape) for shape in shapes)


@pytest.mark.parametrize("source,shapes", _EDGES, ids=[str(shapes) for _, shapes in _EDGES])
def test_the_variant_computes_what_the_nest_does_on_empty_and_short_operands(source, shapes) -> None:
    original_source, variant_source = _variant(source)
    args = _arguments(shapes)
    want = _function(original_source)(*args)
    got = _function(variant_source)(*args)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("source,shapes", _RAISING, ids=[str(shapes) for _, shapes in _RAISING])
def test_a_short_operand_read_by_the_nest_raises_in_both(source, shapes) -> None:
    original_source, variant_source = _variant(source)
    args = _arguments(shapes)
    with pytest.raises(IndexError):
        _function(original_source)(*args)
    with pytest.raises(ValueError, match="matmul"):
        _function(variant_source)(*args)


@pytest.mark.slow  # Numba types `@` slowly: several seconds a signature
def test_numba_runs_the_guarded_forms_on_empty_and_short_operands() -> None:
    numba = pytest.importorskip("numba")
    for source, shapes in _EDGES:
        original_source, variant_source = _variant(source)
        args = _arguments(shapes)
        want = _function(original_source)(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)  # B[:, :m]: a copy
            got = _function(variant_source, numba.njit)(*args)
        assert np.shape(got) == np.shape(want), (shapes, variant_source)
        np.testing.assert_allclose(got, want, rtol=1e-12)


# ---- where they refuse ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["for i in range(1, n):", "for i in range(n - 1):", "for i in range(0, n, 2):"],
    ids=["offset-start", "short-stop", "step"],
)
def test_refuses_partial_ranges(header: str) -> None:
    source = _gemm("ijk").replace("for i in range(n):", header)
    assert header in source
    assert _rewrite(source) is None


def test_refuses_triangular_bounds() -> None:
    source = """
        import numpy as np
        def lower(L, x):
            n = L.shape[0]
            y = np.zeros(n)
            for i in range(n):
                for j in range(i):
                    y[i] += L[i, j] * x[j]
            return y
    """
    assert _rewrite(source) is None


def test_refuses_a_second_statement_in_the_nest() -> None:
    source = """
        import numpy as np
        def f(A, x):
            n, m = A.shape
            y = np.zeros(n)
            r = np.zeros(n)
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] * x[j]
                    r[i] += A[i, j]
            return y + r
    """
    assert _rewrite(source) is None


def test_refuses_an_imperfect_nest() -> None:
    source = """
        import numpy as np
        def f(A, x):
            n, m = A.shape
            y = np.zeros(n)
            for i in range(n):
                y[i] = 1.0
                for j in range(m):
                    y[i] += A[i, j] * x[j]
            return y
    """
    assert _rewrite(source) is None


def test_refuses_when_the_target_is_an_operand() -> None:
    source = """
        def f(B):
            n = B.shape[0]
            C = B.copy()
            for i in range(n):
                for j in range(n):
                    for k in range(n):
                        C[i, j] += C[i, k] * B[k, j]
            return C
    """
    assert _rewrite(source) is None


@pytest.mark.parametrize("subscript", ["x[j + 1]", "x[idx[j]]", "x[2 * j]"])
def test_refuses_subscripts_that_are_not_bare_loop_variables(subscript: str) -> None:
    source = f"""
        import numpy as np
        def f(A, x, idx):
            n, m = A.shape
            y = np.zeros(n)
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] * {subscript}
            return y
    """
    assert _rewrite(source) is None


def test_refuses_integer_arrays() -> None:
    source = """
        import numpy as np
        import numpy.typing as npt
        def f(A: npt.NDArray[np.int64], x: npt.NDArray[np.int64]):
            n, m = A.shape
            y = np.zeros(n, dtype=np.int64)
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] * x[j]
            return y
    """
    assert _rewrite(source) is None


def test_refuses_mixed_float_widths() -> None:
    # float32 @ float64 does not type in Numba, and BLAS has no mixed routine
    source = _gemm("ijk").replace("np.zeros((n, p))", "np.zeros((n, p), dtype=np.float32)")
    assert _rewrite(source) is None


def test_refuses_a_target_parameter_of_undeclared_size() -> None:
    # y's length is not proved to be n: `y += A @ x` would broadcast a length-1 y
    source = """
        def f(A, x, y):
            n, m = A.shape
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] * x[j]
    """
    assert _rewrite(source) is None


def test_refuses_when_no_operand_proves_the_summed_extent() -> None:
    # slicing both x and y to n could hide that both are shorter than n
    source = """
        def dot(x, y, n):
            s = 0.0
            for i in range(n):
                s += x[i] * y[i]
            return s
    """
    assert _rewrite(source) is None


def test_refuses_a_local_view_as_operand() -> None:
    source = """
        import numpy as np
        def f(A, x):
            n, m = A.shape
            y = np.zeros(n)
            V = A[::-1]
            for i in range(n):
                for j in range(m):
                    y[i] += V[i, j] * x[j]
            return y
    """
    assert _rewrite(source) is None


def test_refuses_when_a_loop_variable_is_read_after_the_nest() -> None:
    source = """
        def dot(x, y):
            n = len(x)
            s = 0.0
            for i in range(n):
                s += x[i] * y[i]
            return s + i
    """
    assert _rewrite(source) is None


def test_refuses_an_integer_accumulator() -> None:
    source = """
        def dot(x, y):
            n = len(x)
            s = 0
            for i in range(n):
                s += x[i] * y[i]
            return s
    """
    assert _rewrite(source) is None


# ---- reductions: sum, max, min ------------------------------------------------------------------


def _reduce(source: str) -> str | None:
    """What `reduction_form` puts in place of the kernel's last top-level nest, or None."""
    kernel = _kernel(source)
    facts = analyze(kernel)
    found = reduction_form(_nest(kernel), facts, array_dtypes(kernel.body, facts))
    return None if found is None else "\n".join(lower_block(found[1], indent=""))


def _fold(statement: str, dtype: str = "np.float64", start: str = "0.0", header: str = "") -> str:
    return f"""
        import numpy as np
        import numpy.typing as npt
        def f(x: npt.NDArray[{dtype}]):
            n = len(x)
            s = {start}
            {header or "for i in range(n):"}
                {statement}
            return s
    """


@pytest.mark.parametrize("statement", ["s += x[i]", "s = s + x[i]", "s = x[i] + s"])
def test_a_float_sum_becomes_the_array_sum(statement: str) -> None:
    assert _reduce(_fold(statement)) == "s += x.sum()"


def test_a_loop_from_a_constant_start_sums_a_suffix() -> None:
    assert _reduce(_fold("s += x[i]", header="for i in range(1, n):")) == "s += x[1:].sum()"


def test_the_usual_maximum_from_the_first_element() -> None:
    source = _fold("if x[i] > s:\n                    s = x[i]", dtype="np.int64", start="x[0]")
    source = source.replace("for i in range(n):", "for i in range(1, n):")
    assert _reduce(source) == _if("n > 1", "s = max(s, x[1:].max())")


def test_a_running_difference_subtracts_the_sum() -> None:
    assert _reduce(_fold("s = s - x[i]")) == "s -= x.sum()"


def test_a_matrix_sum_in_either_loop_order() -> None:
    source = """
        import numpy as np
        def total(A):
            n, m = A.shape
            s = 0.0
            for j in range(m):
                for i in range(n):
                    s += A[i, j]
            return s
    """
    assert _reduce(source) == "s += A.sum()"


@pytest.mark.parametrize(
    "statement,header",
    [
        ("s += x[i]", "for i in range(n - 1):"),  # part of the array
        ("s += x[i]", "for i in range(-1, n):"),  # x[-1] is the last element
        ("s += x[i]", "for i in range(1, n, 2):"),
        ("s += x[i + 1]", ""),  # not each element once
        ("s += x[i] * 2.0", ""),  # not a bare element
        ("s += x[0]", ""),
    ],
)
def test_sum_refuses_what_is_not_every_element_once(statement: str, header: str) -> None:
    assert _reduce(_fold(statement, header=header)) is None


def test_sum_refuses_an_extent_not_proved_to_be_the_arrays() -> None:
    source = """
        def f(x, n: int):
            s = 0.0
            for i in range(n):
                s += x[i]
            return s
    """
    assert _reduce(source) is None  # x.sum() would add len(x) elements, not n, and never raise


@pytest.mark.parametrize("dtype", ["np.float32", "np.int64"])
def test_sum_refuses_other_dtypes(dtype: str) -> None:
    # float32: x.sum() adds in float32 where `s + x[i]` adds in float64; int64: nothing to gain
    assert _reduce(_fold("s += x[i]", dtype=dtype, start="0.0" if "float" in dtype else "0")) is None


def test_sum_refuses_an_integer_accumulator() -> None:
    assert _reduce(_fold("s += x[i]", start="0")) is None


@pytest.mark.parametrize(
    "statement,want",
    [
        ("s = max(s, x[i])", "max"),
        ("s = max(x[i], s)", "max"),
        ("if x[i] > s:\n                    s = x[i]", "max"),
        ("if x[i] >= s:\n                    s = x[i]", "max"),
        ("if s < x[i]:\n                    s = x[i]", "max"),
        ("s = min(s, x[i])", "min"),
        ("if x[i] < s:\n                    s = x[i]", "min"),
        ("if s > x[i]:\n                    s = x[i]", "min"),
    ],
)
def test_an_integer_extremum_becomes_the_arrays_guarded(statement: str, want: str) -> None:
    got = _reduce(_fold(statement, dtype="np.int64", start="x[0]"))
    assert got == _if("n > 0", f"s = {want}(s, x.{want}())")


@pytest.mark.parametrize(
    "statement",
    [
        "s = max(s, x[i])",
        "if x[i] > s:\n                    s = x[i]",
    ],
)
def test_a_float_extremum_is_refused(statement: str) -> None:
    # NaN: `x[i] > s` is False, so the loop skips a NaN that x.max() would return
    assert _reduce(_fold(statement, dtype="np.float64", start="-np.inf")) is None


@pytest.mark.parametrize(
    "statement",
    [
        "if x[i] > s:\n                    s = x[i]\n                else:\n                    s = 0",
        "if x[i] > s:\n                    s = x[i] + 1",
        "if x[i] > 0:\n                    s = x[i]",
        "s = max(s, x[i], 3)",
        "s = max(0, x[i])",
    ],
    ids=["else", "other-value", "other-test", "three-args", "no-accumulator"],
)
def test_extremum_refuses_other_shapes(statement: str) -> None:
    assert _reduce(_fold(statement, dtype="np.int64", start="x[0]")) is None


_EXTREMA = [
    (_fold("s = max(s, x[i])", dtype="np.int64", start="-5"), (0,)),  # empty: s stays -5
    (_fold("s = max(s, x[i])", dtype="np.int64", start="-5"), (7,)),
    (_fold("if x[i] < s:\n                    s = x[i]", dtype="np.int64", start="float('nan')"), (4,)),
    (_fold("if x[i] < s:\n                    s = x[i]", dtype="np.int64", start="2.5"), (6,)),
    (_fold("s = min(s, x[i])", dtype="np.int64", start="10**30"), (3,)),  # a Python int past int64
    (_fold("s += x[i]"), (0,)),
    (_fold("s = max(s, x[i])", dtype="np.int64", start="-99", header="for i in range(2, n):"), (2,)),
    (_fold("s = max(s, x[i])", dtype="np.int64", start="-99", header="for i in range(2, n):"), (1,)),
    (_fold("s = max(s, x[i])", dtype="np.int64", start="-99", header="for i in range(2, n):"), (5,)),
    (_fold("s += x[i]", header="for i in range(3, n):"), (1,)),
    (_fold("s += x[i]"), (9,)),
]


@pytest.mark.parametrize("source,shape", _EXTREMA, ids=[str(i) for i in range(len(_EXTREMA))])
def test_the_reduction_forms_compute_what_the_loops_do(source: str, shape: tuple[int, ...]) -> None:
    kernel = _kernel(source)
    facts = analyze(kernel)
    nest = _nest(kernel)
    found = reduction_form(nest, facts, array_dtypes(kernel.body, facts))
    assert found is not None
    body = Term("seq", tuple(found[1] if stmt == nest else stmt for stmt in kernel.body.args))
    variant = lower_function("f", kernel.params, body)
    rng = np.random.default_rng(5)
    dtype = np.int64 if "int64" in source else np.float64
    x = rng.integers(-50, 50, shape).astype(dtype) if dtype is np.int64 else rng.random(shape)
    want, got = _function(textwrap.dedent(source))(x), _function(variant)(x)
    # an empty sum: the loop leaves the Python float 0.0, `s += x.sum()` makes np.float64(0.0)
    assert type(got) is type(want) or {type(got), type(want)} == {float, np.float64}
    if dtype is np.int64:
        assert got == want or (got != got and want != want)  # NaN stays NaN
    else:
        assert got == pytest.approx(want, rel=1e-12)


# ---- dtypes and the float policy ---------------------------------------------------------------


def test_allocation_dtypes() -> None:
    kernel = _kernel(
        """
        import numpy as np
        def f(A):
            n, m = A.shape
            Z = np.zeros((n, m))
            S = np.empty(n, dtype=np.float32)
            L = np.zeros_like(S)
            K = A.copy()
            F = np.full(n, 1.0)
            Z[0, 0] = S[0] + L[0] + K[0, 0] + F[0]
        """
    )
    dtypes = array_dtypes(kernel.body, analyze(kernel))
    assert dtypes == {"A": "float64", "Z": "float64", "S": "float32", "L": "float32", "K": "float64"}


def test_strict_fp_drops_every_idiom_that_reorders_a_sum() -> None:
    kernel = _kernel(_gemm("ijk"))
    names = frozenset(all_names(kernel.body))
    facts = analyze(kernel)
    default = {r.name for r in all_rules(PassContext(facts, 0, names), [idioms])}
    strict = {r.name for r in all_rules(PassContext(facts, 0, names, allow_reassoc=False), [idioms])}
    reordering = {"idioms.matmul", "idioms.matvec", "idioms.dot", "idioms.gram", "idioms.sum"}
    assert default == reordering | {"idioms.max", "idioms.min"}
    assert strict == {"idioms.max", "idioms.min"}  # integer extrema are exact


# ---- Numba runs the lowered forms on every layout verification uses ----------------------------


def _non_contiguous(array: np.ndarray) -> np.ndarray:
    """Fortran order for a matrix, a strided view for a vector, as verification builds them."""
    if array.ndim == 2:
        return np.asfortranarray(array)
    return np.repeat(array, 2)[::2]


@pytest.mark.slow  # Numba types `@` slowly: several seconds a signature
def test_numba_runs_the_blas_forms_on_contiguous_and_non_contiguous_arrays() -> None:
    numba = pytest.importorskip("numba")

    @numba.njit
    def blas(A, B, x, y):
        n, m = A.shape
        C = np.zeros((n, B.shape[1]))
        C += A @ B[:m]  # a row prefix of a Fortran array is neither C nor F: Numba copies it
        v = np.zeros(n)
        v += A @ y[:m]
        s = 0.0
        s += x @ x
        G = np.zeros((n, n))
        G += A @ A.T
        T = np.zeros((m, B.shape[1]))
        T += A.T @ B[:n]
        return C, v, s, G, T

    rng = np.random.default_rng(7)
    A, B, x, y = rng.random((5, 4)), rng.random((6, 3)), rng.random(5), rng.random(4)
    want = (A @ B[:4], A @ y, float(x @ x), A @ A.T, A.T @ B[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)  # non-contiguous: a copy
        for args in ((A, B, x, y), tuple(_non_contiguous(a) for a in (A, B, x, y))):
            C, v, s, G, T = blas(*args)
            np.testing.assert_allclose(C, want[0], rtol=1e-12)
            np.testing.assert_allclose(v, want[1], rtol=1e-12)
            assert s == pytest.approx(want[2], rel=1e-12)
            np.testing.assert_allclose(G, want[3], rtol=1e-12)
            np.testing.assert_allclose(T, want[4], rtol=1e-12)


def test_a_row_dot_feeding_a_column_update_becomes_two_products_through_an_expanded_scalar() -> None:
    """`t = A[i] . x` then `y += A[i] * t`: loop distribution expands t into `t_i[i]`
    (`analysis._expansion_candidates`), then each part is a matrix-vector product: the two
    BLAS calls A @ x and t_i @ A, with a reassociating float policy; none under --strict-fp."""
    from optcompiler.config import Config
    from optcompiler.pipeline import explore

    source = """
        import numpy as np
        def two_products(A: np.ndarray, x: np.ndarray) -> np.ndarray:
            m, n = A.shape
            y = np.zeros(n)
            for i in range(m):
                t = 0.0
                for j in range(n):
                    t += A[i, j] * x[j]
                for j in range(n):
                    y[j] += A[i, j] * t
            return y
        """
    kernel = _kernel(source)
    facts = analyze(kernel)
    variants, _ = explore(kernel, facts, Config(default_size=64))
    texts = [lower_function(kernel.name, kernel.params, v.body) for v in variants]
    both = [t for t in texts if "A @ x" in t and "t_i @ A" in t and "for j" not in t]
    assert both, "\n\n".join(texts)
    namespace: dict[str, object] = {"np": np}
    exec(both[0], namespace)
    rng = np.random.default_rng(3)
    for m, n in ((5, 7), (1, 1), (0, 3), (4, 0)):
        A, x = rng.random((m, n)), rng.random(n)
        np.testing.assert_allclose(namespace["two_products"](A, x), A.T @ (A @ x), rtol=1e-12, atol=1e-12)
    strict, _ = explore(kernel, facts, Config(default_size=64, strict_fp=True))
    assert not any("@" in lower_function(kernel.name, kernel.params, v.body) for v in strict)


def test_two_accumulators_of_one_row_loop_become_two_guarded_products() -> None:
    """`s1 = 0; s2 = 0; for c: s1 += P[r, c] * v[c]; s2 += Q[r, c] * v[c]` with one size for
    every dimension (`n = P.shape[0]`): the inner loop is split, `s2 = 0.0` moved to its own loop
    (`loops.sink_scalar_inits`), both scalars expanded, and each part is a matrix-vector product.
    Only P's rows are declared n, so Q and v are read through slices to n, exact under the
    dispatcher's bounds guard (shorter arrays go to the original); a column slice runs only where
    it is not the whole array (Numba's `@` would copy the strided view)."""
    from optcompiler.config import Config
    from optcompiler.pipeline import explore

    source = """
        import numpy as np
        def two_products(P, Q, v, a: float, b: float):
            n = P.shape[0]
            out = np.zeros(n)
            for r in range(n):
                s1 = 0.0
                s2 = 0.0
                for c in range(n):
                    s1 += P[r, c] * v[c]
                    s2 += Q[r, c] * v[c]
                out[r] = a * s1 + b * s2
            return out
        """
    kernel = _kernel(source)
    facts = analyze(kernel)
    variants, _ = explore(kernel, facts, Config(default_size=64, time_limit=10.0))
    texts = [lower_function(kernel.name, kernel.params, v.body) for v in variants]
    products = ("P @ v[:n]", "P[:, :n] @ v[:n]", "Q[:n] @ v[:n]", "Q[:n, :n] @ v[:n]", "if Q.shape[1] == n:")
    both = [t for t in texts if all(p in t for p in products) and "for c" not in t]
    assert both, "\n\n".join(texts)
    namespace: dict[str, object] = {"np": np}
    exec(both[0], namespace)
    rng = np.random.default_rng(5)
    for rows, cols in ((5, 5), (4, 6), (1, 1), (0, 2)):  # wider Q and v than n: the sliced branch
        P, Q, v = rng.random((rows, cols)), rng.random((rows + 1, cols)), rng.random(cols)
        want = 1.5 * (P[:, :rows] @ v[:rows]) - 0.5 * (Q[:rows, :rows] @ v[:rows])
        got = namespace["two_products"](P, Q, v, 1.5, -0.5)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
