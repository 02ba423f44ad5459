"""vectorize.slice / slice-2d: loops → slice assignments, input → expected variant, refusals, and
each variant run differentially against its original.

The ranking keeps loops under Numba (a slice expression makes a temporary and copies it), so the
snapshot fixtures under tests/passes/vectorize/ show the loop-sum direction; the slice direction
is checked here on the extracted variants themselves.
"""

from __future__ import annotations

import textwrap

import pytest

from optcompiler import frontend, verify
from optcompiler.analysis import analyze
from optcompiler.config import Config
from optcompiler.ir import lower_function
from optcompiler.passes import vectorize
from optcompiler.pipeline import explore

CONFIG = Config(sizes=(("n", 2000), ("m", 2000)), default_size=2000)
HEADER = "import numpy as np\n\n\n"

APPLIES = {
    "axpy": (
        """
        def axpy(a: float, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
            for i in range(x.shape[0]):
                out[i] = a * x[i] + y[i]
        """,
        """
        def axpy(a: float, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
            out[:x.shape[0]] = a * x[:x.shape[0]] + y[:x.shape[0]]
        """,
    ),
    "stencil_offsets": (
        """
        def smooth(x: np.ndarray, out: np.ndarray) -> None:
            n = x.shape[0]
            for i in range(1, n - 1):
                out[i] = 0.5 * (x[i - 1] + x[i + 1]) - x[i]
        """,
        """
        def smooth(x: np.ndarray, out: np.ndarray) -> None:
            n = x.shape[0]
            if 1 < n - 1:
                out[1:n - 1] = 0.5 * (x[:n - 2] + x[2:n]) - x[1:n - 1]
        """,
    ),
    "augmented": (
        """
        def accumulate(x: np.ndarray, y: np.ndarray) -> None:
            for i in range(x.shape[0]):
                y[i] += np.sqrt(np.abs(x[i]))
        """,
        """
        def accumulate(x: np.ndarray, y: np.ndarray) -> None:
            y[:x.shape[0]] = y[:x.shape[0]] + np.sqrt(np.abs(x[:x.shape[0]]))
        """,
    ),
    "rows_broadcast": (
        """
        def scale_columns(A: np.ndarray, s: np.ndarray, B: np.ndarray) -> None:
            n, m = A.shape
            for i in range(n):
                for j in range(m):
                    B[i, j] = A[i, j] * s[j] + 1.0
        """,
        """
        def scale_columns(A: np.ndarray, s: np.ndarray, B: np.ndarray) -> None:
            n, m = A.shape
            B[:n, :m] = A[:n, :m] * s[:m] + 1.0
        """,
    ),
    "fixed_row": (
        """
        def copy_row(A: np.ndarray, x: np.ndarray, k: int) -> None:
            for j in range(x.shape[0]):
                A[k, j] = x[j]
        """,
        """
        def copy_row(A: np.ndarray, x: np.ndarray, k: int) -> None:
            if 0 < x.shape[0]:
                A[k, :x.shape[0]] = x[:x.shape[0]]
        """,
    ),
}

REFUSES = {
    "recurrence": """
        def running(x: np.ndarray) -> None:
            for i in range(1, x.shape[0]):
                x[i] = x[i - 1] + x[i]
        """,
    "loop_variable_as_value": """
        def ramp(x: np.ndarray) -> None:
            for i in range(x.shape[0]):
                x[i] = x[i] * i
        """,
    "stepped": """
        def evens(x: np.ndarray, y: np.ndarray) -> None:
            for i in range(0, x.shape[0], 2):
                y[i] = x[i]
        """,
    # the inner loop alone is a row slice (s[i] is a scalar there); the whole nest is not
    "wrong_axis_2d": """
        def scale_rows(A: np.ndarray, s: np.ndarray, B: np.ndarray) -> None:
            n, m = A.shape
            for i in range(n):
                for j in range(m):
                    B[i, j] = A[i, j] * s[i] + A[i, j] * s[j]
        """,
    "gather": """
        def gather(x: np.ndarray, idx: np.ndarray, y: np.ndarray) -> None:
            for i in range(idx.shape[0]):
                y[i] = x[idx[i]]
        """,
    "conditional": """
        def maybe(x: np.ndarray, y: np.ndarray, flag: bool) -> None:
            if flag:
                for i in range(x.shape[0]):
                    y[i] = x[i] + 1.0
        """,
    "math_sqrt_raises": """
        def roots(x: np.ndarray, y: np.ndarray) -> None:
            for i in range(x.shape[0]):
                y[i] = math.sqrt(x[i])
        """,
    "read_after": """
        def last_index(x: np.ndarray, y: np.ndarray) -> int:
            i = 0
            for i in range(x.shape[0]):
                y[i] = x[i]
            return i
        """,
}


def _variants(source: str):
    text = HEADER + ("import math\n" if "math." in source else "") + textwrap.dedent(source)
    module = frontend.parse(text, "<test>")
    (site,) = [s for s in frontend.find_kernels(module, "<test>") if s.skip_reason is None]
    kernel = frontend.lift_function(text, "<test>", site.name)
    facts = analyze(kernel)
    variants, report = explore(kernel, facts, CONFIG, passes=[vectorize])
    return text, kernel, facts, variants, report


def _lowered(kernel, variant) -> str:
    return lower_function(kernel.name, kernel.params, variant.body, kernel.docstring, returns=kernel.returns)


@pytest.mark.parametrize("case", sorted(APPLIES))
def test_slice_variant(case: str) -> None:
    source, expected = APPLIES[case]
    text, kernel, facts, variants, _ = _variants(source)
    sliced = [v for v in variants if any(s.startswith("vectorize.slice") for s in v.derivation)]
    lowered = [_lowered(kernel, v) for v in sliced]
    assert textwrap.dedent(expected).strip() in [t.strip() for t in lowered], "\n\n".join(lowered)
    for variant, candidate in zip(sliced, lowered, strict=True):
        renamed = candidate.replace(f"def {kernel.name}(", "def _variant(", 1)
        (result,) = verify.verify_candidates(
            prelude="import numba\nimport numpy as np\n",
            original_source=text[text.index("def ") :],
            original_name=kernel.name,
            candidates=[verify.CandidateSource("v", renamed, "_variant")],
            args=list(facts.arg_types.items()),
            policy=verify.FloatPolicy(strict=True),
            timeout=60,
        )
        assert result.ok, f"{variant.derivation}: {result.reason}\n{candidate}"


@pytest.mark.parametrize("case", sorted(REFUSES))
def test_slice_refuses(case: str) -> None:
    _, _, _, variants, report = _variants(REFUSES[case])
    refused = "vectorize.slice-2d" if case.endswith("_2d") else "vectorize.slice"
    fired = {rule: n for rule, n in report.fired if n and rule.startswith(refused)}
    assert not fired, f"{case}: {fired}"
    assert not any(s.startswith(refused) for v in variants for s in v.derivation)


def test_rules_need_the_kernel_body() -> None:
    """Without the body as written the pass cannot tell which accesses are covered: it refuses."""
    from optcompiler.passes import PassContext
    from optcompiler.passes.egraph import EGraph, run

    _, kernel, facts, _, _ = _variants(APPLIES["axpy"][0])
    egraph = EGraph()
    root = egraph.add_term(kernel.body)
    report = run(egraph, vectorize.rules(PassContext(facts, root, frozenset())))
    assert not any(n for rule, n in report.fired if rule.startswith("vectorize"))
