"""Where the parallel pass puts `prange`: the first loop on each path that can run in parallel.

Every variant the pass alone produces is inspected, not only the one the cost model picks.
"""

from __future__ import annotations

import textwrap

from optcompiler import frontend
from optcompiler.analysis import analyze
from optcompiler.config import Config
from optcompiler.ir import Term
from optcompiler.passes import parallel
from optcompiler.pipeline import explore

CONFIG = Config(default_size=2000)


def _variants(source: str) -> list[Term]:
    kernel = frontend.lift_function(textwrap.dedent(source), "k.py")
    variants, _ = explore(kernel, analyze(kernel), CONFIG, passes=[parallel])
    return [v.body for v in variants]


def _prange_depths(body: Term) -> list[tuple[str, int]]:
    """(loop variable, loops around it) of every prange in `body`."""
    out: list[tuple[str, int]] = []

    def visit(term: Term, depth: int) -> None:
        if term.op == "for":
            if term.value == "prange":
                out.append((str(term.args[0].value), depth))
            visit(term.args[4], depth + 1)
            return
        for child in term.args:
            visit(child, depth + (term.op == "while"))

    visit(body, 0)
    return out


def test_each_sweep_of_a_sequential_time_loop_gets_a_prange() -> None:
    bodies = _variants(
        """
        import numpy as np
        def sweep(u: np.ndarray, steps: int) -> np.ndarray:
            n = u.shape[0]
            a = u.copy()
            b = u.copy()
            for t in range(steps):
                for i in range(1, n - 1):
                    b[i] = 0.5 * (a[i - 1] + a[i + 1])
                for i in range(1, n - 1):
                    a[i] = 0.5 * (b[i - 1] + b[i + 1])
            return a
        """
    )
    assert [("i", 1), ("i", 1)] in [_prange_depths(b) for b in bodies]
    assert all(("t", 0) not in _prange_depths(b) for b in bodies)  # the time loop carries the state


def test_no_prange_inside_a_loop_that_can_run_in_parallel() -> None:
    bodies = _variants(
        """
        import numpy as np
        def rows(u: np.ndarray) -> np.ndarray:
            n, m = u.shape
            out = np.zeros((n, m))
            for i in range(n):
                for j in range(m):
                    out[i, j] = 2.0 * u[i, j]
            return out
        """
    )
    depths = [_prange_depths(b) for b in bodies]
    assert [("i", 0)] in depths
    assert all(d <= 0 for found in depths for _, d in found)  # j, under the parallel i, never


def test_a_loop_nested_under_a_parallel_loop_in_a_time_loop_stays_serial() -> None:
    bodies = _variants(
        """
        import numpy as np
        def steps2d(u: np.ndarray, steps: int) -> np.ndarray:
            n, m = u.shape
            a = u.copy()
            for t in range(steps):
                for i in range(n):
                    for j in range(1, m):
                        a[i, j] = a[i, j] + 0.5 * a[i, j - 1]
            return a
        """
    )
    # i is parallel (each row its own recurrence over j); j carries a[i, j - 1]; t carries a
    depths = [_prange_depths(b) for b in bodies]
    assert [("i", 1)] in depths
    assert all(v == "i" for found in depths for v, _ in found)
