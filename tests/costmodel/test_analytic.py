"""The analytic cost model ranks the classic loop-optimization choices the way real hardware does.

Kernels are built by hand as IR terms. Rankings are checked on several machine descriptions, so
they follow from the model's structure rather than from one machine's constants.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optcompiler.costmodel.analytic import (
    NJIT_CALL_SECONDS,
    classify_stride,
    estimate_python_seconds,
    estimate_seconds,
    loop_stats,
    trip_count,
)
from optcompiler.costmodel.hardware import Hardware, detect
from optcompiler.ir import ArgType, Target, Term, const, for_range, seq, var

NJIT = Target("njit")
PARALLEL = Target("njit-parallel")

LAPTOP = Hardware("laptop", 4, 48 * 1024, 1280 * 1024, 12 * 1024**2, 32, 2.8, 40.0)
SERVER = Hardware("server", 32, 32 * 1024, 1024**2, 32 * 1024**2, 64, 2.1, 100.0)
SMALL_VM = Hardware("vm", 2, 32 * 1024, 512 * 1024, 32 * 1024**2, 32, 2.45, 24.0)
MACHINES = [LAPTOP, SERVER, SMALL_VM]
machines = pytest.mark.parametrize("hw", MACHINES, ids=[m.cpu_model for m in MACHINES])

i, j, k, n = var("i"), var("j"), var("k"), var("n")
ZERO, ONE = const(0), const(1)


# ---- IR building helpers ------------------------------------------------------------------------


def at(array: str, *index: Term) -> Term:
    return Term("index", (var(array), index[0] if len(index) == 1 else Term("tuple", index)))


def add(a: Term, b: Term) -> Term:
    return Term("add", (a, b))


def sub(a: Term, b: Term) -> Term:
    return Term("sub", (a, b))


def mul(a: Term, b: Term) -> Term:
    return Term("mul", (a, b))


def assign(target: Term, value: Term) -> Term:
    return Term("assign", (target, value))


def iadd(target: Term, value: Term) -> Term:
    return Term("augassign", (target, value), "add")


def loop(name: str, hi: Term, *body: Term, lo: Term = ZERO, kind: str = "range") -> Term:
    return for_range(name, lo, hi, const(1), seq(*body), kind)


def call(func: str, *args: Term) -> Term:
    if "." in func:
        module, attr = func.split(".")
        return Term("call", (Term("attr", (var(module),), attr), *args))
    return Term("call", (var(func), *args))


def shape(array: str, d: int | None = None) -> Term:
    s = Term("attr", (var(array),), "shape")
    return s if d is None else Term("index", (s, const(d)))


def array(*dims: str, dtype: str = "float64") -> ArgType:
    return ArgType("array", dtype, len(dims), dims)


SQUARE = {"A": array("n", "n"), "B": array("n", "n"), "C": array("n", "n")}


def gemm(order: str) -> Term:
    body = iadd(at("C", i, j), mul(at("A", i, k), at("B", k, j)))
    for name in reversed(order):
        body = loop(name, n, body)
    return seq(body)


def matvec(outer: str) -> Term:
    body = iadd(at("y", i), mul(at("A", i, j), at("x", j)))
    inner = "j" if outer == "i" else "i"
    return seq(loop(outer, n, loop(inner, n, body)))


MATVEC = {"A": array("n", "n"), "x": array("n"), "y": array("n")}


def stencil(outer: str, kind: str = "range") -> Term:
    neighbours = [at("a", i, j), at("a", sub(i, ONE), j), at("a", add(i, ONE), j)]
    neighbours += [at("a", i, sub(j, ONE)), at("a", i, add(j, ONE))]
    total = neighbours[0]
    for term in neighbours[1:]:
        total = add(total, term)
    body = assign(at("out", i, j), mul(const(0.2), total))
    inner = "j" if outer == "i" else "i"
    hi = sub(n, ONE)
    return seq(loop(outer, hi, loop(inner, hi, body), lo=ONE, kind=kind))


STENCIL = {"a": array("n", "n"), "out": array("n", "n")}


def seconds(body: Term, types, n_value: int, hw: Hardware, target: Target = NJIT) -> float:
    return estimate_seconds(body, target, types, {"n": n_value}, hw)


# ---- the rankings the model must get right ------------------------------------------------------


@machines
def test_gemm_ikj_beats_ijk_by_a_large_factor(hw):
    ijk, ikj = seconds(gemm("ijk"), SQUARE, 400, hw), seconds(gemm("ikj"), SQUARE, 400, hw)
    assert ijk / ikj >= 3.0


@machines
def test_gemm_orders_with_unit_stride_inner_loop_win(hw):
    times = {o: seconds(gemm(o), SQUARE, 400, hw) for o in map("".join, itertools.permutations("ijk"))}
    fast = max(times["ikj"], times["kij"])  # inner j: C and B walk rows
    assert all(fast < times[o] for o in ("ijk", "jik", "jki", "kji"))
    assert max(times["jki"], times["kji"]) > min(times["ijk"], times["jik"])  # inner i: worst


@machines
def test_matvec_row_outer_beats_column_outer(hw):
    assert seconds(matvec("i"), MATVEC, 2000, hw) < seconds(matvec("j"), MATVEC, 2000, hw)


@machines
@pytest.mark.parametrize("size", [300, 2000])
def test_stencil_first_index_outer_beats_second(hw, size):
    assert seconds(stencil("i"), STENCIL, size, hw) * 1.5 < seconds(stencil("j"), STENCIL, size, hw)


@machines
def test_parallel_pays_off_only_at_large_sizes(hw):
    body = stencil("i", kind="prange")
    assert seconds(body, STENCIL, 2000, hw, PARALLEL) < seconds(body, STENCIL, 2000, hw, NJIT)
    assert seconds(body, STENCIL, 8, hw, PARALLEL) > seconds(body, STENCIL, 8, hw, NJIT)


def test_parallel_speedup_is_bounded_by_cores_and_trip_count():
    body = seq(loop("i", n, iadd(var("s"), const(1.0)), kind="prange"))
    few = estimate_seconds(body, PARALLEL, {}, {"n": 3}, SERVER)
    serial = estimate_seconds(body, NJIT, {}, {"n": 3}, SERVER)
    assert few > serial  # three iterations cannot pay for a parallel region


def test_njit_treats_prange_as_range():
    serial, parallel = stencil("i"), stencil("i", kind="prange")
    assert seconds(parallel, STENCIL, 500, LAPTOP) == pytest.approx(seconds(serial, STENCIL, 500, LAPTOP))


@machines
@pytest.mark.parametrize("scale", [False, True])
def test_hoisting_an_invariant_load_never_looks_worse(hw, scale):
    alpha = var("alpha")
    a_ik = mul(alpha, at("A", i, k)) if scale else at("A", i, k)
    plain = seq(loop("i", n, loop("k", n, loop("j", n, iadd(at("C", i, j), mul(a_ik, at("B", k, j)))))))
    hoisted = seq(
        loop(
            "i",
            n,
            loop(
                "k",
                n,
                assign(var("a"), a_ik),
                loop("j", n, iadd(at("C", i, j), mul(var("a"), at("B", k, j)))),
            ),
        )
    )
    types = {**SQUARE, "alpha": ArgType("float")}
    assert seconds(hoisted, types, 400, hw) <= seconds(plain, types, 400, hw) * (1 + 1e-9)


@machines
def test_scalar_accumulator_beats_array_accumulator_only_by_memory(hw):
    # y[i] += ... in the inner loop and s += ... then y[i] = s are both latency-bound reductions.
    scalar = seq(
        loop(
            "i",
            n,
            assign(var("s"), const(0.0)),
            loop("j", n, iadd(var("s"), mul(at("A", i, j), at("x", j)))),
            assign(at("y", i), var("s")),
        )
    )
    assert seconds(scalar, MATVEC, 2000, hw) <= seconds(matvec("i"), MATVEC, 2000, hw) * 1.01


@machines
def test_vectorizable_loop_beats_reduction_of_the_same_size(hw):
    saxpy = seq(loop("i", n, assign(at("y", i), add(mul(const(2.0), at("x", i)), at("y", i)))))
    dot = seq(loop("i", n, iadd(var("s"), mul(at("x", i), at("y", i)))))
    types = {"x": array("n"), "y": array("n")}
    assert seconds(saxpy, types, 1000, hw) < seconds(dot, types, 1000, hw)


def test_float32_vectorizes_twice_as_wide():
    body = seq(loop("i", n, assign(at("y", i), mul(at("x", i), at("x", i)))))
    f64 = {"x": array("n"), "y": array("n")}
    f32 = {"x": array("n", dtype="float32"), "y": array("n", dtype="float32")}
    assert seconds(body, f32, 2000, LAPTOP) < seconds(body, f64, 2000, LAPTOP)


def test_gather_costs_more_than_a_unit_stride_walk():
    gather = seq(loop("i", n, iadd(var("s"), at("x", at("idx", i)))))
    walk = seq(loop("i", n, iadd(var("s"), at("x", i))))
    types = {"x": array("m"), "idx": array("n", dtype="int64")}
    sizes = {"n": 10**6, "m": 10**7}
    assert estimate_seconds(gather, NJIT, types, sizes, LAPTOP) > estimate_seconds(
        walk, NJIT, types, sizes, LAPTOP
    )


@machines
def test_estimates_grow_with_size(hw):
    for body, types in [(gemm("ijk"), SQUARE), (stencil("j"), STENCIL), (matvec("i"), MATVEC)]:
        values = [seconds(body, types, size, hw) for size in (10, 100, 1000)]
        assert values == sorted(values)
        assert values[0] >= NJIT_CALL_SECONDS


@settings(max_examples=40, deadline=None)
@given(order=st.permutations("ijk"), size=st.integers(0, 300))
def test_estimate_is_finite_positive_and_monotone(order, size):
    body = gemm("".join(order))
    small, large = seconds(body, SQUARE, size, LAPTOP), seconds(body, SQUARE, 2 * size + 1, LAPTOP)
    assert math.isfinite(small) and small >= NJIT_CALL_SECONDS
    assert large >= small


def test_estimate_with_detected_hardware():
    hw = detect()
    assert seconds(gemm("ikj"), SQUARE, 200, hw) < seconds(gemm("ijk"), SQUARE, 200, hw)


@pytest.mark.parametrize("name", ["numpy", "cuda"])
def test_other_targets_are_not_modelled_yet(name):
    with pytest.raises(NotImplementedError, match=name):
        estimate_seconds(gemm("ijk"), Target(name), SQUARE, {"n": 10}, LAPTOP)


# ---- trip counts ----------------------------------------------------------------------------------


def trips(body: Term, types=None, sizes=None, default_size: int = 1000) -> list[tuple[float, ...]]:
    return [s.trips for s in loop_stats(body, types or {}, sizes or {}, default_size)]


def test_trip_count_formula():
    assert trip_count(0, 10, 1, 7) == 10
    assert trip_count(1, 10, 2, 7) == 5
    assert trip_count(10, 0, -1, 7) == 10
    assert trip_count(5, 0, 1, 7) == 0
    assert trip_count(None, 10, 1, 7) == 7
    assert trip_count(0, 10, 0, 7) == 7


def test_trips_of_range_with_offsets():
    body = seq(loop("i", sub(n, ONE), iadd(var("s"), const(1.0)), lo=ONE))
    assert trips(body, {"x": array("n")}, {"n": 100}) == [(98.0,)]


def test_trips_from_shape_unpacking():
    body = seq(
        assign(Term("tuple", (var("rows"), var("cols"))), shape("A")),
        loop("i", var("rows"), loop("j", sub(var("cols"), ONE), iadd(var("s"), at("A", i, j)))),
    )
    assert trips(body, {"A": array("n", "m")}, {"n": 30, "m": 50}) == [(30.0, 49.0)]


def test_trips_from_len_shape_index_and_integer_arithmetic():
    body = seq(
        assign(var("size"), call("len", var("x"))),
        assign(var("half"), Term("floordiv", (var("size"), const(2)))),
        loop("i", var("half"), iadd(var("s"), at("x", i))),
        loop("j", shape("A", 1), iadd(var("s"), at("A", ONE, j))),
        loop("k", call("min", var("size"), const(10)), iadd(var("s"), at("x", k))),
    )
    types = {"x": array("n"), "A": array("n", "m")}
    assert trips(body, types, {"n": 41, "m": 7}) == [(20.0,), (7.0,), (10.0,)]


def test_missing_sizes_fall_back_to_the_default():
    body = seq(loop("i", shape("x", 0), iadd(var("s"), at("x", i))))
    assert trips(body, {"x": array("n")}, {}, default_size=123) == [(123.0,)]
    unknown = seq(loop("i", var("count"), iadd(var("s"), const(1.0))))
    assert trips(unknown, {}, {}, default_size=77) == [(77.0,)]
    assert trips(unknown, {"count": ArgType("int")}, {"count": 5}) == [(5.0,)]


def test_triangular_nest_counts_half():
    body = seq(loop("i", n, loop("j", i, iadd(var("s"), at("A", i, j)))))
    (nest,) = loop_stats(body, SQUARE, {"n": 100})
    assert nest.iterations == pytest.approx(100 * 99 / 2, rel=0.02)


def test_while_loops_run_default_size_times():
    step = seq(iadd(var("s"), var("t")), iadd(var("t"), ONE))
    body = seq(assign(var("t"), const(0)), Term("while", (Term("lt", (var("t"), n)), step)))
    (nest,) = loop_stats(body, {"x": array("n")}, {"n": 10}, default_size=50)
    assert nest.kind == "while"
    assert nest.iterations == 50
    assert not nest.vectorizable


def test_a_while_loop_stepping_through_an_array_walks_it_once():
    step = seq(iadd(var("s"), at("x", var("t"))), iadd(var("t"), ONE))
    body = seq(assign(var("t"), const(0)), Term("while", (Term("lt", (var("t"), n)), step)))
    (nest,) = loop_stats(body, {"x": array("n")}, {"n": 10}, default_size=50)
    assert nest.iterations == 10
    assert nest.bodies[0].accesses[0].stride == "unit"


def test_a_loop_over_a_csr_row_gets_the_stored_entries_over_the_rows():
    """`range(indptr[i], indptr[i + 1])`: bounds read from data; the rows together walk `data` once."""
    row = loop("p", at("indptr", add(i, ONE)), iadd(var("s"), at("data", var("p"))), lo=at("indptr", i))
    body = seq(loop("i", n, row))
    arrays = {"indptr": array("m"), "data": array("nnz")}
    (nest,) = loop_stats(body, arrays, {"n": 100, "m": 101, "nnz": 800}, default_size=1000)
    assert nest.iterations == pytest.approx(800)
    (nest,) = loop_stats(body, arrays, {"n": 100, "m": 101, "nnz": 50}, default_size=1000)
    assert nest.iterations == pytest.approx(100)  # at least one trip a row


def test_if_branches_weigh_half():
    cond = Term("gt", (at("x", i), const(0.0)))
    branchy = seq(loop("i", n, Term("if", (cond, seq(iadd(var("s"), mul(at("x", i), at("x", i)))), seq()))))
    (nest,) = loop_stats(branchy, {"x": array("n")}, {"n": 1000})
    (body,) = nest.bodies
    assert body.flops == pytest.approx(1 + 0.5 * 2)  # the compare, then half of a mul and an add
    assert not body.vectorizable


def when(cond: Term, *then: Term) -> Term:
    return Term("if", (cond, seq(*then), seq()))


def test_a_condition_on_sizes_outside_loops_is_decided_at_the_profile():
    types = {"x": array("n")}
    work = loop("i", n, iadd(var("s"), mul(at("x", i), at("x", i))))
    always = seq(when(Term("and", (Term("gt", (n, ZERO)), Term("ge", (n, ONE)))), work))
    never = seq(when(Term("eq", (n, ZERO)), work))
    unknown = seq(when(Term("gt", (var("s"), ZERO)), work))  # a scalar local: not a size
    plain = seconds(seq(work), types, 10**6, SMALL_VM)
    assert seconds(always, types, 10**6, SMALL_VM) == pytest.approx(plain, rel=0.01)
    assert seconds(never, types, 10**6, SMALL_VM) < plain / 100
    assert seconds(unknown, types, 10**6, SMALL_VM) == pytest.approx(plain / 2, rel=0.05)


@machines
def test_the_guarded_blas_form_costs_the_library_call(hw):
    # passes/idioms.py emits `if n > 0: y += A @ x[:n]`: the guard holds at any profile size
    prefix = Term("index", (var("x"), Term("slice", (const(None), n, const(None)))))
    guarded = seq(when(Term("gt", (n, ZERO)), iadd(var("y"), matmul(var("A"), prefix))))
    plain = seq(iadd(var("y"), matmul(var("A"), var("x"))))
    assert seconds(guarded, MATVEC, 3000, hw) == pytest.approx(seconds(plain, MATVEC, 3000, hw), rel=0.01)


# ---- strides, reuse and the per-nest figures -----------------------------------------------------


def tup(*items: Term) -> Term:
    return Term("tuple", items)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (tup(i, j), "invariant"),
        (tup(i, var("v")), "unit"),
        (tup(i, add(var("v"), ONE)), "unit"),
        (var("v"), "unit"),
        (sub(sub(n, ONE), var("v")), "unit"),
        (tup(var("v"), j), "strided"),
        (tup(add(var("v"), ONE), j), "strided"),
        (tup(var("v"), var("v")), "strided"),
        (mul(const(2), var("v")), "strided"),
        (at("idx", var("v")), "irregular"),
        (tup(i, at("idx", var("v"))), "irregular"),
        (at("idx", i), "invariant"),
    ],
)
def test_classify_stride(index, expected):
    assert classify_stride(index, "v") == expected


def test_locals_derived_from_loop_variables_are_substituted():
    body = seq(
        loop("i", n, loop("j", n, assign(var("jj"), add(j, ONE)), iadd(var("s"), at("A", var("jj"), i))))
    )
    (nest,) = loop_stats(body, SQUARE, {"n": 100})
    inner = nest.bodies[-1]
    assert [a.stride for a in inner.accesses] == ["strided"]


def test_gemm_figures():
    (ijk,) = loop_stats(gemm("ijk"), SQUARE, {"n": 50})
    (ikj,) = loop_stats(gemm("ikj"), SQUARE, {"n": 50})
    for nest in (ijk, ikj):
        assert nest.iterations == 50**3
        assert nest.flops == pytest.approx(2 * 50**3)
        assert nest.depth == 3
        assert nest.footprint_bytes == pytest.approx(3 * 50 * 50 * 8)
    assert ikj.loop_vars == ("i", "k", "j")
    assert ikj.vectorizable and not ijk.vectorizable
    assert ijk.bodies[-1].carried == ("C[i, j]",)  # the k loop accumulates into one element
    assert ijk.bodies[-1].chain_cycles > 0
    counts = ijk.stride_counts()
    assert counts["strided"] == pytest.approx(50**3)  # B[k, j] walks a column
    assert counts["unit"] == pytest.approx(50**3 + 2 * 50**2)  # A[i, k]; C hoisted to the j loop


def test_scalar_accumulator_is_carried():
    body = seq(loop("i", n, assign(var("t"), at("x", i)), iadd(var("s"), mul(var("t"), var("t")))))
    (nest,) = loop_stats(body, {"x": array("n")}, {"n": 10})
    assert nest.bodies[0].carried == ("s",)  # t is written before it is read: not carried
    assert not nest.vectorizable


def test_stencil_neighbours_reuse_lines():
    (nest,) = loop_stats(stencil("i"), STENCIL, {"n": 1000})
    inner = nest.bodies[-1]
    assert inner.vectorizable
    streamed = [a for a in inner.accesses if a.array == "a" and a.traffic[0].reuse_bytes is None]
    assert len(streamed) == 1  # only the leading row streams; the other four reuse it


def test_prange_regions_are_counted():
    inner_prange = seq(loop("t", const(10), loop("i", n, iadd(at("x", i), ONE), kind="prange")))
    (nest,) = loop_stats(inner_prange, {"x": array("n")}, {"n": 100})
    assert not nest.parallel
    assert nest.parallel_regions == 10


# ---- array expressions --------------------------------------------------------------------------


def piece(array_name: str, *bounds: tuple[int | None, int | None]) -> Term:
    slices = tuple(Term("slice", (const(lo), const(hi), const(None))) for lo, hi in bounds)
    return Term("index", (var(array_name), slices[0] if len(slices) == 1 else Term("tuple", slices)))


def test_array_stencil_costs_several_times_the_loop_stencil():
    """Measured on the 16-core host (costmodel/data): Numba's array-expression loops ran 4-19x
    slower than the loops they replace (heat1d, jacobi1d, heat2d32 slice variants)."""
    parts = [piece("a", (1, -1), (1, -1)), piece("a", (None, -2), (1, -1)), piece("a", (2, None), (1, -1))]
    parts += [piece("a", (1, -1), (None, -2)), piece("a", (1, -1), (2, None))]
    total = parts[0]
    for p in parts[1:]:
        total = add(total, p)
    body = seq(assign(piece("out", (1, -1), (1, -1)), mul(const(0.2), total)))
    # Numba evaluates the right-hand side into a temporary array, then copies it into the slice
    temporary, copy = loop_stats(body, STENCIL, {"n": 500})
    for nest in (temporary, copy):
        assert nest.kind == "array"
        assert nest.trips == (498.0, 498.0)
        assert nest.vectorizable
    assert temporary.flops > copy.flops == 0
    vectorized, loops = seconds(body, STENCIL, 500, LAPTOP), seconds(stencil("i"), STENCIL, 500, LAPTOP)
    assert 2.0 < vectorized / loops < 20.0
    python_vectorized = estimate_python_seconds(body, STENCIL, {"n": 500})
    python_loops = estimate_python_seconds(stencil("i"), STENCIL, {"n": 500})
    assert python_vectorized * 10 < python_loops


def test_reduction_lowers_to_an_accumulating_loop():
    body = seq(Term("return", (call("np.sum", mul(var("x"), var("y"))),)))
    # Numba makes the array x * y first (a temporary), then sums it
    temporary, nest = loop_stats(body, {"x": array("n"), "y": array("n")}, {"n": 1000})
    assert temporary.iterations == nest.iterations == 1000
    assert not temporary.bodies[0].carried and nest.bodies[0].carried
    axis = seq(
        assign(
            var("r"), Term("call", (Term("attr", (var("np"),), "sum"), var("A"), Term("kw", (ONE,), "axis")))
        )
    )
    (nest,) = loop_stats(axis, SQUARE, {"n": 20})
    assert nest.iterations == 400


def test_allocation_and_views():
    body = seq(
        assign(var("Z"), call("np.zeros", Term("tuple", (n, n)))),
        assign(var("T"), Term("attr", (var("A"),), "T")),
        loop("i", n, loop("j", n, assign(at("Z", i, j), at("T", i, j)))),
    )
    nests = loop_stats(body, SQUARE, {"n": 100})
    assert [s.kind for s in nests] == ["array", "range"]  # zeros fills; .T is a free view
    assert nests[1].stride_counts()["strided"] == 100 * 100  # T[i, j] walks A's columns


def test_matmul_is_a_library_call():
    body = seq(assign(var("D"), Term("matmul", (var("A"), var("B")))))
    small, naive = seconds(body, SQUARE, 400, LAPTOP), seconds(gemm("ikj"), SQUARE, 400, LAPTOP)
    assert small < naive


def matmul(a: Term, b: Term) -> Term:
    return Term("matmul", (a, b))


@machines
@pytest.mark.parametrize("size", [200, 3000])
def test_blas_forms_beat_their_loop_nests(hw, size):
    # what passes/idioms.py makes of the nests: one `@` each, costed as a BLAS call
    gemm_blas = seq(iadd(var("C"), matmul(var("A"), var("B"))))
    matvec_blas = seq(iadd(var("y"), matmul(var("A"), var("x"))))
    assert seconds(gemm_blas, SQUARE, size, hw) * 3 < seconds(gemm("ikj"), SQUARE, size, hw)
    assert seconds(matvec_blas, MATVEC, size, hw) * 3 < seconds(matvec("j"), MATVEC, size, hw)


@machines
def test_dot_of_vectors_is_a_library_call(hw):
    types = {"x": array("n"), "y": array("n")}
    blas = seq(iadd(var("s"), matmul(var("x"), var("y"))))
    loop_form = seq(loop("i", n, iadd(var("s"), mul(at("x", i), at("y", i)))))
    assert seconds(blas, types, 10**7, hw) * 2 < seconds(loop_form, types, 10**7, hw)
    assert seconds(blas, types, 10**7, hw) > 10**7 * 16 / (hw.mem_bandwidth_gbs * 1e9)  # streams x and y


@machines
def test_a_short_dot_still_pays(hw):
    # measured (Numba 0.68, OpenBLAS): n=1000 dot 0.34 us vs loop 1.16 us; the call costs ~20 ns
    types = {"x": array("n")}
    blas = seq(iadd(var("s"), matmul(var("x"), var("x"))))
    loop_form = seq(loop("i", n, iadd(var("s"), mul(at("x", i), at("x", i)))))
    assert seconds(blas, types, 1000, hw) < seconds(loop_form, types, 1000, hw)


def test_an_operand_used_twice_is_read_once():
    types = {"x": array("n"), "y": array("n")}
    squares = seq(iadd(var("s"), matmul(var("x"), var("x"))))
    dot = seq(iadd(var("s"), matmul(var("x"), var("y"))))
    big = 10**8  # memory-bound: time follows bytes
    assert seconds(squares, types, big, SMALL_VM) == pytest.approx(
        seconds(dot, types, big, SMALL_VM) / 2, rel=0.01
    )


# ---- CPython estimate -----------------------------------------------------------------------------


def test_python_estimate_is_tens_of_ns_per_operation():
    body = seq(loop("i", n, iadd(at("y", i), mul(at("x", i), const(2.0)))))
    types = {"x": array("n"), "y": array("n")}
    python = estimate_python_seconds(body, types, {"n": 10**5})
    per_iteration = python / 10**5
    assert 50e-9 < per_iteration < 1e-6
    assert python > 20 * seconds(body, types, 10**5, LAPTOP)


def test_row_views_keep_their_row_index():
    view = seq(loop("i", n, assign(var("row"), at("A", i)), loop("j", n, iadd(var("s"), at("row", j)))))
    direct = seq(loop("i", n, loop("j", n, iadd(var("s"), at("A", i, j)))))
    (viewed,), (plain,) = loop_stats(view, SQUARE, {"n": 2000}), loop_stats(direct, SQUARE, {"n": 2000})
    assert viewed.bodies[-1].accesses == plain.bodies[-1].accesses  # row[j] is A[i, j]: it streams
    column = seq(
        loop(
            "j",
            n,
            assign(var("col"), Term("index", (var("A"), tup(piece_all(), j)))),
            loop("i", n, iadd(var("s"), at("col", i))),
        )
    )
    (nest,) = loop_stats(column, SQUARE, {"n": 100})
    assert [a.stride for a in nest.bodies[-1].accesses] == ["strided"]


def piece_all() -> Term:
    return Term("slice", (const(None), const(None), const(None)))


def test_short_literal_loops_are_unrolled_into_the_loop_around_them():
    """A 3x3 stencil's taps (`for a in range(3): for b in range(3): acc += ...`) are straight-line
    code after LLVM's full unrolling: no loop of their own, no chain carried across outputs, so the
    output loop vectorizes. `range(k.shape[0])` is no literal: that loop stays a loop."""
    taps = loop(
        "a",
        const(3),
        loop(
            "b",
            const(3),
            iadd(var("acc"), mul(at("k", var("a"), var("b")), at("img", add(i, var("a")), add(j, var("b"))))),
        ),
    )
    body = seq(
        loop("i", n, loop("j", n, assign(var("acc"), const(0.0)), taps, assign(at("out", i, j), var("acc"))))
    )
    arrays = {"img": array("n", "n"), "out": array("n", "n"), "k": array("three", "three")}
    (nest,) = loop_stats(body, arrays, {"n": 64, "three": 3})
    assert [b.loop_vars for b in nest.bodies] == [("i",), ("j",)]
    inner = nest.bodies[-1]
    assert inner.vectorizable and inner.carried == () and inner.flops == pytest.approx(18)
    sized = seq(
        loop("i", n, loop("j", n, loop("a", shape("k", 0), iadd(var("acc"), at("img", i, var("a"))))))
    )
    (nest,) = loop_stats(sized, arrays, {"n": 64, "three": 3})
    assert [b.loop_vars for b in nest.bodies][-1] == ("a",)
    long = seq(loop("i", n, loop("a", const(100), iadd(var("acc"), at("img", i, var("a"))))))
    (nest,) = loop_stats(long, arrays, {"n": 64, "three": 3})
    assert [b.loop_vars for b in nest.bodies][-1] == ("a",)


def test_an_integer_counter_under_a_select_vectorizes():
    """`if lo <= x[i] < hi: count += 1`: an if-converted branch stepping a counter by a constant;
    a float accumulation under the same `if` stays a latency chain."""
    cond = Term("lt", (at("x", i), var("hi")))
    counting = seq(loop("i", n, Term("if", (cond, seq(iadd(var("count"), ONE)), seq()))))
    (nest,) = loop_stats(counting, {"x": array("n")}, {"n": 1000})
    assert nest.vectorizable
    summing = seq(loop("i", n, Term("if", (cond, seq(iadd(var("s"), at("x", i))), seq()))))
    (nest,) = loop_stats(summing, {"x": array("n")}, {"n": 1000})
    assert not nest.vectorizable
