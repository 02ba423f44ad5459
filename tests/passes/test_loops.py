"""Focused before/after tests of the loop transformations themselves (libcst-codemod style).

The fixture snapshots show what the whole pipeline picks; these show what each rule produces and
where it refuses, independent of the cost model.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optcompiler import frontend
from optcompiler.analysis import all_names, analyze
from optcompiler.ir import Kernel, Term, lower_block, lower_function, seq
from optcompiler.passes import PassContext
from optcompiler.passes.loops import (
    distribute,
    fuse_adjacent,
    fuse_shifted,
    hoist_invariants,
    peel,
    replace_scalars,
    sink_scalar_inits,
    tile,
    unroll_and_jam,
    unroll_and_jam_middle,
)


def _kernel(source: str) -> Kernel:
    return frontend.lift_function(textwrap.dedent(source), "k.py")


def _ctx(kernel: Kernel) -> PassContext:
    names = frozenset(all_names(kernel.body) | {p.name for p in kernel.params})
    return PassContext(facts=analyze(kernel), root=0, names=names)


def _loop(kernel: Kernel, path: tuple[int, ...]) -> Term:
    """The loop reached by following statement indices: top-level index, then body indices."""
    term = kernel.body.args[path[0]]
    for i in path[1:]:
        term = term.args[4].args[i]
    return term


def _text(term: Term | None) -> str:
    assert term is not None, "the rule declined"
    return "\n".join(lower_block(term, indent=""))


GEMM_IKJ = """
    import numpy as np
    def gemm(A, B):
        n, m = A.shape
        p = B.shape[1]
        C = np.zeros((n, p))
        for i in range(n):
            for k in range(m):
                for j in range(p):
                    C[i, j] += A[i, k] * B[k, j]
        return C
"""


def test_licm_hoists_an_in_bounds_invariant_load() -> None:
    k = _kernel(GEMM_IKJ)
    out = hoist_invariants(_loop(k, (3, 0, 0)), _ctx(k))
    assert _text(out) == textwrap.dedent(
        """\
        A_i_k = A[i, k]
        for j in range(p):
            C[i, j] += A_i_k * B[k, j]"""
    )


def test_licm_refuses_loads_of_arrays_the_loop_writes() -> None:
    k = _kernel(
        """
        def f(x):
            n = x.shape[0]
            for i in range(n):
                for j in range(n):
                    x[j] = x[j] + x[i]
        """
    )
    assert hoist_invariants(_loop(k, (1, 0)), _ctx(k)) is None


def test_licm_refuses_loads_not_proved_in_bounds() -> None:
    # s has no declared length: if the j loop ran zero times, s[i] might be out of range
    k = _kernel(
        """
        def f(A, s, out):
            n, m = A.shape
            for i in range(n):
                for j in range(m):
                    out[i, j] = A[i, j] * s[i]
        """
    )
    assert hoist_invariants(_loop(k, (1, 0)), _ctx(k)) is None


def test_licm_refuses_division_even_when_invariant() -> None:
    # a hoisted division could raise ZeroDivisionError where the zero-trip loop would not
    k = _kernel(
        """
        def f(A, out, a, b):
            n, m = A.shape
            for i in range(n):
                for j in range(m):
                    out[i, j] = A[i, j] * (a / b)
        """
    )
    assert hoist_invariants(_loop(k, (1, 0)), _ctx(k)) is None


MATVEC_ROWS = """
    import numpy as np
    def mv(A, x):
        n, m = A.shape
        y = np.zeros(n)
        for i in range(n):
            for j in range(m):
                y[i] += A[i, j] * x[j]
        return y
"""


def test_scalar_replacement_of_an_accumulated_element() -> None:
    k = _kernel(MATVEC_ROWS)
    out = replace_scalars(_loop(k, (2, 0)), _ctx(k), k.body)
    assert _text(out) == textwrap.dedent(
        """\
        y_i = y[i]
        for j in range(m):
            y_i += A[i, j] * x[j]
        y[i] = y_i"""
    )


def test_scalar_replacement_refuses_a_varying_element() -> None:
    k = _kernel(MATVEC_ROWS)
    assert replace_scalars(_loop(k, (2,)), _ctx(k), k.body) is None  # y[i] varies with the i loop


def test_scalar_replacement_refuses_two_subscripts_of_one_array() -> None:
    k = _kernel(
        """
        import numpy as np
        def f(A):
            n, m = A.shape
            y = np.zeros(n)
            for i in range(n):
                for j in range(m):
                    y[i] += A[i, j] + y[0]
            return y
        """
    )
    assert replace_scalars(_loop(k, (2, 0)), _ctx(k), k.body) is None


def test_scalar_replacement_refuses_early_exit() -> None:
    k = _kernel(
        """
        import numpy as np
        def f(A):
            n, m = A.shape
            y = np.zeros(n)
            for i in range(n):
                for j in range(m):
                    if A[i, j] < 0.0:
                        break
                    y[i] += A[i, j]
            return y
        """
    )
    assert replace_scalars(_loop(k, (2, 0)), _ctx(k), k.body) is None


ACCUMULATE = """
    import numpy as np
    def f(A, x):
        n, m = A.shape
        y = {allocation}
        for i in range(n):
            for j in range(m):
                {update}
        return y
"""


def _replaced(allocation: str, update: str) -> bool:
    k = _kernel(ACCUMULATE.format(allocation=allocation, update=update))
    return replace_scalars(_loop(k, (2, 0)), _ctx(k), k.body) is not None


def test_scalar_replacement_keeps_a_float64_element_a_float64() -> None:
    assert _replaced("np.zeros(n)", "y[i] = y[i] + A[i, j] * x[j]")
    assert _replaced("np.zeros(n)", "y[i] = A[i, j] - y[i]")
    assert _replaced("np.zeros(n)", "y[i] -= 2")
    assert _replaced("np.zeros(n, dtype=np.int64)", "y[i] += j * 2")


def test_scalar_replacement_refuses_updates_that_change_the_scalars_type() -> None:
    # float32: a float64 operand makes the scalar a float64 (one rounding instead of one per store)
    assert not _replaced("np.zeros(n, dtype=np.float32)", "y[i] += A[i, j] * x[j]")
    # int64: a float operand makes the scalar a float; the original truncates at every store
    assert not _replaced("np.zeros(n, dtype=np.int64)", "y[i] += A[i, j] * 0.5")
    assert not _replaced("np.zeros(n, dtype=np.int64)", "y[i] /= 2")
    # a plain store of any expression: the scalar takes the expression's type, not the array's
    assert not _replaced("np.zeros(n)", "y[i] = j")
    assert not _replaced("np.zeros(n)", "y[i] = max(y[i], A[i, j])")
    # a local view's dtype is not known
    assert not _replaced("A[:, 0]", "y[i] += x[j]")


# ---- fusion, distribution, peeling, unroll-and-jam, tiling ----------------------------------------------
#
# Each rewrite is also executed: the kernel with the rewritten statement and the original run in
# CPython on the same inputs, for sizes that hit every remainder and the empty ranges, and must
# agree bit for bit (these rewrites reorder iterations, never arithmetic).


def _with_stmt(kernel: Kernel, index: int, new: Term) -> Term:
    stmts = list(kernel.body.args)
    stmts[index] = new
    return Term("seq", tuple(stmts))


def _function(kernel: Kernel, body: Term):
    namespace: dict[str, object] = {"np": np}
    exec(lower_function(kernel.name, kernel.params, body, None), namespace)
    return namespace[kernel.name]


def _same_results(kernel: Kernel, body: Term, make_args, sizes) -> None:
    original, rewritten = _function(kernel, kernel.body), _function(kernel, body)
    for size in sizes:
        rng = np.random.default_rng(size)
        args_a = make_args(rng, size)
        args_b = [a.copy() if isinstance(a, np.ndarray) else a for a in args_a]
        out_a, out_b = original(*args_a), rewritten(*args_b)
        np.testing.assert_array_equal(np.asarray(out_a), np.asarray(out_b), err_msg=f"size {size}")
        for a, b in zip(args_a, args_b, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"size {size}")


FUSE_ROWS = """
    def f(a, b, c):
        n, m = a.shape
        for i in range(n):
            for j in range(m):
                b[i, j] = a[i, j] * 2.0
            for j in range(m):
                c[i, j] = b[i, j] + a[i, j]
"""


def _three(rng, n):
    return [rng.random((n, n + 1)), rng.random((n, n + 1)), rng.random((n, n + 1))]


def test_fusion_merges_adjacent_loops_over_one_range() -> None:
    k = _kernel(FUSE_ROWS)
    out = fuse_adjacent(_loop(k, (1,)), _ctx(k).facts)
    assert _text(out) == textwrap.dedent(
        """\
        for i in range(n):
            for j in range(m):
                b[i, j] = a[i, j] * 2.0
                c[i, j] = b[i, j] + a[i, j]"""
    )
    _same_results(k, _with_stmt(k, 1, out), _three, (0, 1, 3))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("b[i, j] = a[i, j] * 2.0", "c[i, j] = b[i, j + 1]"),  # reads what a later iteration writes
        ("b[i, j] = a[i, j]", "b[i, j + 1] = c[i, j]"),  # overwrites what a later iteration writes
        ("b[i, 0] = a[i, j]", "c[i, j] = b[i, 0]"),  # every iteration reads the last write
        ("t = a[i, j]", "c[i, j] = t"),  # a scalar flows from the first loop to the second
        ("b[i, j] = a[i, j]", "c[i, j] = b[i, j * j]"),  # subscript not affine
    ],
)
def test_fusion_refuses_a_dependence_it_would_reverse(first: str, second: str) -> None:
    k = _kernel(
        f"""
        def f(a, b, c):
            n, m = a.shape
            for i in range(n):
                for j in range(m - 1):
                    {first}
                for j in range(m - 1):
                    {second}
        """
    )
    assert fuse_adjacent(_loop(k, (1,)), _ctx(k).facts) is None


def test_fusion_refuses_different_ranges_or_a_bound_the_first_loop_changes() -> None:
    k = _kernel(
        """
        def f(a, b, k):
            n = a.shape[0]
            for t in range(3):
                for i in range(k[0]):
                    k[0] = 1
                for i in range(k[0]):
                    b[i] = a[i]
                for i in range(n):
                    b[i] = a[i]
        """
    )
    assert fuse_adjacent(_loop(k, (1,)), _ctx(k).facts) is None


TOP_LEVEL = """
    import numpy as np
    def f(a):
        n = a.shape[0]
        b = np.zeros(n)
        c = np.zeros(n)
        for i in range({lo}, n - 1):
            {first}
        for i in range({lo2}, n - 1):
            {second}
        return c
"""


def _top_level_variants(source: str, n: int) -> tuple[Kernel, list]:
    from optcompiler.config import Config
    from optcompiler.costmodel.hardware import detect
    from optcompiler.passes import loops
    from optcompiler.pipeline import explore, rank

    k = _kernel(source)
    facts = analyze(k)
    config = Config(sizes=(("n", n),))
    variants, _ = explore(k, facts, config, passes=[loops])
    return k, [c.variant for c, _ in rank(variants, facts, config, detect())]


def test_top_level_loops_fuse_and_the_model_prefers_it_when_it_saves_traffic() -> None:
    source = TOP_LEVEL.format(lo="0", lo2="0", first="b[i] = a[i] * 2.0", second="c[i] = b[i] + a[i]")
    k, ranked = _top_level_variants(source, 10_000_000)
    assert ranked[0].derivation == ("loops.fuse",)
    assert _text(ranked[0].body).splitlines()[3:6] == [
        "for i in range(n - 1):",
        "    b[i] = a[i] * 2.0",
        "    c[i] = b[i] + a[i]",
    ]
    _same_results(k, ranked[0].body, lambda rng, n: [rng.random(n)], range(5))
    assert any(v.derivation == () for v in ranked)  # the body as written stays a candidate


@pytest.mark.parametrize(
    ("lo2", "first", "second"),
    [
        ("0", "b[i] = a[i] * 2.0", "c[i] = b[i + 1] + a[i]"),  # reads what a later iteration writes
        ("1", "b[i] = a[i] * 2.0", "c[i] = b[i] + a[i]"),  # different bounds
        ("0", "b[i] = a[i] * 2.0", "c[i] = b[0] + a[i]"),  # every iteration reads the last write
    ],
)
def test_top_level_fusion_refuses(lo2: str, first: str, second: str) -> None:
    _, ranked = _top_level_variants(TOP_LEVEL.format(lo="0", lo2=lo2, first=first, second=second), 10_000_000)
    assert not any("loops.fuse" in v.derivation for v in ranked)


ROWS_2D = """
    def f(a, b, c):
        n, m = a.shape
        for i in range(n):
            for j in range(m):
                b[i, j] = a[i, j] * 2.0
        for i in range(n):
            {head}
            for j in range(m):
                c[i, j] = b[i, j] + a[i, j]
        return j
"""


def test_fusion_of_2_deep_nests_shares_the_inner_loop_variable() -> None:
    from optcompiler.passes.loops import fuse_pair

    k = _kernel(ROWS_2D.format(head="c[i, 0] = 1.0"))
    out = fuse_pair(k.body.args[1], k.body.args[2], _ctx(k).facts)
    assert out is not None
    fused = Term("seq", (k.body.args[0], out, *k.body.args[3:]))
    _same_results(k, fused, _three, (1, 2, 4))
    # `j` read before the second nest's own j loop is the value the first nest left: refused
    k = _kernel(ROWS_2D.format(head="c[i, 0] = j * 1.0"))
    assert fuse_pair(k.body.args[1], k.body.args[2], _ctx(k).facts) is None


def test_three_top_level_loops_fuse_into_one() -> None:
    source = TOP_LEVEL.format(
        lo="0",
        lo2="0",
        first="b[i] = a[i] * 2.0",
        second="c[i] = b[i] + a[i]\n    for i in range(0, n - 1):\n        a[i] = c[i] * b[i]",
    )
    k, ranked = _top_level_variants(source, 10_000_000)
    assert sum(t.op == "for" for t in ranked[0].body.walk()) == 1, _text(ranked[0].body)
    _same_results(k, ranked[0].body, lambda rng, n: [rng.random(n)], range(5))


DISTRIBUTE = """
    def f(a, b, c):
        n = a.shape[0]
        for i in range(1, n):
            a[i] = a[i - 1] + b[i]
            c[i] = c[i] * 2.0 + a[i]
"""


def test_distribution_splits_statements_no_dependence_crosses_backwards() -> None:
    k = _kernel(DISTRIBUTE)
    (out,) = distribute(_loop(k, (1,)), _ctx(k).facts)
    assert _text(out) == textwrap.dedent(
        """\
        for i in range(1, n):
            a[i] = a[i - 1] + b[i]
        for i in range(1, n):
            c[i] = c[i] * 2.0 + a[i]"""
    )
    _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random(n) for _ in range(3)], (0, 1, 2, 5))


@pytest.mark.parametrize(
    "body",
    [
        "a[i] = c[i - 1] + b[i]\nc[i] = a[i] * 2.0",  # a cycle through a and c
        "t = b[i] * 2.0\nc[i] = t",  # a per-iteration scalar used by both parts
        "a[i] = b[i]\nif a[i] > 0:\n    continue\nc[i] = 1.0",  # continue skips the second part
    ],
)
def test_distribution_refuses_cycles_shared_scalars_and_continue(body: str) -> None:
    source = "def f(a, b, c):\n    n = a.shape[0]\n    for i in range(1, n):\n"
    k = _kernel(source + textwrap.indent(body, " " * 8) + "\n")
    assert len(_loop(k, (1,)).args[4].args) >= 2
    assert distribute(_loop(k, (1,)), _ctx(k).facts) == []


ROW_THEN_COLUMNS = """
    import numpy as np
    def f(A, x):
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


def test_distribution_expands_a_scalar_the_later_statements_read() -> None:
    k = _kernel(ROW_THEN_COLUMNS)
    out = distribute(_loop(k, (2,)), _ctx(k).facts)
    assert _text(out[-1]) == textwrap.dedent(
        """\
        t_i = np.empty(m)
        for i in range(m):
            t = 0.0
            for j in range(n):
                t += A[i, j] * x[j]
            t_i[i] = t
        for i in range(m):
            for j in range(n):
                y[j] += A[i, j] * t_i[i]"""
    )
    _same_results(
        k, _with_stmt(k, 2, out[-1]), lambda rng, n: [rng.random((n, n + 1)), rng.random(n + 1)], (0, 1, 4)
    )


@pytest.mark.parametrize(
    "change",
    [
        ("t = 0.0", "if x[0] > 0.0:\n                t = 0.0"),  # maybe unbound where it would be stored
        ("y[j] += A[i, j] * t", "y[j] += A[i, j] * t\n                t = 1.0"),  # the second part sets t
        ("for i in range(m):", "for i in range(1, m):"),  # the array would be indexed from 1
        (
            "def f(A, x):",
            "def f(A: npt.NDArray[np.float32], x: npt.NDArray[np.float32]):",
        ),  # t may be a float32
    ],
)
def test_distribution_refuses_scalars_it_cannot_expand(change: tuple[str, str]) -> None:
    source = ROW_THEN_COLUMNS.replace(
        "import numpy as np", "import numpy as np\n    import numpy.typing as npt"
    )
    k = _kernel(source.replace(*change))
    assert not any("t_i" in _text(out) for out in distribute(_loop(k, (2,)), _ctx(k).facts))


TWO_ACCUMULATORS = """
    import numpy as np
    def two_products(P, Q, v, a, b):
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


def _split_inner(k: Kernel) -> Term:
    """The row loop's body with its inner loop distributed (the first step the e-graph takes)."""
    body = _loop(k, (2,)).args[4]
    (inner,) = distribute(body.args[2], _ctx(k).facts)
    return seq(body.args[0], body.args[1], inner, body.args[3])


def test_sinking_moves_a_constant_start_down_to_its_first_use() -> None:
    k = _kernel(TWO_ACCUMULATORS)
    assert _text(sink_scalar_inits(_split_inner(k))) == textwrap.dedent(
        """\
        s1 = 0.0
        for c in range(n):
            s1 += P[r, c] * v[c]
        s2 = 0.0
        for c in range(n):
            s2 += Q[r, c] * v[c]
        out[r] = a * s1 + b * s2"""
    )
    assert sink_scalar_inits(_loop(k, (2,)).args[4]) is None  # the fused loop uses both at once


@pytest.mark.parametrize(
    "change",
    [
        ("s2 = 0.0", "s2 = a"),  # not a literal: a name could change on the way
        ("s2 += Q[r, c] * v[c]", "s2 += Q[r, c] * v[c] * s1"),  # nothing to pass: the first loop...
    ],
)
def test_sinking_leaves_starts_it_cannot_move(change: tuple[str, str]) -> None:
    k = _kernel(TWO_ACCUMULATORS.replace(*change))
    body = _loop(k, (2,)).args[4]
    split = distribute(body.args[2], _ctx(k).facts)
    stmts = (body.args[0], body.args[1], *(split[0].args if split else (body.args[2],)), body.args[3])
    assert sink_scalar_inits(seq(*stmts)) is None


def test_sinking_stops_at_an_exit() -> None:
    body = _kernel(
        "def f(x, n):\n    for i in range(n):\n        t = 0.0\n        if x[i] < 0.0:\n            break\n"
        "        t += x[i]\n        x[i] = t\n"
    )
    assert sink_scalar_inits(_loop(body, (0,)).args[4]) is None


def test_distribution_after_sinking_gives_each_accumulator_its_own_nest() -> None:
    k = _kernel(TWO_ACCUMULATORS)
    row = _loop(k, (2,))
    sunk = Term("for", (*row.args[:4], sink_scalar_inits(_split_inner(k))), "range")
    out = distribute(sunk, _ctx(k).facts)
    assert _text(out[0]) == textwrap.dedent(
        """\
        s1_r = np.empty(n)
        for r in range(n):
            s1 = 0.0
            for c in range(n):
                s1 += P[r, c] * v[c]
            s1_r[r] = s1
        for r in range(n):
            s2 = 0.0
            for c in range(n):
                s2 += Q[r, c] * v[c]
            out[r] = a * s1_r[r] + b * s2"""
    )
    args = lambda rng, n: [rng.random((n, n)), rng.random((n, n)), rng.random(n), 1.5, -0.5]  # noqa: E731
    for variant in out:
        _same_results(k, _with_stmt(k, 2, variant), args, (0, 1, 5))


SWEEPS = """
    def f(a, b, steps):
        n = a.shape[0]
        for t in range(steps):
            for i in range(1, n - 1):
                b[i] = 0.5 * (a[i - 1] + a[i + 1])
            for i in range(1, n - 1):
                a[i] = 0.5 * (b[i - 1] + b[i + 1])
"""


def test_shifted_fusion_runs_the_second_sweep_one_iteration_behind() -> None:
    k = _kernel(SWEEPS)
    sweep = _loop(k, (1,)).args[4]
    out = fuse_shifted(sweep.args[0], sweep.args[1], _ctx(k).facts)
    assert _text(out) == textwrap.dedent(
        """\
        for i in range(1, n):
            if i < n - 1:
                b[i] = 0.5 * (a[i - 1] + a[i + 1])
            if i >= 2:
                a[i - 1] = 0.5 * (b[i - 2] + b[i])"""
    )
    fused = Term("for", (*_loop(k, (1,)).args[:4], seq(out)), "range")
    _same_results(k, _with_stmt(k, 1, fused), lambda rng, n: [rng.random(n), rng.random(n), 3], range(6))
    peeled = fuse_shifted(sweep.args[0], sweep.args[1], _ctx(k).facts, peeled=True)
    assert _text(peeled) == textwrap.dedent(
        """\
        if 1 < n - 1:
            b[1] = 0.5 * (a[0] + a[2])
        for i in range(2, n - 1):
            b[i] = 0.5 * (a[i - 1] + a[i + 1])
            a[i - 1] = 0.5 * (b[i - 2] + b[i])
        if n - 2 >= 1:
            a[n - 2] = 0.5 * (b[n - 3] + b[n - 1])"""
    )
    unpeeled = Term("for", (*_loop(k, (1,)).args[:4], seq(peeled)), "range")
    _same_results(k, _with_stmt(k, 1, unpeeled), lambda rng, n: [rng.random(n), rng.random(n), 3], range(6))


@pytest.mark.parametrize(
    "change",
    [
        ("b[i - 1] + b[i + 1]", "b[i - 1] + b[i + 3]"),  # reaches 3 ahead: more than _MAX_SHIFT
        ("b[i - 1] + b[i + 1]", "b[2 * i] + b[i + 1]"),  # an unknown distance
        ("a[i] = 0.5", "a[i] = i * 0.5 + 0.5"),  # the loop variable read after the loops (below)
    ],
)
def test_shifted_fusion_refuses(change: tuple[str, str]) -> None:
    source = SWEEPS.replace(*change)
    if "i * 0.5" in source:
        source += "        return i\n"
    k = _kernel(source)
    sweep = _loop(k, (1,)).args[4]
    assert fuse_shifted(sweep.args[0], sweep.args[1], _ctx(k).facts) is None


def _peeled(test: str, lo: str = "0") -> Kernel:
    return _kernel(
        f"""
        def f(u, out):
            n = u.shape[0]
            for i in range({lo}, n):
                if {test}:
                    out[i] = u[i] * 3.0
                else:
                    out[i] = u[i] - 1.0
        """
    )


@pytest.mark.parametrize(
    "test",
    [
        "i == 0", "0 == i", "i > 0", "i >= 1", "0 < i", "i != 0", "i <= 0", "i < 1",
        "i == n - 1", "n - 1 == i", "i < n - 1", "i + 1 < n", "i >= n - 1", "i > n - 2", "i != n - 1",
    ],
)  # fmt: skip
def test_peeling_takes_a_boundary_test_out_of_the_loop(test: str) -> None:
    k = _peeled(test)
    out = peel(_loop(k, (1,)), _ctx(k).facts)
    assert out is not None, f"{test}: not peeled"
    loops = [t for t in out.walk() if t.op == "for"]
    assert len(loops) == 1 and not any(t.op == "if" for t in loops[0].walk()), f"{test}: branch left"
    _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random(n), np.zeros(n)], range(5))


def test_peeling_with_a_nonzero_start() -> None:
    k = _peeled("i == 2", lo="2")
    out = peel(_loop(k, (1,)), _ctx(k).facts)
    assert _text(out).splitlines()[:3] == ["if 2 < n:", "    out[2] = u[2] * 3.0", "for i in range(3, n):"]
    _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random(n), np.zeros(n)], range(5))


@pytest.mark.parametrize("test", ["i == n // 2", "i == 1", "i > 1", "i < n - 2", "i == m", "i * 2 == 0"])
def test_peeling_refuses_tests_that_are_not_at_a_boundary(test: str) -> None:
    k = _peeled(test.replace("m", "u[0]"))
    assert peel(_loop(k, (1,)), _ctx(k).facts) is None


def test_peeling_refuses_when_the_loop_variable_is_read_after_the_loop() -> None:
    k = _kernel(
        """
        def f(u, out):
            n = u.shape[0]
            for i in range(n):
                if i == 0:
                    out[i] = 1.0
            return i
        """
    )
    assert peel(_loop(k, (1,)), _ctx(k).facts) is None


def test_peeling_refuses_a_body_with_continue_or_break() -> None:
    # the peeled copy runs outside any loop, where `continue` and `break` mean something else
    for exit_ in ("continue", "break"):
        source = "def f(u, out):\n    n = u.shape[0]\n    for i in range(n):\n        if i == 0:\n"
        k = _kernel(source + f"            {exit_}\n        out[i] = u[i]\n")
        assert peel(_loop(k, (1,)), _ctx(k).facts) is None


def test_unroll_and_jam_refuses_a_body_with_continue() -> None:
    # a `continue` in one jammed copy would skip the copies after it
    source = "def f(X, out):\n    n, m = X.shape\n    for i in range(n):\n        for j in range(m):\n"
    k = _kernel(
        source + "            if X[i, j] > 0.5:\n                continue\n            out[j] += X[i, j]\n"
    )
    assert unroll_and_jam(_loop(k, (1,)), 2, _ctx(k).facts) is None


def test_peeling_both_ends_of_a_stencil_at_once() -> None:
    k = _kernel(
        """
        def f(u, out):
            n = u.shape[0]
            for i in range(n):
                out[i] = u[i]
                if i > 0:
                    out[i] += u[i - 1]
                if i < n - 1:
                    out[i] += u[i + 1]
        """
    )
    out = peel(_loop(k, (1,)), _ctx(k).facts)
    assert _text(out) == textwrap.dedent(
        """\
        if 0 < n:
            out[0] = u[0]
            if 0 < n - 1:
                out[0] += u[1]
        for i in range(1, n - 1):
            out[i] = u[i]
            out[i] += u[i - 1]
            out[i] += u[i + 1]
        if 1 < n:
            out[n - 1] = u[n - 1]
            out[n - 1] += u[n - 2]"""
    )
    _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random(n), np.zeros(n)], range(5))


COLSUM = """
    import numpy as np
    def f(X, out):
        n, m = X.shape
        for i in range({lo}, n):
            for j in range(m):
                out[j] += X[i, j] * 0.5
"""


@pytest.mark.parametrize("lo", ["0", "3"])
def test_unroll_and_jam_runs_every_iteration_once(lo: str) -> None:
    k = _kernel(COLSUM.format(lo=lo))
    out = unroll_and_jam(_loop(k, (1,)), 4, _ctx(k).facts)
    assert out is not None
    if lo == "0":
        assert _text(out).splitlines()[:3] == [
            "for i in range(0, max(0, n - n % 4), 4):",
            "    for j in range(m):",
            "        out[j] += X[i, j] * 0.5",
        ]
    # n below lo: the span is negative, and max(lo, ...) keeps the remainder loop empty
    _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random((n, 3)), rng.random(3)], range(10))


@pytest.mark.parametrize(
    "update",
    [
        "X[i, j] = X[i - 1, j + 1] * 0.5",  # interchanging i inward would reverse this dependence
        "s = s * 0.5 + X[i, j]",  # a carried scalar
        "X[i, j] = X[i, j] * 2.0",  # no access shared by the jammed copies
        "out[j] += X[j, i]",  # the jammed inner loop would be strided
    ],
)
def test_unroll_and_jam_refuses(update: str) -> None:
    k = _kernel(
        f"""
        def f(X, out):
            n, m = X.shape
            s = 0.0
            for i in range(1, n):
                for j in range(m - 1):
                    {update}
            return s
        """
    )
    assert unroll_and_jam(_loop(k, (2,)), 2, _ctx(k).facts) is None


def test_unroll_and_jam_leaves_the_outer_loop_of_3_deep_nests_alone() -> None:
    k = _kernel(GEMM_IKJ)
    assert unroll_and_jam(_loop(k, (3,)), 2, _ctx(k).facts) is None


def _gemm_args(rng, n):
    return [rng.random((n, n + 2)), rng.random((n + 2, n + 1))]


def test_unroll_and_jam_of_the_middle_loop_hoists_each_copys_invariant_load() -> None:
    k = _kernel(GEMM_IKJ)
    ctx = _ctx(k)
    out = unroll_and_jam_middle(_loop(k, (3,)), 2, ctx.facts, ctx)
    assert _text(out) == textwrap.dedent(
        """\
        for i in range(n):
            for k in range(0, max(0, m - m % 2), 2):
                A_i_k = A[i, k]
                A_i_add_k_1 = A[i, k + 1]
                for j in range(p):
                    C[i, j] += A_i_k * B[k, j]
                    C[i, j] += A_i_add_k_1 * B[k + 1, j]
            for k in range(max(0, m - m % 2), m):
                for j in range(p):
                    C[i, j] += A[i, k] * B[k, j]"""
    )
    for factor in (2, 3, 4):
        for hoist in (None, ctx):
            jammed = unroll_and_jam_middle(_loop(k, (3,)), factor, ctx.facts, hoist)
            assert jammed is not None
            _same_results(k, _with_stmt(k, 3, jammed), _gemm_args, range(7))


@pytest.mark.parametrize(
    ("order", "update"),
    [
        ("kij", "C[i, j] += A[i, k] * B[k, j]"),  # only B[k, j] (a load) is shared by the i copies
        ("ikj", "C[i, j] += C[i, j - 1] * A[i, k]"),  # a dependence the jam (k past j) would reverse
        ("ijk", "C[i, j] += A[i, k] * B[k, j]"),  # the jammed inner k loop would walk B down columns
        ("ikj", "C[k, j] += A[i, k] * B[k, j]"),  # nothing written is shared by the k copies
    ],
)
def test_unroll_and_jam_of_the_middle_loop_refuses(order: str, update: str) -> None:
    a, b, c = order
    k = _kernel(
        f"""
        def f(A, B, C):
            n = A.shape[0]
            for {a} in range(n):
                for {b} in range(n):
                    for {c} in range(1, n):
                        {update}
        """
    )
    ctx = _ctx(k)
    assert unroll_and_jam_middle(_loop(k, (1,)), 2, ctx.facts, ctx) is None


TRANSPOSE = """
    import numpy as np
    def f(A):
        n, m = A.shape
        B = np.empty((m, n))
        for i in range(n):
            for j in range(m):
                B[j, i] = A[i, j]
        return B
"""


def test_tiling_clips_the_last_tile() -> None:
    k = _kernel(TRANSPOSE)
    ctx = _ctx(k)
    out = tile(_loop(k, (2,)), 32, ctx.facts, ctx.names)
    assert _text(out) == textwrap.dedent(
        """\
        for ii in range(0, n, 32):
            for jj in range(0, m, 32):
                for i in range(ii, min(ii + 32, n)):
                    for j in range(jj, min(jj + 32, m)):
                        B[j, i] = A[i, j]"""
    )
    _same_results(k, _with_stmt(k, 2, out), lambda rng, n: [rng.random((n, n // 2 + 1))], (0, 1, 31, 33, 70))


def test_tiling_a_3_deep_nest_that_no_order_streams() -> None:
    k = _kernel(
        """
        def f(A, B, C):
            n = A.shape[0]
            for i in range(n):
                for j in range(n):
                    for k in range(n):
                        C[i, j] += A[k, i] * B[j, k]
        """
    )
    ctx = _ctx(k)
    out = tile(_loop(k, (1,)), 32, ctx.facts, ctx.names)
    assert out is not None and [t.args[0].value for t in out.walk() if t.op == "for"] == [
        "ii", "jj", "kk", "i", "j", "k"
    ]  # fmt: skip
    _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random((n, n)) for _ in range(3)], (0, 1, 33))


@pytest.mark.parametrize(
    "nest",
    [
        # a dependence runs backwards in j: (<, >)
        "for i in range(1, n):\n        for j in range(n - 1):\n            A[i, j] = A[i - 1, j + 1] + A[j, i]",
        # some order streams already (j innermost): tiles would only cost
        "for i in range(n):\n        for j in range(n):\n            B[i, j] = A[i, j] * 2.0",
        # triangular
        "for i in range(n):\n        for j in range(i):\n            B[j, i] = A[i, j]",
        # a carried scalar (a float sum would be reordered)
        "for i in range(n):\n        for j in range(n):\n            s = s + A[j, i] * B[i, j]",
    ],
)
def test_tiling_refuses(nest: str) -> None:
    k = _kernel(f"def f(A, B):\n    n = A.shape[0]\n    s = 0.0\n    {nest}\n    return s\n")
    ctx = _ctx(k)
    assert tile(_loop(k, (2,)), 32, ctx.facts, ctx.names) is None


GEMM_IJK = """
    import numpy as np
    def gemm(A, B, C):
        n, m = A.shape
        p = B.shape[1]
        for i in range(n):
            for j in range(p):
                for k in range(m):
                    C[i, j] += A[i, k] * B[k, j]
"""


@pytest.mark.parametrize("source", [GEMM_IJK, TRANSPOSE, COLSUM.format(lo="0")])
def test_saturation_stays_bounded_with_the_new_loop_rules(source: str) -> None:
    # saturating (not stopping at the time limit) keeps the chosen variant independent of machine speed
    from optcompiler.config import Config
    from optcompiler.passes import loops
    from optcompiler.pipeline import explore

    k = _kernel(source)
    _, report = explore(k, analyze(k), Config(), passes=[loops])
    assert report.stop_reason == "saturated", report
    assert report.nodes < 1000, report


# ---- a small differential fuzzer of the new rewrites ------------------------------------------------------
#
# tests/fuzz draws whole kernels through the pipeline; its kernels rarely hold two adjacent
# loops, boundary tests (`i == 0`) or transposed accesses. These draw exactly those shapes, with
# offsets in both directions, call each rewrite directly, and whenever it does not refuse, run
# both versions in CPython on every small size: a legality test that is too weak shows up here.

_ARRAYS_1D = ("a", "b", "c")
_OFFSETS = ("i - 1", "i", "i + 1")


@st.composite
def _statement_1d(draw: st.DrawFn) -> str:
    target = draw(st.sampled_from(_ARRAYS_1D))
    op = draw(st.sampled_from(("=", "+=", "*=")))
    loads = [
        f"{draw(st.sampled_from(_ARRAYS_1D))}[{draw(st.sampled_from(_OFFSETS))}]"
        for _ in range(draw(st.integers(1, 2)))
    ]
    return f"{target}[{draw(st.sampled_from(_OFFSETS))}] {op} {' + '.join(loads)} * 0.5"


def _vectors(rng, n):
    return [rng.random(n), rng.random(n), rng.random(n)]


_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(
    first=st.lists(_statement_1d(), min_size=1, max_size=2),
    second=st.lists(_statement_1d(), min_size=1, max_size=2),
)
def test_fuzz_fusion_never_changes_results(first: list[str], second: list[str]) -> None:
    body1 = "\n".join("        " + s for s in first)
    body2 = "\n".join("        " + s for s in second)
    source = (
        "def f(a, b, c):\n    n = a.shape[0]\n    for t in range(2):\n"
        f"        for i in range(1, n - 1):\n{body1.replace('        ', '            ')}\n"
        f"        for i in range(1, n - 1):\n{body2.replace('        ', '            ')}\n"
    )
    k = _kernel(source)
    out = fuse_adjacent(_loop(k, (1,)), _ctx(k).facts)
    if out is not None:
        _same_results(k, _with_stmt(k, 1, out), _vectors, range(6))


@_SETTINGS
@given(
    first=st.lists(_statement_1d(), min_size=1, max_size=2),
    second=st.lists(_statement_1d(), min_size=1, max_size=2),
)
def test_fuzz_shifted_fusion_never_changes_results(first: list[str], second: list[str]) -> None:
    body1 = "\n".join("            " + s for s in first)
    body2 = "\n".join("            " + s for s in second)
    source = (
        "def f(a, b, c):\n    n = a.shape[0]\n    for t in range(2):\n"
        f"        for i in range(1, n - 1):\n{body1}\n"
        f"        for i in range(1, n - 1):\n{body2}\n"
    )
    k = _kernel(source)
    sweep = _loop(k, (1,)).args[4]
    out = fuse_shifted(sweep.args[0], sweep.args[1], _ctx(k).facts)
    if out is not None:
        for form in (out, fuse_shifted(sweep.args[0], sweep.args[1], _ctx(k).facts, peeled=True)):
            fused = Term("for", (*_loop(k, (1,)).args[:4], seq(form)), "range")
            _same_results(k, _with_stmt(k, 1, fused), _vectors, range(6))


@_SETTINGS
@given(stmts=st.lists(_statement_1d(), min_size=2, max_size=4))
def test_fuzz_distribution_never_changes_results(stmts: list[str]) -> None:
    body = "\n".join("        " + s for s in stmts)
    k = _kernel(f"def f(a, b, c):\n    n = a.shape[0]\n    for i in range(1, n - 1):\n{body}\n")
    for out in distribute(_loop(k, (1,)), _ctx(k).facts):
        _same_results(k, _with_stmt(k, 1, out), _vectors, range(6))


_SCALAR_SETS = (  # statements that set t, some in a loop (expansion separates nests); repeats weigh
    "t = a[i] * 0.5",
    "t = a[i] * 0.5",
    "t = a[i] * 0.5",
    "t = t * 0.5",
    "if a[i] > 0.5:\n    t = c[i]",
    "for k in range(2):\n    t += b[i] * 0.5",
    "for k in range(2):\n    b[i] += t",
)
_SCALAR_USES = (  # statements that read t (or write what the first part reads), some in a loop
    "for k in range(2):\n    c[i] += t",
    "for k in range(1):\n    w[i] = t * 2.0",
    "for k in range(2):\n    a[i] += t",
    "c[i] = t * 2.0",
    "if b[i] > 0.5:\n    c[i] = t",
    "for k in range(2):\n    c[i - 1] += t",
    "for k in range(1):\n    t = c[i]",
)


@_SETTINGS
@given(
    first=st.lists(st.sampled_from(_SCALAR_SETS), min_size=1, max_size=3),
    second=st.lists(st.sampled_from(_SCALAR_USES), min_size=1, max_size=3),
)
def test_fuzz_scalar_expansion_never_changes_results(first: list[str], second: list[str]) -> None:
    body = textwrap.indent("\n".join(first + second), " " * 8)
    k = _kernel(
        "import numpy as np\ndef f(a, b, c):\n    n = a.shape[0]\n    t = 1.0\n    w = np.zeros(n)\n"
        f"    for i in range(n):\n{body}\n    return w + t\n"
    )
    for out in distribute(_loop(k, (3,)), _ctx(k).facts):
        _same_results(k, _with_stmt(k, 3, out), _vectors, range(5))


_TESTS = st.tuples(
    st.sampled_from(("i", "i + 1", "i - 1", "n - 1 - i")),
    st.sampled_from(("==", "!=", "<", "<=", ">", ">=")),
    st.sampled_from(("0", "1", "2", "n", "n - 1", "n - 2", "lo", "lo + 1")),
)


@_SETTINGS
@given(tests=st.lists(_TESTS, min_size=1, max_size=3), lo=st.sampled_from(("0", "1", "2")))
def test_fuzz_peeling_never_changes_results(tests: list[tuple[str, str, str]], lo: str) -> None:
    lines = []
    for k_, (left, op, right) in enumerate(tests):
        lines += [f"        if {left} {op} {right.replace('lo', lo)}:", f"            s += u[i] * {k_ + 2}.0"]
    source = (
        "def f(u, out):\n    n = u.shape[0]\n"
        f"    for i in range({lo}, n):\n        s = u[i]\n" + "\n".join(lines) + "\n        out[i] = s\n"
    )
    k = _kernel(source)
    out = peel(_loop(k, (1,)), _ctx(k).facts)
    if out is not None:
        _same_results(k, _with_stmt(k, 1, out), lambda rng, n: [rng.random(n), np.zeros(n)], range(7))


_NEST_STATEMENTS = (
    "out[j] += A[i, j] * 0.5",
    "out[j] = out[j] * 0.5 + A[i, j]",
    "B[j, i] = A[i, j] * 2.0",
    "A[i, j] = A[i - 1, j] + A[i, j - 1]",
    "A[i, j] = A[i - 1, j + 1] * 0.5",
    "A[i, j] = A[i + 1, j - 1] * 0.5",
    "A[i, j] = B[j, i] + A[i - 1, j - 1]",
    "B[j, i] = B[j - 1, i] + A[i, j]",
    "B[j, i] = B[j + 1, i - 1] + A[i, j]",
    "out[i] += B[j, i] * A[i, j]",
    "A[i, j] += out[j] * B[j, i]",
)


@_SETTINGS
@given(
    stmts=st.lists(st.sampled_from(_NEST_STATEMENTS), min_size=1, max_size=2),
    order=st.booleans(),
    factor=st.sampled_from((2, 3, 4)),
)
def test_fuzz_unroll_and_jam_and_tiling_never_change_results(
    stmts: list[str], order: bool, factor: int
) -> None:
    outer, inner = ("i", "j") if order else ("j", "i")
    header = {"i": "range(1, n - 1)", "j": "range(1, m - 1)"}
    body = "\n".join("            " + s for s in stmts)
    source = (
        "def f(A, B, out):\n    n, m = A.shape\n"
        f"    for {outer} in {header[outer]}:\n        for {inner} in {header[inner]}:\n{body}\n"
    )
    k = _kernel(source)
    ctx = _ctx(k)

    def make(rng, size):
        n, m = size, size // 2 + 3
        return [rng.random((n, m)), rng.random((m, n)), rng.random(max(n, m))]

    for out in (
        unroll_and_jam(_loop(k, (1,)), factor, ctx.facts),
        tile(_loop(k, (1,)), factor, ctx.facts, ctx.names),
    ):
        if out is not None:
            _same_results(k, _with_stmt(k, 1, out), make, range(9))


@_SETTINGS
@given(
    first=st.lists(_statement_1d(), min_size=1, max_size=2),
    second=st.lists(_statement_1d(), min_size=1, max_size=2),
    header=st.sampled_from(("range(1, n - 1)", "range(n - 2, 0, -1)")),
)
def test_fuzz_top_level_fusion_never_changes_results(
    first: list[str], second: list[str], header: str
) -> None:
    """Adjacent loops of the kernel body itself, through explore: every variant fusion took part in."""
    from optcompiler.config import Config
    from optcompiler.passes import loops
    from optcompiler.pipeline import explore

    body1 = "\n".join("        " + s for s in first)
    body2 = "\n".join("        " + s for s in second)
    source = f"def f(a, b, c):\n    n = a.shape[0]\n    for i in {header}:\n{body1}\n    for i in {header}:\n{body2}\n"
    k = _kernel(source)
    variants, _ = explore(k, analyze(k), Config(sizes=(("n", 10_000_000),)), passes=[loops])
    for v in variants:
        if "loops.fuse" in v.derivation:
            _same_results(k, v.body, _vectors, range(6))


_NEST3 = (
    "C[i, j] += A[i, k] * B[k, j]",
    "C[i, j] = C[i, j] * 0.5 + A[i, k]",
    "C[i, j] += C[i - 1, j] * A[i, k]",
    "C[i, j] += C[i, j - 1] * A[k, j]",
    "C[i, j] += C[i - 1, j + 1] * B[k, j]",
    "C[i, j] += A[i, k] * B[k, j]\n            B[k, j] = B[k, j] * 0.5",
    "C[i, j] += A[k, i] * A[i, k]",
    "A[i, k] = A[i, k] + C[i, j] * 0.5",
)


@_SETTINGS
@given(
    stmts=st.lists(st.sampled_from(_NEST3), min_size=1, max_size=2),
    order=st.sampled_from(("ikj", "kij", "ijk", "jki")),
    factor=st.sampled_from((2, 3, 4)),
)
def test_fuzz_unroll_and_jam_of_the_middle_loop_never_changes_results(
    stmts: list[str], order: str, factor: int
) -> None:
    a, b, c = order
    lines = [line for stmt in stmts for line in stmt.split("\n")]
    body = "\n".join(" " * 16 + line.strip() for line in lines)
    source = (
        "def f(A, B, C):\n    n = A.shape[0]\n"
        f"    for {a} in range(1, n - 1):\n        for {b} in range(1, n - 1):\n"
        f"            for {c} in range(1, n - 1):\n{body}\n"
    )
    k = _kernel(source)
    ctx = _ctx(k)
    for hoist in (None, ctx):
        out = unroll_and_jam_middle(_loop(k, (1,)), factor, ctx.facts, hoist)
        if out is not None:
            _same_results(
                k, _with_stmt(k, 1, out), lambda rng, n: [rng.random((n, n)) for _ in range(3)], range(8)
            )
