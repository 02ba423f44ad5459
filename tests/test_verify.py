"""Differential testing: right candidates pass, wrong ones fail with a reason that says where.

Each `verify_candidates` call starts a worker (numpy + numba, ~0.7 s) and numba compiles cost
~0.3-1 s each, so candidates are batched with `stop_at_first=False`.
"""

from __future__ import annotations

import numpy as np
import pytest

from optcompiler import _verify_worker, analysis
from optcompiler._verify_worker import (
    ArgSpec,
    Case,
    Policy,
    compare,
    fresh_inputs,
    generate_cases,
    size_symbols,
)
from optcompiler.ir import ArgType
from optcompiler.verify import CandidateSource, FloatPolicy, VerifyResult, verify_candidates

PRELUDE = "import numpy as np\nimport numba\n"

GEMM = """
def gemm(A, B):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C
"""
GEMM_ARGS = [
    ("A", ArgType("array", "float64", 2, ("n", "m"))),
    ("B", ArgType("array", "float64", 2, ("m", "p"))),
]
GEMM_IKJ = """
@numba.njit(cache=True)
def gemm_ikj(A, B):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for k in range(m):
            for j in range(p):
                C[i, j] += A[i, k] * B[k, j]
    return C
"""

AXPY = """
def axpy(y, a, x):
    for i in range(y.shape[0]):
        y[i] += a * x[i]
"""
AXPY_ARGS = [
    ("y", ArgType("array", "float64", 1, ("n",))),
    ("a", ArgType("float")),
    ("x", ArgType("array", "float64", 1, ("n",))),
]

TOTAL = """
def total(A):
    s = 0.0
    for i in range(A.shape[0]):
        s += A[i]
    return s
"""
TOTAL_REVERSED = """
@numba.njit
def total_reversed(A):
    s = 0.0
    for i in range(A.shape[0] - 1, -1, -1):
        s += A[i]
    return s
"""
TOTAL_ARGS = [("A", ArgType("array", "float64", 1, ("n",)))]
# Summed forward, 0.1 + 0.2 + 0.3 is 0.6000000000000001; backward it is 0.6.
TOTAL_EXAMPLES = [{"A": np.array([0.1, 0.2, 0.3])}]


def candidate(source: str, label: str | None = None) -> CandidateSource:
    """A candidate named after the function its source defines."""
    name = source.split("def ", 1)[1].split("(", 1)[0]
    return CandidateSource(label or name, source, name)


def by_id(results: list[VerifyResult]) -> dict[str, VerifyResult]:
    return {r.id: r for r in results}


# ---- end to end ----------------------------------------------------------------------------------------


def test_gemm_candidates_right_wrong_and_uncompilable() -> None:
    off_by_one = GEMM_IKJ.replace("gemm_ikj", "gemm_short").replace("range(m)", "range(m - 1)")
    as_float32 = GEMM_IKJ.replace("gemm_ikj", "gemm_f32").replace(
        "np.zeros((n, p))", "np.zeros((n, p), np.float32)"
    )
    untypable = GEMM_IKJ.replace("gemm_ikj", "gemm_3d").replace("C[i, j] +=", "C[i, j, 0] +=")
    same_name = GEMM_IKJ.replace("gemm_ikj", "gemm")  # a candidate may reuse the original's name
    results = verify_candidates(
        PRELUDE,
        GEMM,
        "gemm",
        [candidate(s) for s in (GEMM_IKJ, off_by_one, as_float32, untypable)]
        + [candidate(same_name, "same")],
        GEMM_ARGS,
        stop_at_first=False,
    )
    got = by_id(results)
    assert [r.id for r in results] == ["gemm_ikj", "gemm_short", "gemm_f32", "gemm_3d", "same"]
    assert got["gemm_ikj"].ok and got["same"].ok, got
    assert got["gemm_ikj"].reason == "matched on 9 input sets"
    assert got["gemm_ikj"].cases == 9
    short = got["gemm_short"]
    assert not short.ok
    assert short.reason.startswith("return value differs on case 'n=5,m=7,p=3': max rel err"), short.reason
    assert not got["gemm_f32"].ok
    assert "dtype float32 instead of float64" in got["gemm_f32"].reason
    assert not got["gemm_3d"].ok
    assert got["gemm_3d"].reason.startswith("numba compile error: TypingError: "), got["gemm_3d"].reason
    assert "line 9 of the function" in got["gemm_3d"].reason
    assert all("\n" not in r.reason and r.seconds > 0 for r in results)


def test_mutations_and_returned_aliases_must_match_the_original() -> None:
    right = AXPY.replace("def axpy", "@numba.njit\ndef axpy_jit")
    also_writes_x = """
def axpy_x(y, a, x):
    for i in range(y.shape[0]):
        y[i] += a * x[i]
    x[0] = 0.0
"""
    assigns = AXPY.replace("def axpy", "def axpy_assign").replace("+=", "=")
    returns_y = AXPY.replace("def axpy", "def axpy_ret") + "    return y\n"
    noisy = AXPY.replace("def axpy", "def axpy_noisy").replace("    for", "    print('@@optc@@ {}')\n    for")
    results = verify_candidates(
        PRELUDE,
        AXPY,
        "axpy",
        [candidate(s) for s in (right, also_writes_x, assigns, returns_y, noisy)],
        AXPY_ARGS,
        stop_at_first=False,
    )
    got = by_id(results)
    assert got["axpy_jit"].ok, got["axpy_jit"]
    assert got["axpy_noisy"].ok, got["axpy_noisy"]  # user prints cannot forge protocol lines
    assert got["axpy_x"].reason.startswith("argument x differs after the call on case 'n=5'"), got["axpy_x"]
    assert got["axpy_assign"].reason.startswith("argument y differs after the call"), got["axpy_assign"]
    assert got["axpy_ret"].reason.startswith("return value differs on case 'n=5': expected None"), got[
        "axpy_ret"
    ]

    # Returning its argument is part of what a function does: a copy is not the same program.
    in_place = "def scale(A):\n    A *= 2.0\n    return A\n"
    copied = "def scale_copy(A):\n    A *= 2.0\n    return A.copy()\n"
    (result,) = verify_candidates(PRELUDE, in_place, "scale", [candidate(copied)], TOTAL_ARGS)
    assert not result.ok
    assert "shares memory with no argument where the original's shares memory with A" in result.reason


def test_reassociated_sum_passes_the_default_policy_but_not_strict() -> None:
    cands = [candidate(TOTAL_REVERSED)]
    (default,) = verify_candidates(PRELUDE, TOTAL, "total", cands, TOTAL_ARGS, examples=TOTAL_EXAMPLES)
    assert default.ok, default
    assert default.cases == 10  # 9 generated + the example
    (strict,) = verify_candidates(
        PRELUDE, TOTAL, "total", cands, TOTAL_ARGS, policy=FloatPolicy(strict=True), examples=TOTAL_EXAMPLES
    )
    assert not strict.ok
    assert "differs on case" in strict.reason and "not bit-identical" in strict.reason, strict.reason


def test_hang_and_segfault_fail_alone_and_the_next_candidate_is_verified() -> None:
    hangs = "def total_hang(A):\n    while True:\n        pass\n"
    segfaults = "def total_segv(A):\n    import ctypes\n    return ctypes.string_at(0)\n"
    plain = TOTAL.replace("def total", "def total_plain")
    results = verify_candidates(
        PRELUDE,
        TOTAL,
        "total",
        [candidate(hangs), candidate(segfaults), candidate(plain)],
        TOTAL_ARGS,
        timeout=2.0,
        stop_at_first=False,
    )
    assert [(r.id, r.ok, r.reason) for r in results] == [
        ("total_hang", False, "timed out after 2s"),
        ("total_segv", False, "crashed (signal 11)"),
        ("total_plain", True, "matched on 9 input sets"),
    ]
    assert 2.0 <= results[0].seconds < 10


def test_cases_the_original_rejects_are_skipped_and_stop_at_first() -> None:
    needs_two = """
def steps(A):
    n = A.shape[0]
    if n < 2:
        raise ValueError("need two points")
    out = np.empty(n - 1)
    for i in range(n - 1):
        out[i] = A[i + 1] - A[i]
    return out
"""
    broken = "def steps_broken(A):\n    return A[\n"
    first = needs_two.replace("def steps", "def steps_a")
    second = needs_two.replace("def steps", "def steps_b")
    results = verify_candidates(
        PRELUDE, needs_two, "steps", [candidate(broken), candidate(first), candidate(second)], TOTAL_ARGS
    )
    assert [r.id for r in results] == ["steps_broken", "steps_a"]  # stop_at_first: steps_b is never tried
    assert results[0].reason.startswith("could not load the candidate: SyntaxError"), results[0].reason
    assert results[1].ok
    # n=1 and n=0 are rejected, and the candidate must reject them too; the two non-contiguous
    # cases still count.
    assert results[1].reason == (
        "matched on 7 input sets, and raised as the original did on 2 (case 'n=1': ValueError: need two points)"
    )


def test_a_candidate_that_computes_where_the_original_raises_fails() -> None:
    """Numba's math.sqrt returns nan for a negative argument; CPython's raises ValueError. A
    candidate that goes on computing there changes what the program does."""
    original = """
def roots(A):
    out = np.empty(A.shape[0])
    for i in range(A.shape[0]):
        out[i] = math.sqrt(A[i])
    return out
"""
    lenient = original.replace("def roots", "def roots_nan").replace("math.sqrt(A[i])", "np.sqrt(A[i])")
    strict = original.replace("def roots", "def roots_strict").replace(
        "math.sqrt(A[i])", "np.sqrt(A[i]) if A[i] >= 0 else _raise()"
    )
    helper = "def _raise():\n    raise ValueError('math domain error')\n"
    results = verify_candidates(
        "import math\n" + PRELUDE + helper,
        original,
        "roots",
        [candidate(lenient), candidate(strict)],
        TOTAL_ARGS,
        stop_at_first=False,
    )
    assert not results[0].ok
    assert results[0].reason.startswith(
        "returned a value on case 'n=5', where the original raises ValueError"
    )
    assert results[1].ok, results[1].reason
    assert "raised as the original did on" in results[1].reason


def test_an_original_that_rejects_every_input_fails_every_candidate() -> None:
    always = "def never(A):\n    raise ValueError('no inputs suit me')\n"
    other = "def never_b(A):\n    return 0.0\n"
    results = verify_candidates(
        PRELUDE, always, "never", [candidate(other), candidate(other, "b")], TOTAL_ARGS
    )
    assert [r.ok for r in results] == [False, False]
    assert results[0].reason == (
        "could not generate inputs the original accepts: ValueError: no inputs suit me (case 'n=5')"
    )
    (missing,) = verify_candidates(
        "import optc_no_such_module\n", TOTAL, "total", [candidate(other)], TOTAL_ARGS
    )
    assert missing.reason == (
        "could not load the original: ModuleNotFoundError: No module named 'optc_no_such_module'"
    )


def test_the_reference_is_cpython_even_when_the_original_and_its_helpers_are_jitted() -> None:
    # Python ints do not overflow; numba's int64 does, so the jitted copy is wrong for n >= 7.
    helper = PRELUDE + "\n@numba.njit\ndef times_1000(p):\n    return p * 1000\n"
    power = """
@numba.njit
def power(n):
    p = 1
    for i in range(n):
        p = times_1000(p)
    return p
"""
    (result,) = verify_candidates(
        helper, power, "power", [candidate(power, "jitted")], [("n", ArgType("int", "int64"))]
    )
    assert not result.ok
    assert result.reason.startswith("return value differs on case 'n=9':"), result.reason


def test_wrong_calls_raise() -> None:
    with pytest.raises(ValueError, match="example 1 names"):
        verify_candidates(PRELUDE, TOTAL, "total", [], TOTAL_ARGS, examples=[{"B": np.zeros(3)}])
    with pytest.raises(ValueError, match="cannot generate arrays of dtype"):
        verify_candidates(PRELUDE, TOTAL, "total", [], [("A", ArgType("array", "datetime64[s]", 1, ("n",)))])
    assert verify_candidates(PRELUDE, TOTAL, "total", [], TOTAL_ARGS) == []


# ---- input generation ----------------------------------------------------------------------------------


def test_the_anonymous_dimension_is_the_one_analysis_uses() -> None:
    assert _verify_worker.ANON_DIM == analysis.ANON_DIM  # copied so workers need not import analysis


def specs_of(args: list[tuple[str, ArgType]]) -> list[ArgSpec]:
    return [ArgSpec(name, t.kind, t.dtype, t.ndim, t.dims) for name, t in args]


def test_generated_cases_cover_distinct_equal_empty_and_non_contiguous_sizes() -> None:
    specs = specs_of(GEMM_ARGS)
    cases = generate_cases(specs)
    assert [c.label for c in cases] == [
        "n=5,m=7,p=3",
        "n=6,m=3,p=8, values in [0.5, 2)",
        "n=1,m=1,p=1",
        "n=4,m=4,p=4, values in [0.5, 2)",
        "n=9,m=9,p=9",
        "n=16,m=16,p=16, values in [0.5, 2)",
        "n=0,m=0,p=0",
        "n=5,m=7,p=3, non-contiguous",
        "n=6,m=3,p=8, values in [0.5, 2), non-contiguous",
    ]
    A, B = cases[0].values
    assert A.shape == (5, 7) and B.shape == (7, 3)
    assert -1 <= A.min() and A.max() < 1
    assert 0.5 <= cases[1].values[0].min()
    again = generate_cases(specs)
    assert all(
        np.array_equal(a, b)
        for x, y in zip(cases, again, strict=True)
        for a, b in zip(x.values, y.values, strict=True)
    )

    A_f, _ = fresh_inputs(cases[7])
    assert A_f.flags.f_contiguous and not A_f.flags.c_contiguous
    assert np.array_equal(A_f, A)
    (x,) = fresh_inputs(generate_cases(specs_of(TOTAL_ARGS))[7])
    assert not x.flags.c_contiguous and x.strides == (16,)


def test_int_arrays_can_index_and_scalars_follow_their_symbols() -> None:
    csr = [
        ("indptr", ArgType("array", "int32", 1, ("rows1",))),
        ("indices", ArgType("array", "int64", 1, ("nnz",))),
        ("x", ArgType("array", "float32", 1, ("_",))),
        ("nnz", ArgType("int", "int64")),
        ("k", ArgType("int", "int64")),
        ("alpha", ArgType("float", "float32")),
        ("flag", ArgType("bool", "bool")),
    ]
    specs = specs_of(csr)
    assert size_symbols(specs) == ("rows1", "nnz", "_")
    indptr, indices, x, nnz, k, alpha, flag = generate_cases(specs)[0].values
    assert indptr.dtype == np.int32 and indices.dtype == np.int64 and x.dtype == np.float32
    assert indices.shape == (7,) and x.shape == (3,)
    assert 0 <= indices.min() and indices.max() < 3
    assert (nnz, k, flag) == (7, 3, True)
    assert isinstance(alpha, np.float32) and 0.5 <= alpha < 1.5
    # Without arrays, int parameters are the sizes.
    assert size_symbols(specs_of([("n", ArgType("int")), ("t", ArgType("float"))])) == ("n",)


def test_fresh_inputs_are_private_and_keep_aliasing() -> None:
    shared = np.arange(4.0)
    case = Case("aliased", (shared, shared, [1, 2]), ("C", "C", "C"))
    a, b, lst = fresh_inputs(case)
    assert a is b and a is not shared and lst is not case.values[2]
    a[0] = 99.0
    assert shared[0] == 0.0


# ---- comparison ----------------------------------------------------------------------------------------

DEFAULT = Policy(strict=False, rtol64=1e-9, rtol32=1e-4)
STRICT = Policy(strict=True, rtol64=1e-9, rtol32=1e-4)


def test_float_arrays_within_norm_wise_tolerance() -> None:
    ref = np.array([100.0, 1e-12, -3.0])
    assert compare(ref, ref + 5e-8, DEFAULT) is None  # 5e-8 <= 1e-9 * 100
    diff = compare(ref, ref + np.array([0, 2e-7, 0]), DEFAULT)
    assert diff is not None and diff[1].startswith("max rel err 2.0e-09 at [1]"), diff
    assert compare(ref, ref + 5e-8, STRICT) is not None
    f32 = ref.astype(np.float32)
    assert compare(f32, f32 * np.float32(1 + 1e-6), DEFAULT) is None
    assert compare(f32, f32 * np.float32(1 + 1e-3), DEFAULT) is not None


def test_nan_inf_and_signed_zero() -> None:
    ref = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0])
    assert compare(ref, ref.copy(), STRICT) is None
    assert compare(ref, np.array([np.nan, np.inf, -np.inf, -0.0, 0.0]), DEFAULT) is None
    assert "not bit-identical" in compare(ref, np.array([np.nan, np.inf, -np.inf, -0.0, 0.0]), STRICT)[1]
    assert "NaN in one result only" in compare(ref, np.array([0.0, np.inf, -np.inf, 0.0, 0.0]), DEFAULT)[1]
    assert compare(ref, np.array([np.nan, -np.inf, -np.inf, 0.0, 0.0]), DEFAULT) is not None
    assert compare(ref, np.array([np.nan, 1e308, -np.inf, 0.0, 0.0]), DEFAULT) is not None
    assert compare(-0.0, 0.0, STRICT) is not None and compare(-0.0, 0.0, DEFAULT) is None
    assert compare(float("nan"), np.float64("nan"), STRICT) is None
    assert compare(float("inf"), 1e308, DEFAULT) is not None


def test_scalars_ints_bools_and_containers() -> None:
    assert compare(3, np.int64(3), STRICT) is None
    assert compare(0, 0.0, STRICT) is None  # an int and an equal float
    assert compare(2, 2.5, DEFAULT) is not None
    assert compare(2**70, np.int64(0), DEFAULT) is not None
    assert compare(True, 1, DEFAULT) is not None  # a bool is only a bool
    assert compare(np.float32(1.0), 1.00001, DEFAULT) is None  # float32 tolerance
    assert compare(1.0, 1.00001, DEFAULT) is not None
    assert compare((1.0, np.zeros(2)), (1.0, np.zeros(2)), STRICT) is None
    assert compare((1.0, np.zeros(2)), (1.0, np.ones(2)), STRICT)[0] == "[1]"
    assert compare((1.0, 2.0), [1.0, 2.0], DEFAULT) is not None
    assert compare(np.arange(3), np.arange(3.0), DEFAULT)[1] == "dtype float64 instead of int64"
    assert compare(np.zeros((2, 3)), np.zeros((3, 2)), DEFAULT)[1] == "shape (3, 2) instead of (2, 3)"
    assert compare(np.array([1, 2, 3]), np.array([1, 5, 3]), DEFAULT)[1].startswith("5 instead of 2 at [1]")
    assert compare(None, 0.0, DEFAULT) is not None


def test_passing_candidates_are_timed_at_the_measurement_sizes() -> None:
    wrong = TOTAL.replace("def total", "def total_wrong").replace("return", "return 1.0 +")
    plain = TOTAL.replace("def total", "def total_plain")
    results = verify_candidates(
        PRELUDE,
        TOTAL,
        "total",
        [candidate(wrong), candidate(plain)],
        TOTAL_ARGS,
        stop_at_first=False,
        measure={s: 40 for s in ("n", "m", "_")},
        repeats=3,
    )
    assert not results[0].ok and results[0].measured is None
    assert results[1].ok and results[1].measured is not None and results[1].measured > 0


def test_blas_threads_follow_threads_and_the_free_cores(monkeypatch) -> None:
    from optcompiler.verify import blas_threads_env

    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert blas_threads_env(3) == {"OPENBLAS_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr("os.getloadavg", lambda: (3.2, 0.0, 0.0))
    assert blas_threads_env(None) == {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    monkeypatch.setattr("os.getloadavg", lambda: (0.1, 0.0, 0.0))
    assert blas_threads_env(None) == {}  # a quiet machine: BLAS's own default
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert blas_threads_env(None) == {} and blas_threads_env(4) == {}  # the user's setting stands


def test_retry_original_runs_the_original_where_the_dispatcher_would() -> None:
    """`s / (n - 1)` with `s` a NumPy scalar is nan at n = 1 under CPython; Numba raises
    ZeroDivisionError. The dispatcher of a kernel that writes no argument then runs the original
    (`pipeline.retry_errors`), and verification checks the candidate the same way."""
    original = """
def spread(A):
    n = A.shape[0]
    s = np.float64(0.0)
    for i in range(n):
        s += A[i] * A[i]
    return s / (n - 1)
"""
    compiled = "@numba.njit\n" + original.strip().replace("def spread", "def spread_v")
    plain = verify_candidates(PRELUDE, original, "spread", [candidate(compiled)], TOTAL_ARGS)
    assert not plain[0].ok
    assert "ZeroDivisionError" in plain[0].reason
    retried = CandidateSource("spread_v", compiled, "spread_v", retry_original=("ZeroDivisionError",))
    results = verify_candidates(PRELUDE, original, "spread", [retried], TOTAL_ARGS)
    assert results[0].ok, results[0].reason


def test_a_shape_guard_is_checked_on_the_inputs_the_original_accepts() -> None:
    """The dispatcher's bounds guard must take the inputs the original indexes in range on; one
    that refuses them would send every such call to CPython (`guard_rejects` names the case)."""
    plain = "@numba.njit\n" + TOTAL.strip().replace("def total", "def total_v")
    strict = verify_candidates(
        PRELUDE, TOTAL, "total", [candidate(plain)], TOTAL_ARGS, guard=("A.shape[0] < 2",)
    )
    assert strict[0].ok and strict[0].guard_rejects == "case 'n=5': A.shape[0] < 2"
    fitting = verify_candidates(
        PRELUDE, TOTAL, "total", [candidate(plain)], TOTAL_ARGS, guard=("A.shape[0] >= 0",)
    )
    assert fitting[0].ok and fitting[0].guard_rejects == ""


def test_an_original_raising_its_own_subclass_of_valueerror_needs_a_valueerror() -> None:
    """The original's error class may be its own (or NumPy's LinAlgError): the candidate must
    raise the nearest builtin class of it, looked up by name in the worker."""
    original = """
class BadInput(ValueError):
    pass


def checked(A):
    if A[0] < 0:
        raise BadInput("negative first sample")
    return A.sum()
"""
    raising = "def checked_v(A):\n    if A[0] < 0:\n        raise ValueError('no')\n    return A.sum()\n"
    silent = "def checked_w(A):\n    return A.sum()\n"
    results = verify_candidates(
        PRELUDE, original, "checked", [candidate(raising), candidate(silent)], TOTAL_ARGS, stop_at_first=False
    )
    assert results[0].ok, results[0].reason
    assert not results[1].ok
    assert "where the original raises ValueError" in results[1].reason
