"""Before/after tests of `fresh.store` on plain blocks, and the whole pipeline on product nests.

The fixtures show what the pass alone picks; these show where the rule forwards and where it
refuses, independent of the cost model, and that optc's emitted module (every pass, the ranking,
verification) computes what the original does on random and edge-case inputs.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from optcompiler import frontend
from optcompiler.analysis import analyze
from optcompiler.config import Config
from optcompiler.costmodel.hardware import detect
from optcompiler.ir import Kernel, lift, lower_block
from optcompiler.passes import REGISTRY, PassContext, all_rules, fresh
from optcompiler.passes.fresh import env_of, forward_statements
from optcompiler.pipeline import Emitted, explore, optimize_source, rank


def _kernel(body: str, params: str) -> Kernel:
    head = f"import numpy as np\nimport numpy.typing as npt\ndef k({params}):\n"
    source = head + textwrap.indent(body, "    ")
    return frontend.lift_function(source, "k.py")


def _forward(body: str, params: str = "A: np.ndarray, B: np.ndarray") -> str | None:
    """The block after the first forwarding, as source; None when the rule refuses."""
    kernel = _kernel(body, params)
    facts = analyze(kernel)
    found = forward_statements(kernel.body.args, env_of(kernel.body, facts))
    return None if found is None else "\n".join(lower_block(found, indent=""))


GEMM_HEAD = """
n, m = A.shape
p = B.shape[1]
"""


def test_registered_and_refused_under_strict_fp() -> None:
    kernel = _kernel(
        GEMM_HEAD + "C = np.zeros((n, p))\nC += A @ B\nreturn C\n", "A: np.ndarray, B: np.ndarray"
    )
    ctx = PassContext(facts=analyze(kernel), root=0, names=frozenset(), body=kernel.body)
    assert fresh in REGISTRY
    assert [(r.name, r.safety) for r in fresh.rules(ctx)] == [("fresh.store", "reassoc")]
    assert not all_rules(replace(ctx, allow_reassoc=False), [fresh])


def test_plain_update_becomes_the_assignment() -> None:
    out = _forward(GEMM_HEAD + "C = np.zeros((n, p))\nC += A @ B\nreturn C\n")
    assert out is not None and "C = A @ B" in out and "np.zeros" not in out


def test_guarded_update_keeps_the_zeros_for_the_other_branch() -> None:
    out = _forward(GEMM_HEAD + "C = np.zeros((n, p))\nif n > 0 and p > 0:\n    C += A @ B[:m]\nreturn C\n")
    assert out is not None
    assert "if n > 0 and p > 0:\n    C = A @ B[:m]\nelse:\n    C = np.zeros((n, p))" in out


def test_empty_with_whole_fill_and_like_allocations() -> None:
    out = _forward(GEMM_HEAD + "C = np.empty((n, p))\nC[:n, :p] = 0.0\nC += A @ B\nreturn C\n")
    assert out is not None and "C = A @ B" in out and "np.empty" not in out and "0.0" not in out
    square = "n, m = A.shape\nC = np.zeros_like(A)\nC += A @ B[:m, :m].T\nreturn C\n"
    assert _forward(square) is None  # B's columns sliced to m: not proved to be A's columns
    square = "n, m = A.shape\nC = np.zeros_like(A)\nC += A.T.T @ B\nreturn C\n"
    assert _forward(square) is None  # B's columns are not A's
    # A @ A has A's shape whenever it does not raise (then A is square)
    same = "n, m = A.shape\nC = np.zeros(A.shape)\nC += A @ A\nreturn C\n"
    assert "C = A @ A" in (_forward(same, "A: np.ndarray") or "")


def test_nested_guards_with_updates_in_both_branches() -> None:
    body = "if n > 0:\n    if B.shape[0] == m:\n        C += A @ B\n    else:\n        C += A @ B[:m]\n"
    out = _forward(GEMM_HEAD + "C = np.zeros((n, p))\n" + body + "return C\n")
    assert out is not None
    assert (
        "if B.shape[0] == m:\n        C = A @ B\n    else:\n        C = A @ B[:m]\nelse:\n    C = np.zeros((n, p))"
        in out
    )
    flipped = "if n == 0:\n    pass\nelse:\n    C += A @ B\n"
    out = _forward(GEMM_HEAD + "C = np.zeros((n, p))\n" + flipped + "return C\n")
    assert out is not None and "if n == 0:\n    C = np.zeros((n, p))\nelse:\n    C = A @ B" in out
    nothing = "if n > 0:\n    pass\nelse:\n    pass\nC += A @ B\n"  # the update comes after
    assert "C = A @ B" in (_forward(GEMM_HEAD + "C = np.zeros((n, p))\n" + nothing + "return C\n") or "")
    other = "if n > 0:\n    C += A @ B\nelse:\n    C += A @ B\n    C += A @ B\n"
    assert _forward(GEMM_HEAD + "C = np.zeros((n, p))\n" + other + "return C\n") is None


def test_fills_written_as_loops() -> None:
    loops = "C = np.empty((n, p))\nfor j in range(p):\n    for i in range(n):\n        C[i, j] = 0.0\n"
    assert "C = A @ B" in (_forward(GEMM_HEAD + loops + "C += A @ B\nreturn C\n") or "")
    partial = "C = np.empty((n, p))\nfor i in range(1, n):\n    for j in range(p):\n        C[i, j] = 0.0\n"
    assert _forward(GEMM_HEAD + partial + "C += A @ B\nreturn C\n") is None
    diagonal = "C = np.zeros((n, p))\nfor i in range(n):\n    for j in range(p):\n        C[i, i] = 0.0\n"
    assert _forward(GEMM_HEAD + diagonal + "C += A @ B\nreturn C\n") is None
    read_after = "C = np.empty((n, p))\nfor i in range(n):\n    for j in range(p):\n        C[i, j] = 0.0\n"
    assert _forward(GEMM_HEAD + read_after + "C += A @ B\nreturn C, i\n") is None  # i read after


def test_sliced_target_that_covers_the_array() -> None:
    body = GEMM_HEAD + "C = np.zeros((n, p))\nC[:n, :p] += A @ B\nreturn C\n"
    assert "C = A @ B" in (_forward(body) or "")
    body = GEMM_HEAD + "C = np.zeros((n, p))\nC[: n - 1] += A[: n - 1] @ B\nreturn C\n"
    assert _forward(body) is None


@pytest.mark.parametrize(
    "body",
    [
        "C = np.zeros((n, p))\nC[0, 0] = 1.0\nC += A @ B\nreturn C\n",  # X written between
        "C = np.zeros((n, p))\nt = C[0, 0]\nC += A @ B\nreturn C, t\n",  # X read between
        "C = np.zeros((n, p))\nD = C\nC += A @ B\nreturn C, D\n",  # aliased before the update
        "C = np.zeros((n, p))\nC += C @ B\nreturn C\n",  # E reads X
        "C = np.zeros((n, p))\nC -= A @ B\nreturn C\n",  # 0.0 - x is not x
        "C = np.zeros((n, p))\nC += A\nreturn C\n",  # a bare name: X would alias A
        "C = np.zeros((n, p))\nC += A * B\nreturn C\n",  # not a product
        "C = np.zeros((n, m))\nC += A @ B\nreturn C\n",  # the shape is (n, p)
        "C = np.zeros((p, n))\nC += (A @ B).T\nreturn C\n",  # .T of a product is a view
        "C = np.ones((n, p))\nC += A @ B\nreturn C\n",  # not zeros
        "C = np.empty((n, p))\nC += A @ B\nreturn C\n",  # never filled
        "C = np.empty((n, p))\nC[:n] = 1.0\nC += A @ B\nreturn C\n",  # filled with another value
        "C = np.zeros((n, p), dtype=np.float32)\nC += A @ B\nreturn C\n",  # float32 zeros, float64 E
        "C = np.zeros((n, p))\nif n > 0:\n    C += A @ B\nelse:\n    C[0] = 1.0\nreturn C\n",
        "C = np.zeros((n, p))\nif C.size > 0:\n    C += A @ B\nreturn C\n",  # the guard reads X
        "C = np.zeros((n, p))\nA = B\nC += A @ B\nreturn C\n",  # A rebound: n is not A's any more
    ],
)
def test_refuses(body: str) -> None:
    assert _forward(GEMM_HEAD + body) is None


def test_int_parameter_sizes_are_not_shapes() -> None:
    assert (
        _forward("C = np.zeros((n, n))\nC += A @ B\nreturn C\n", "A: np.ndarray, B: np.ndarray, n: int")
        is None
    )


def test_float32() -> None:
    params = "A: npt.NDArray[np.float32], B: npt.NDArray[np.float32], alpha: float"
    zeros32 = "C = np.zeros((n, p), dtype=np.float32)\n"
    assert "C = A @ B" in (_forward(GEMM_HEAD + zeros32 + "C += A @ B\nreturn C\n", params) or "")
    # a float scale times a float32 product may be float64 in Numba: X's type would change
    assert _forward(GEMM_HEAD + zeros32 + "C += alpha * (A @ B)\nreturn C\n", params) is None
    # float64 zeros updated with a float32 product stay float64 in the original
    assert _forward(GEMM_HEAD + "C = np.zeros((n, p))\nC += A @ B\nreturn C\n", params) is None


def test_statements_between_and_loop_bodies() -> None:
    body = (
        GEMM_HEAD
        + "C = np.zeros((n, p))\ns = 0.0\nfor i in range(n):\n    s += A[i, 0]\nC += A @ B\nreturn C, s\n"
    )
    assert "C = A @ B" in (_forward(body) or "")
    exits = GEMM_HEAD + "C = np.zeros((n, p))\nif n == 3:\n    return C\nC += A @ B\nreturn C\n"
    assert _forward(exits) is None
    rebind = GEMM_HEAD + "C = np.zeros((n, p))\nn = 2\nif n > 0:\n    C += A @ B\nreturn C\n"
    assert _forward(rebind) is None  # the `else` would allocate with the new n


# ---- the whole pipeline -------------------------------------------------------------------------

KERNELS = """\
import numpy as np


def gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def scaled(A: np.ndarray, B: np.ndarray, alpha: float) -> np.ndarray:
    n, k = A.shape
    m = B.shape[1]
    tmp = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            for q in range(k):
                tmp[i, j] += alpha * A[i, q] * B[q, j]
    return tmp
"""


SIZES = (("n", 300), ("m", 300), ("p", 300), ("k", 300))


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_pipeline_emits_the_assignment_and_matches_the_original(tmp_path: Path) -> None:
    out = optimize_source(
        KERNELS,
        "fresh_kernels.py",
        # one candidate verified, the model's first: the pick does not depend on a noisy measurement
        Config(sizes=SIZES, default_size=300, max_verify=1, numpy_target=False),
    )
    emitted = {r.kernel: r for r in out.kernels if isinstance(r, Emitted)}
    assert set(emitted) == {"gemm", "scaled"}
    assert all("fresh.store" in r.candidate.variant.derivation for r in emitted.values())
    assert "C = A @ B" in out.output and "tmp = alpha * (A @ B" in out.output
    (tmp_path / "original.py").write_text(KERNELS)
    (tmp_path / "fast.py").write_text(out.output)
    original = _load(tmp_path / "original.py", "optc_test_fresh_original")
    fast = _load(tmp_path / "fast.py", "optc_test_fresh_fast")
    rng = np.random.default_rng(7)
    shapes = [(5, 7, 3), (1, 1, 1), (0, 4, 3), (4, 0, 3), (4, 3, 0), (17, 9, 23)]
    for n, m, p in shapes:
        A, B = rng.standard_normal((n, m)), rng.standard_normal((m, p))
        for name, args in (("gemm", (A, B)), ("scaled", (A, B, 1.5))):
            want, got = getattr(original, name)(*args), getattr(fast, name)(*args)
            assert got.shape == want.shape and got.dtype == want.dtype and got.flags.c_contiguous
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # a B one row short: the original raises IndexError, so must the emitted module
    with pytest.raises(IndexError):
        fast.gemm(np.ones((4, 5)), np.ones((4, 3)))
    # with no rows the original reads nothing and returns zeros, whatever B's length
    np.testing.assert_array_equal(fast.gemm(np.ones((0, 5)), np.ones((2, 3))), np.zeros((0, 3)))


GROUPED = """\
import numpy as np


def gemv(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m = A.shape
    y = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return y


def bicg(A: np.ndarray, r: np.ndarray, p: np.ndarray) -> tuple:
    n, m = A.shape
    s = np.zeros(m)
    q = np.zeros(n)
    for i in range(n):
        for j in range(m):
            s[j] += r[i] * A[i, j]
            q[i] += A[i, j] * p[j]
    return s, q
"""


@pytest.mark.parametrize("name", ["gemv", "bicg"])  # bicg forwards q; s may stay a loop
def test_updates_inside_statement_groups_are_forwarded(name: str) -> None:
    """idioms writes the accumulator form as a fill and an update in one class, distribution two
    loops in one: the rule reads such a group as its statements when it mentions X."""
    site = next(s for s in frontend.find_kernels(frontend.parse(GROUPED, "g.py"), "g.py") if s.name == name)
    kernel = lift(site.node, "g.py", frontend.parse(GROUPED, "g.py"), site.line)
    facts = analyze(kernel)
    config = Config(sizes=SIZES, default_size=1000, time_limit=30.0)
    variants, _ = explore(kernel, facts, config)
    best, _ = rank(variants, facts, config, detect())[0]
    text = "\n".join(lower_block(best.variant.body, indent=""))
    assert "fresh.store" in best.variant.derivation, text
    forwarded = {
        "gemv": "y = A @ x[:m]\nelse:\n    y = np.zeros(n)",
        "bicg": "q = A @ p[:m]\nelse:\n    q = np.zeros(n)",
    }
    assert forwarded[name] in text, text
