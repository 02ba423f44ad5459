"""Analyses: inferred types and shapes, dependences, legality answers for the rule sets."""

from __future__ import annotations

import textwrap

from optcompiler import frontend
from optcompiler.analysis import (
    ANON_DIM,
    affine,
    analyze,
    bounds_guard,
    carried_scalars,
    direction_vectors,
    interchange_legal,
    is_invariant,
    load_in_bounds,
    parallel_plan,
)
from optcompiler.ir import ArgType, Kernel, Term


def kernel_of(source: str) -> Kernel:
    return frontend.lift_function(textwrap.dedent(source), "k.py")


def top_loops(kernel: Kernel) -> list[Term]:
    return [s for s in kernel.body.args if s.op == "for"]


GEMM = """
    import numpy as np
    def gemm(A: np.ndarray, B: np.ndarray):
        n, m = A.shape
        p = B.shape[1]
        C = np.zeros((n, p))
        for i in range(n):
            for j in range(p):
                for k in range(m):
                    C[i, j] += A[i, k] * B[k, j]
        return C
"""


def test_types_and_shapes_from_annotations_and_unpacking() -> None:
    facts = analyze(kernel_of(GEMM))
    assert facts.arg_types["A"] == ArgType("array", "float64", 2, ("n", "m"))
    assert facts.arg_types["B"] == ArgType("array", "float64", 2, ("m", "p"))  # B[k, j] with k in range(m)
    assert facts.array_dims["C"] == ("n", "p")
    assert facts.fresh_arrays == {"C"}
    assert facts.written_params == frozenset()
    assert facts.kind("i") == "int"


def test_dims_propagate_through_loop_ranges_and_int_params() -> None:
    k = kernel_of(
        """
        def axpy(a, x, y, n: int):
            for i in range(n):
                y[i] = a * x[i] + y[i]
        """
    )
    facts = analyze(k)
    assert facts.arg_types["x"] == ArgType("array", "float64", 1, ("n",))
    assert facts.arg_types["a"].kind == "float"
    assert facts.arg_types["n"].kind == "int"
    assert facts.written_params == {"y"}


def test_config_hint_wins_over_annotation() -> None:
    k = kernel_of(
        """
        def f(x: float, y):
            for i in range(3):
                y[i] = x
        """
    )
    facts = analyze(k, {"y": "float32[:]", "x": "float32"})
    assert facts.arg_types["y"] == ArgType("array", "float32", 1, (ANON_DIM,))
    assert facts.arg_types["x"] == ArgType("float", "float32")


def test_gemm_interchanges_are_all_legal() -> None:
    k = kernel_of(GEMM)
    facts = analyze(k)
    (outer,) = top_loops(k)
    assert interchange_legal(outer, facts)
    middle = outer.args[4].args[0]
    assert interchange_legal(middle, facts)


def test_skewed_dependence_refuses_interchange() -> None:
    k = kernel_of(
        """
        def skew(u):
            n, m = u.shape
            for i in range(1, n):
                for j in range(m - 1):
                    u[i, j] = u[i - 1, j + 1]
        """
    )
    facts = analyze(k)
    (outer,) = top_loops(k)
    assert not interchange_legal(outer, facts)
    assert parallel_plan(outer, facts, allow_reassoc=True) is None


def test_forward_stencil_in_place_allows_interchange_but_not_parallel() -> None:
    k = kernel_of(
        """
        def gs(u):
            n, m = u.shape
            for i in range(1, n):
                for j in range(1, m):
                    u[i, j] = u[i - 1, j] + u[i, j - 1]
        """
    )
    facts = analyze(k)
    (outer,) = top_loops(k)
    assert interchange_legal(outer, facts)  # distances (1, 0) and (0, 1) stay non-negative
    assert parallel_plan(outer, facts, allow_reassoc=True) is None


def test_direction_vectors_of_a_recurrence() -> None:
    k = kernel_of(
        """
        def rec(x):
            n = x.shape[0]
            for i in range(1, n):
                x[i] = x[i - 1] * 0.5
        """
    )
    facts = analyze(k)
    (loop,) = top_loops(k)
    vectors = direction_vectors(loop.args[4], ("i",), facts)
    assert ("<",) in vectors and (">",) in vectors


def test_triangular_and_escaping_loop_vars_refuse() -> None:
    tri = kernel_of(
        """
        def tri(A, out):
            n, m = A.shape
            for j in range(m):
                for i in range(j):
                    out[i, j] = A[i, j]
        """
    )
    assert not interchange_legal(top_loops(tri)[0], analyze(tri))
    esc = kernel_of(
        """
        def esc(A, out):
            n, m = A.shape
            for j in range(m):
                for i in range(n):
                    out[i, j] = A[i, j]
            return i
        """
    )
    assert not interchange_legal(top_loops(esc)[0], analyze(esc))


def test_scalar_reduction_blocks_interchange_and_needs_reassoc_to_parallelize() -> None:
    k = kernel_of(
        """
        def total(A):
            n, m = A.shape
            s = 0.0
            for j in range(m):
                for i in range(n):
                    s += A[i, j]
            return s
        """
    )
    facts = analyze(k)
    (outer,) = top_loops(k)
    assert not interchange_legal(outer, facts)
    assert carried_scalars(outer.args[4]) == {"s"}
    assert parallel_plan(outer, facts, allow_reassoc=False) is None
    plan = parallel_plan(outer, facts, allow_reassoc=True)
    assert plan is not None and plan.reductions == ("s",)


def test_int_reduction_parallel_without_reassoc() -> None:
    k = kernel_of(
        """
        def count(x):
            n = x.shape[0]
            c = 0
            for i in range(n):
                c += 1
            return c
        """
    )
    facts = analyze(k)
    plan = parallel_plan(top_loops(k)[0], facts, allow_reassoc=False)
    assert plan is not None and plan.reductions == ("c",)


def test_indirect_subscripts_refuse_parallel() -> None:
    k = kernel_of(
        """
        def hist(idx, counts):
            n = idx.shape[0]
            for i in range(n):
                counts[idx[i]] += 1.0
        """
    )
    facts = analyze(k)
    assert parallel_plan(top_loops(k)[0], facts, allow_reassoc=True) is None


def test_affine_decomposition() -> None:
    from optcompiler.ir import Term, const, var

    expr = Term("add", (Term("mul", (const(2), var("i"))), Term("sub", (var("n"), const(1)))))
    aff = affine(expr, ["i"])
    assert aff is not None and aff.coeff("i") == 2 and aff.const == -1
    assert affine(Term("mul", (var("i"), var("j"))), ["i", "j"]) is None


def test_invariance_and_bounds() -> None:
    k = kernel_of(
        GEMM.replace("for j in range(p):", "for KK in range(m):")
        .replace("for k in range(m):", "for j in range(p):")
        .replace("KK", "k")
    )
    facts = analyze(k)
    (i_loop,) = top_loops(k)
    k_loop = i_loop.args[4].args[0]
    j_loop = k_loop.args[4].args[0]
    assert j_loop.args[0].value == "j"
    a_ik = Term("index", (Term("var", (), "A"), Term("tuple", (Term("var", (), "i"), Term("var", (), "k")))))
    assert load_in_bounds(a_ik, facts)
    assert is_invariant(a_ik, j_loop, facts)
    assert not is_invariant(a_ik, k_loop, facts)
    c_ij = Term("index", (Term("var", (), "C"), Term("tuple", (Term("var", (), "i"), Term("var", (), "j")))))
    assert not is_invariant(c_ij, i_loop, facts)  # C is written in the loop
    b_kj = Term("index", (Term("var", (), "B"), Term("tuple", (Term("var", (), "k"), Term("var", (), "j")))))
    assert not load_in_bounds(b_kj, facts)  # B's row count is only inferred from use, never declared


def test_index_arrays_are_inferred_integer_and_newaxis_is_not_a_dimension() -> None:
    k = kernel_of(
        """
        import numpy as np
        def csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, x: np.ndarray, X):
            n = indptr.shape[0] - 1
            y = np.zeros(n)
            for i in range(n):
                for p in range(indptr[i], indptr[i + 1]):
                    y[i] += data[p] * x[indices[p]] + X[:, None, 0][0, 0, 0]
            return y
        """
    )
    facts = analyze(k)
    assert facts.arg_types["indptr"].dtype == "int64"
    assert facts.arg_types["indices"].dtype == "int64"
    assert facts.arg_types["data"].dtype == "float64"
    assert facts.arg_types["X"].ndim == 2


# ---- bounds guards ---------------------------------------------------------------------------------


def _guard(source: str):
    kernel = kernel_of(source)
    return bounds_guard(kernel.body, [p.name for p in kernel.params], analyze(kernel))


def test_bounds_guard_states_what_the_loops_need_of_the_shapes() -> None:
    guard = _guard(GEMM)
    assert guard.complete and guard.conditions == ("A.shape[1] - 1 < B.shape[0]",)


def test_bounds_guard_needs_nothing_for_subscripts_proved_in_range() -> None:
    guard = _guard(
        """
        import numpy as np
        def stencil(u: np.ndarray) -> np.ndarray:
            n = u.shape[0]
            out = np.zeros(n)
            for i in range(1, n - 1):
                out[i] = u[i - 1] + u[i + 1]
            for j in range(n - 1, -1, -1):
                out[j] += u[n - 1 - j]
            return out
        """
    )
    assert guard == type(guard)((), True)


def test_bounds_guard_follows_an_inner_range_that_moves_with_an_outer_variable() -> None:
    """`x[i + lag]` with `i in range(n - lag)` is in range for every lag: bounding i and lag each
    on its own (`n - 1 + maxlag < n`) sent every call with maxlag >= 1 to the CPython original
    (autocorrelation 600x slower than njit). The same subscript over `range(n)` does go out."""
    lagged = """
        import numpy as np
        def acf(x: np.ndarray, maxlag: int) -> np.ndarray:
            n = x.shape[0]
            out = np.zeros(maxlag + 1)
            for lag in range(maxlag + 1):
                s = 0.0
                for i in range(n - lag):
                    s += x[i] * x[i + lag]
                out[lag] = s
            return out
        """
    assert _guard(lagged) == type(_guard(lagged))((), True)
    overrun = _guard(lagged.replace("range(n - lag)", "range(n)"))
    assert overrun.complete and "maxlag - 1 < 0" in overrun.conditions  # only maxlag = 0 stays in range


def test_bounds_guard_keeps_negative_wraparound_legal() -> None:
    guard = _guard(
        """
        import numpy as np
        def prev(x: np.ndarray, k: int) -> np.ndarray:
            n = x.shape[0]
            out = np.zeros(n)
            for i in range(n):
                out[i] = x[i - k]
            return out
        """
    )
    # x[i - k] may wrap (x[-1] is the last element) but not beyond -len(x)
    assert guard.complete
    assert guard.conditions == ("-k >= -(x.shape[0])", "-k - 1 < 0")


def test_bounds_guard_leaves_data_dependent_and_conditional_subscripts_to_boundscheck() -> None:
    histogram = _guard(
        """
        import numpy as np
        def hist(idx: np.ndarray, bins: int) -> np.ndarray:
            h = np.zeros(bins)
            for i in range(idx.shape[0]):
                h[idx[i]] += 1.0
            return h
        """
    )
    assert not histogram.complete
    guarded_by_if = _guard(
        """
        import numpy as np
        def left(x: np.ndarray, out: np.ndarray):
            for i in range(x.shape[0]):
                if i > 0:
                    out[i] = x[i - 1]
        """
    )
    # `out[i]` under the if would need out.shape[0] >= x.shape[0]; as a dispatcher condition it
    # could refuse valid calls, so the variant checks bounds itself instead
    assert not guarded_by_if.complete


def test_bounds_guard_covers_what_the_if_tested_and_loop_variables_reused_with_other_ranges() -> None:
    relax = _guard(
        """
        import numpy as np
        def relax(w: np.ndarray) -> np.ndarray:
            n = w.shape[0]
            d = w.copy()
            for k in range(n):
                for i in range(n):
                    for j in range(n):
                        if d[i, k] + d[k, j] < d[i, j]:
                            d[i, j] = d[i, k] + d[k, j]
            return d
        """
    )
    # the branch reads and writes exactly the elements its test read (d is w's copy: w is 2-D)
    assert relax.complete and relax.conditions == ("w.shape[0] - 1 < w.shape[1]",)
    rows = _guard(
        """
        import numpy as np
        def rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            n = len(a)
            m = len(b)
            cur = np.zeros(m + 1)
            prev = np.zeros(m + 1)
            for i in range(1, n + 1):
                for j in range(1, m + 1):
                    cur[j] = prev[j - 1] + a[i - 1] * b[j - 1]
                for j in range(m + 1):
                    prev[j] = cur[j]
            return prev
        """
    )
    # j runs over two ranges: inside each loop it holds that loop's values
    assert rows.complete and rows.conditions == ()
    changed = _guard(
        """
        import numpy as np
        def changed(x: np.ndarray, y: np.ndarray):
            for i in range(x.shape[0]):
                if x[i] > 0.0:
                    i = i + 1
                    y[i] = x[i]
        """
    )
    assert not changed.complete  # the branch rebinds i: x[i] there is another element


def test_bounds_guard_never_emits_a_condition_that_is_always_false() -> None:
    guard = _guard(
        """
        import numpy as np
        def upper(t: np.ndarray) -> np.ndarray:
            n = t.shape[0]
            for i in range(n - 1, -1, -1):
                for j in range(i + 1, n):
                    t[i, j] = t[i + 1, j] + 1.0
            return t
        """
    )
    # i + 1 reaches n in the box of the ranges, never in a run (the j loop is empty at i = n - 1):
    # no "0 < 0" that would send every call to the original
    assert not any(c.startswith("0 <") for c in guard.conditions)


def test_bounds_guard_knows_a_loop_body_runs_only_on_a_non_empty_range() -> None:
    upper = _guard(
        """
        import numpy as np
        def upper(t: np.ndarray) -> np.ndarray:
            n = t.shape[0]
            for i in range(n - 1, -1, -1):
                for j in range(i + 1, n):
                    t[i, j] = t[i + 1, j] + 1.0
            return t
        """
    )
    # inside the j loop i + 1 <= n - 1, so t[i + 1, j] is in range: only t's width is asked for
    assert upper.complete and upper.conditions == ("t.shape[0] - 1 < t.shape[1]",)
    interval = _guard(
        """
        import numpy as np
        def fold(seq: np.ndarray) -> np.ndarray:
            n = seq.shape[0]
            table = np.zeros((n, n), dtype=np.int64)
            for i in range(n - 1, -1, -1):
                for j in range(i + 1, n):
                    best = table[i, j - 1]
                    if table[i + 1, j] > best:
                        best = table[i + 1, j]
                    if i < j - 1:
                        best = max(best, table[i + 1, j - 1] + seq[i] * seq[j])
                    for k in range(i + 1, j):
                        if table[i, k] + table[k + 1, j] > best:
                            best = table[i, k] + table[k + 1, j]
                    table[i, j] = best
            return table
        """
    )
    # the conditional table[i + 1, j - 1] needs no condition either: every subscript is proved
    assert interval == type(interval)((), True)
    descending = _guard(
        """
        import numpy as np
        def down(x: np.ndarray, s: int) -> float:
            n = x.shape[0]
            t = 0.0
            for i in range(n):
                for j in range(n - 1, i, -1):
                    t += x[i + 1] * x[j]
            return t
        """
    )
    # a negative step: the body runs only when n - 1 >= i + 1, so x[i + 1] is in range
    assert descending == type(descending)((), True)


def test_bounds_guard_assumes_nothing_a_run_can_break() -> None:
    beyond = _guard(
        """
        import numpy as np
        def beyond(t: np.ndarray) -> np.ndarray:
            n = t.shape[0]
            for i in range(n):
                for j in range(i, n):
                    t[i, j] = t[i + 1, j]
            return t
        """
    )
    # range(i, n) is non-empty at i = n - 1, where t[i + 1, j] is out of range: never proved
    assert not beyond.complete
    own = _guard(
        """
        import numpy as np
        def own(x: np.ndarray) -> float:
            n = x.shape[0]
            t = 0.0
            i = 0
            for i in range(i + 1, n):
                t += x[i + 1]
            return t
        """
    )
    # the range reads the old i, the body the new one: i + 1 <= n - 1 says nothing about the new i
    assert not own.complete
    rebound = _guard(
        """
        import numpy as np
        def rebound(x: np.ndarray) -> float:
            n = x.shape[0]
            t = 0.0
            for i in range(n):
                for j in range(i + 1, n):
                    i = j
                    t += x[i + 1]
            return t
        """
    )
    # the body rebinds a name the range read: the range's fact no longer holds there
    assert not rebound.complete
    in_range = _guard(
        """
        import numpy as np
        import numpy.typing as npt
        def in_range(x: np.ndarray, start: npt.NDArray[np.int64]) -> float:
            n = start.shape[0]
            t = 0.0
            for i in range(n):
                for j in range(start[i + 1], n):
                    t += x[j]
            return t
        """
    )
    # start[i + 1] in the range itself is evaluated even when the range is empty (at i = n - 1)
    assert not in_range.complete


def test_bounds_guard_drops_conditions_another_implies() -> None:
    guard = _guard(
        """
        import numpy as np
        def pairs(x: np.ndarray, y: np.ndarray) -> float:
            t = 0.0
            for i in range(x.shape[0] - 1):
                t += y[i] * y[i + 1]
            return t
        """
    )
    # y[i + 1] needs x.shape[0] - 1 < y.shape[0], which implies y[i]'s x.shape[0] - 2 < y.shape[0]
    assert guard.complete and guard.conditions == ("x.shape[0] - 1 < y.shape[0]",)
