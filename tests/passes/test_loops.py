"""Focused before/after tests of the loop transformations themselves (libcst-codemod style).

The fixture snapshots show what the whole pipeline picks; these show what each rule produces and
where it refuses, independent of the cost model.
"""

from __future__ import annotations

import textwrap

from optcompiler import frontend
from optcompiler.analysis import all_names, analyze
from optcompiler.ir import Kernel, Term, lower_block
from optcompiler.passes import PassContext
from optcompiler.passes.loops import hoist_invariants, replace_scalars


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
