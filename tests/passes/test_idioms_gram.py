"""`idioms.gram`: a whole contraction inside any nest reads one product computed before the nest.

Before/after tests of `gram_form` (the statement it puts in place of the nest, and where it
refuses), then the rewritten kernels run against the originals on random inputs of edge shapes
(an empty contraction k = 0 with rows left, 1x1, no rows), in CPython and compiled by Numba.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from optcompiler import frontend
from optcompiler.analysis import all_names, analyze
from optcompiler.ir import Kernel, Term, lower_block, lower_function
from optcompiler.passes.idioms import array_dtypes, gram_form
from optcompiler.passes.vectorize import unconditional_covered_accesses


def _kernel(source: str) -> Kernel:
    return frontend.lift_function(textwrap.dedent(source), "k.py")


def _nest(kernel: Kernel) -> Term:
    """The kernel's last top-level loop."""
    return [stmt for stmt in kernel.body.args if stmt.op == "for"][-1]


def _form(kernel: Kernel) -> Term | None:
    facts = analyze(kernel)
    covered = unconditional_covered_accesses(kernel.body, facts)
    dtypes = array_dtypes(kernel.body, facts)
    names = frozenset(all_names(kernel.body))
    return gram_form(_nest(kernel), facts, dtypes, covered, names, kernel.body)


def _gram(source: str) -> str | None:
    """The statements that replace the kernel's last top-level nest, as source, or None."""
    found = _form(_kernel(source))
    return None if found is None else "\n".join(lower_block(found, indent=""))


_SYRK = """
    import numpy as np
    def f(A):
        n, k = A.shape
        C = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                for p in range(k):
                    {statement}
                C[i, j] = s
        return C
"""


def _syrk_nest(lookup: str, name: str = "A_AT", product: str = "A @ A.T") -> str:
    return textwrap.dedent(
        f"""\
        {name} = {product}
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                {lookup}
                C[i, j] = s"""
    )


# ---- what it produces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement,lookup",
    [
        ("s += A[i, p] * A[j, p]", "s += A_AT[i, j]"),
        ("s = s + A[i, p] * A[j, p]", "s += A_AT[i, j]"),
        ("s = A[i, p] * A[j, p] + s", "s += A_AT[i, j]"),
        ("s += A[j, p] * A[i, p]", "s += A_AT[j, i]"),  # the left factor's row is the entry's row
        ("s -= A[i, p] * A[j, p]", "s -= A_AT[i, j]"),
        ("s += 2.0 * A[i, p] * A[j, p]", "s += 2.0 * A_AT[i, j]"),  # a scale multiplies the sum once
    ],
)
def test_a_triangular_rank_k_update_reads_the_product(statement: str, lookup: str) -> None:
    assert _gram(_SYRK.format(statement=statement)) == _syrk_nest(lookup)


def test_a_column_covariance_from_a_triangle_reads_the_transposed_product() -> None:
    source = """
        import numpy as np
        def f(D):
            n, m = D.shape
            S = np.empty((m, m))
            for a in range(m):
                for b in range(a, m):
                    t = 0.0
                    for r in range(n):
                        t += D[r, a] * D[r, b]
                    S[a, b] = t / (n - 1)
                    S[b, a] = S[a, b]
            return S
    """
    assert _gram(source) == textwrap.dedent(
        """\
        DT_D = D.T @ D
        for a in range(m):
            for b in range(a, m):
                t = 0.0
                t += DT_D[a, b]
                S[a, b] = t / (n - 1)
                S[b, a] = S[a, b]"""
    )


def test_mixed_orientations_and_an_unproved_operand_read_through_a_guarded_slice() -> None:
    # Q's column count is never declared: its element is guarded (d <= Q.shape[1] or the
    # original runs), so Q[:, :d] has exactly d columns; Q itself when that is all of it (a
    # column prefix is a strided view, which Numba's `@` would copy)
    source = """
        import numpy as np
        def f(P, Q):
            d, n = P.shape
            m = Q.shape[0]
            out = np.empty((n, m))
            for i in range(n):
                for j in range(m):
                    s = 1.0
                    for k in range(d):
                        s += P[k, i] * Q[j, k]
                    out[i, j] = s * s
            return out
    """
    assert _gram(source) == textwrap.dedent(
        """\
        if Q.shape[1] == d:
            PT_QT_d = P.T @ Q.T
        else:
            PT_QT_d = P.T @ Q[:, :d].T
        for i in range(n):
            for j in range(m):
                s = 1.0
                s += PT_QT_d[i, j]
                out[i, j] = s * s"""
    )


def test_every_contraction_of_the_nest_gets_a_product_and_equal_ones_share_it() -> None:
    source = """
        import numpy as np
        def f(A, B):
            n, k = A.shape
            m = B.shape[0]
            C = np.zeros((n, n))
            D = np.zeros((n, m))
            for i in range(n):
                for j in range(i + 1):
                    s = 0.0
                    for p in range(k):
                        s += A[i, p] * A[j, p]
                    t = 0.0
                    for q in range(k):
                        t += A[j, q] * A[i, q]
                    C[i, j] = s - t
                for c in range(m):
                    u = 0.0
                    for p in range(k):
                        u += A[i, p] * B[c, p]
                    D[i, c] = u
            return C, D
    """
    assert _gram(source) == textwrap.dedent(
        """\
        A_AT = A @ A.T
        if B.shape[1] == k:
            A_BT_k = A @ B.T
        else:
            A_BT_k = A @ B[:, :k].T
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                s += A_AT[i, j]
                t = 0.0
                t += A_AT[j, i]
                C[i, j] = s - t
            for c in range(m):
                u = 0.0
                u += A_BT_k[i, c]
                D[i, c] = u"""
    )
    # without an n x m array in the nest, A @ B.T would be memory the loop never needed
    assert "A_BT" not in _gram(source.replace("D[i, c] = u", "C[i, 0] += u"))


def test_a_product_larger_than_anything_the_program_holds_is_refused() -> None:
    """Counting pairs needs one scalar; `X @ X.T` over 10^5 points would need 80 GB."""
    source = """
        import numpy as np
        def close_pairs(X, t: float):
            n, d = X.shape
            count = 0
            for i in range(n):
                for j in range(i):
                    s = 0.0
                    for p in range(d):
                        s += X[i, p] * X[j, p]
                    if s > t:
                        count += 1
            return count
    """
    assert _gram(source) is None
    with_output = source.replace("count = 0", "count = 0\n            G = np.zeros((n, n))").replace(
        "if s > t:", "G[i, j] = s\n                    if s > t:"
    )
    assert "X_XT = X @ X.T" in _gram(with_output)


_TWO_SUMS = """
    import numpy as np
    def f(A):
        n, k = A.shape
        B = np.ones((n, k))
        C = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                t = 0.0
                for p in range(k):
                    {statements}
                C[i, j] = s * t
        return C
"""


def test_two_sums_of_one_inner_loop_read_two_products() -> None:
    source = _TWO_SUMS.format(statements="s += A[i, p] * A[j, p]\n                    t -= B[j, p] * A[i, p]")
    assert _gram(source) == textwrap.dedent(
        """\
        A_AT = A @ A.T
        B_AT = B @ A.T
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                t = 0.0
                s += A_AT[i, j]
                t -= B_AT[j, i]
                C[i, j] = s * t"""
    )


@pytest.mark.parametrize(
    "statements",
    [
        "s += A[i, p] * A[j, p]\n                    s += B[i, p] * A[j, p]",  # one sum twice
        "s += A[i, p] * A[j, p]\n                    t += s * B[i, p] * A[j, p]",  # a sum reads another
        "s += A[i, p] * A[j, p]\n                    t = s",  # not a sum
        "s += A[i, p] * A[j, p]\n                    t += A[i, p] * A[i, p]",  # one diagonal
        "s += A[i, p] * x[p]",  # a vector factor: a matrix-vector sum, not this rule's
    ],
)
def test_refuses_sums_that_are_not_independent_products(statements: str) -> None:
    source = _TWO_SUMS.format(statements=statements).replace("def f(A):", "def f(A, x):")
    assert _gram(source) is None


def test_a_vector_factor_is_left_to_the_matrix_vector_rules() -> None:
    """The fixtures refuse_accumulator_*: a row loop of `s += A[i, j] * x[j]` is idioms.matvec's
    (through loops.distribute's expanded scalar), never this rule's."""
    for fixture in ("refuse_accumulator_float32_target", "refuse_accumulator_read_after"):
        source = (Path(__file__).parent / "idioms" / fixture / "input.py").read_text()
        assert _form(frontend.lift_function(source, "k.py")) is None


def test_the_products_name_avoids_the_kernels_names() -> None:
    source = _SYRK.format(statement="s += A[i, p] * A[j, p]").replace(
        "return C", "A_AT = 1.0\n        return C"
    )
    assert _gram(source) == _syrk_nest("s += A_AT_[i, j]", name="A_AT_")


def test_an_int_parameter_bound_in_the_guard_applies() -> None:
    # every element is read unconditionally: the dispatcher's guard checks n - 1 < X.shape[0]
    source = """
        import numpy as np
        def f(X, n: int):
            k = X.shape[1]
            G = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1):
                    s = 0.0
                    for p in range(k):
                        s += X[i, p] * X[j, p]
                    G[i, j] = s
            return G
    """
    assert _gram(source) is not None
    # the same reads under an `if` are not covered, and nothing proves the rows exist
    under_if = """
        import numpy as np
        def f(X, w, n: int):
            k = X.shape[1]
            G = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1):
                    if w[j] > 0.5:
                        s = 0.0
                        for p in range(k):
                            s += X[i, p] * X[j, p]
                        G[i, j] = s
            return G
    """
    assert _gram(under_if) is None


def test_a_parameter_written_by_the_nest_is_left_to_the_overlap_guard() -> None:
    source = """
        import numpy as np
        def f(A, C):
            n, k = A.shape
            for i in range(n):
                for j in range(i + 1):
                    s = 0.0
                    for p in range(k):
                        s += A[i, p] * A[j, p]
                    C[i, j] = s
            return C
    """
    # two parameters would be left to the overlap guard, but nothing ties C's shape to the
    # product's (n x n), so the product is not known to fit in what the program already holds
    assert _gram(source) is None
    fresh = source.replace("def f(A, C):", "def f(A):").replace(
        "n, k = A.shape", "n, k = A.shape\n            C = np.zeros((n, n))"
    )
    assert _gram(fresh) is not None


# ---- where it refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "s += A[i, p] * A[j, p] + 1.0",  # not a product of two elements
        "s += A[i, p] * A[i, p]",  # a diagonal: the rest of the product would be wasted
        "s += A[i, p] * A[j, p + 1]",  # a subscript that is not the loop variable
        "s += A[i, p] * A[j, 0]",
        "s *= A[i, p] * A[j, p]",
        "s += A[i, p] * A[j, p] * s",
        "s += A[i, p] * A[j, p] * p",  # a scale the inner loop changes
    ],
)
def test_refuses_what_is_not_an_entry_of_a_product(statement: str) -> None:
    assert _gram(_SYRK.format(statement=statement)) is None


@pytest.mark.parametrize(
    "header", ["range(1, k)", "range(k - 1)", "range(0, k, 2)", "range(i)", "range(k, 0, -1)"]
)
def test_refuses_partial_stepped_or_moving_ranges(header: str) -> None:
    source = _SYRK.format(statement="s += A[i, p] * A[j, p]").replace("range(k)", header)
    assert _gram(source) is None


@pytest.mark.parametrize(
    "extra",
    [
        "A[i, 0] = 0.5",  # the nest writes an operand
        "V[i, 0] = 0.5",  # ... or a view that may share its memory
        "touch(A)",  # ... or hands it to a call that might
        "k = k - 1",  # the extent changes
        "A = A * 2.0",  # the operand is rebound
    ],
)
def test_refuses_when_the_nest_may_change_the_operands_or_the_extent(extra: str) -> None:
    source = _SYRK.format(statement="s += A[i, p] * A[j, p]")
    source = source.replace("C = np.zeros((n, n))", "C = np.zeros((n, n))\n        V = A[::-1]")
    source = source.replace(
        "                C[i, j] = s", f"                C[i, j] = s\n            {extra}"
    )
    assert _gram(source) is None


def test_refuses_when_the_inner_variable_is_read_after_its_loop() -> None:
    source = _SYRK.format(statement="s += A[i, p] * A[j, p]").replace("C[i, j] = s", "C[i, j] = s + p")
    assert _gram(source) is None


def test_refuses_a_subscript_bound_outside_the_nest() -> None:
    # i is a parameter: this is a matrix-vector product, not an entry of the nest's own product
    source = """
        import numpy as np
        def f(A, i: int):
            n, k = A.shape
            y = np.zeros(n)
            for j in range(n):
                s = 0.0
                for p in range(k):
                    s += A[i, p] * A[j, p]
                y[j] = s
            return y
    """
    assert _gram(source) is None


@pytest.mark.parametrize(
    "change",
    [
        ("def f(A):", "def f(A: npt.NDArray[np.float32]):"),  # float32: refused, kept simple
        ("def f(A):", "def f(A: npt.NDArray[np.int64]):"),
        ("s = 0.0", "s = 0"),  # an int accumulator
        ("s = 0.0", "s = np.zeros(2)"),  # an array accumulator
    ],
)
def test_refuses_other_dtypes_and_accumulators(change: tuple[str, str]) -> None:
    source = _SYRK.format(statement="s += A[i, p] * A[j, p]").replace(*change)
    source = source.replace("import numpy as np", "import numpy as np\n    import numpy.typing as npt")
    assert _gram(source) is None


def test_refuses_an_int_extent_neither_operand_proves() -> None:
    # both operands only guarded: k <= A.shape[1], but a negative k would make A[:, :k] non-empty
    source = _SYRK.format(statement="s += A[i, p] * A[j, p]")
    source = source.replace("def f(A):", "def f(A, k: int):").replace("n, k = A.shape", "n = A.shape[0]")
    assert _gram(source) is None


# ---- the rewritten kernels compute what the originals do ---------------------------------------

_COVARIANCE = """
    import numpy as np
    def f(D):
        n, m = D.shape
        S = np.empty((m, m))
        for a in range(m):
            S[a, a] = 0.0
            for b in range(a + 1, m):
                t = 0.0
                for r in range(n):
                    t = t + D[r, a] * D[r, b]
                S[a, b] = t / max(n - 1, 1)
                S[b, a] = S[a, b]
        return S
"""
_MIXED = """
    import numpy as np
    def f(P, Q):
        d, n = P.shape
        m = Q.shape[0]
        out = np.empty((n, m))
        for i in range(n):
            for j in range(m):
                s = 1.0
                for k in range(d):
                    s -= 2.0 * P[k, i] * Q[j, k]
                out[i, j] = s * s
        return out
"""
_PARAMETER_ROWS = """
    import numpy as np
    def f(X, n: int):
        k = X.shape[1]
        G = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                for p in range(k):
                    s += X[i, p] * X[j, p]
                G[i, j] = s
        return G
"""
_TWO_SUMS_CASE = _TWO_SUMS.format(
    statements="s += A[i, p] * A[j, p]\n                    t -= 0.5 * B[j, p] * A[i, p]"
)
_CASES = [  # (kernel, argument shapes or ints): k = 0 with rows left, 1x1, no rows, wide and tall
    (_SYRK.format(statement="s += A[j, p] * A[i, p]"), ((3, 0),)),
    (_SYRK.format(statement="s += A[j, p] * A[i, p]"), ((1, 1),)),
    (_SYRK.format(statement="s += A[j, p] * A[i, p]"), ((0, 4),)),
    (_SYRK.format(statement="s -= 0.5 * A[i, p] * A[j, p]"), ((5, 9),)),
    (_COVARIANCE, ((0, 3),)),
    (_COVARIANCE, ((1, 1),)),
    (_COVARIANCE, ((7, 4),)),
    (_COVARIANCE, ((3, 0),)),
    (_MIXED, ((0, 3), (2, 0))),  # d = 0: P.T @ Q[:, :0].T is zeros
    (_MIXED, ((0, 3), (2, 4))),  # Q wider than d: its first d columns
    (_MIXED, ((1, 1), (1, 1))),
    (_MIXED, ((4, 3), (5, 6))),
    (_PARAMETER_ROWS, ((5, 0), 3)),  # n within X's rows, as the dispatcher's guard ensures
    (_PARAMETER_ROWS, ((5, 3), 5)),
    (_PARAMETER_ROWS, ((2, 3), 0)),
    (_TWO_SUMS_CASE, ((3, 3),)),
    (_TWO_SUMS_CASE, ((3, 2),)),
    (_TWO_SUMS_CASE, ((4, 0),)),
    (_TWO_SUMS_CASE, ((1, 1),)),
]


def _variant(source: str) -> tuple[str, str]:
    """The original function's source and the same function, named `f`, with its last nest rewritten."""
    kernel = _kernel(source)
    found = _form(kernel)
    assert found is not None
    nest = _nest(kernel)
    body = Term("seq", tuple(found if stmt == nest else stmt for stmt in kernel.body.args))
    return textwrap.dedent(source), lower_function("f", kernel.params, body)


def _function(source: str, decorate=None):
    namespace: dict = {"np": np}
    exec(source, namespace)
    return namespace["f"] if decorate is None else decorate(namespace["f"])


def _arguments(shapes: tuple, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s) if isinstance(s, tuple) else s for s in shapes)


@pytest.mark.parametrize("source,shapes", _CASES, ids=[str(shapes) for _, shapes in _CASES])
def test_the_variant_computes_what_the_nest_does(source: str, shapes: tuple) -> None:
    original_source, variant_source = _variant(source)
    for seed in range(3):
        args = _arguments(shapes, seed)
        want = _function(original_source)(*args)
        got = _function(variant_source)(*args)
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.slow  # Numba types `@` slowly: seconds a signature
def test_numba_runs_the_variants_on_the_edge_shapes() -> None:
    numba = pytest.importorskip("numba")
    compiled: dict[str, object] = {}
    for source, shapes in _CASES:
        original_source, variant_source = _variant(source)
        if variant_source not in compiled:
            compiled[variant_source] = _function(variant_source, numba.njit)
        args = _arguments(shapes, 0)
        want = _function(original_source)(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)  # Q[:, :d]: a copy
            got = compiled[variant_source](*args)
        assert np.shape(got) == np.shape(want), (shapes, variant_source)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---- the ranking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [_SYRK.format(statement="s += A[i, p] * A[j, p]"), _COVARIANCE],
    ids=["syrk", "covariance"],
)
def test_the_analytic_model_ranks_the_product_first_at_large_sizes(source: str) -> None:
    """A triangle of n^2 k / 2 multiply-adds in a loop against n^2 k at BLAS speed, plus a pass
    over the product: at n = k = 1000 the hoisted product is predicted faster by far."""
    from optcompiler.config import Config
    from optcompiler.costmodel.hardware import detect
    from optcompiler.pipeline import explore, rank

    kernel = _kernel(source)
    facts = analyze(kernel)
    config = Config(sizes=(("n", 1000), ("m", 1000), ("k", 1000)), default_size=1000)
    variants, _ = explore(kernel, facts, config)
    ranked = rank(variants, facts, config, detect())
    best, seconds = ranked[0]
    plain = next(s for c, s in ranked if not c.variant.derivation)
    assert "idioms.gram" in best.variant.derivation
    assert seconds < plain / 5
