"""Features: a fixed, named, deterministic vector that moves with what it claims to measure."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from optcompiler import frontend
from optcompiler.analysis import analyze
from optcompiler.costmodel import features as F
from optcompiler.costmodel.dataset import Record
from optcompiler.costmodel.hardware import Hardware
from optcompiler.ir import Target

HW = Hardware(
    cpu_model="Test CPU",
    cores=4,
    l1d_bytes=32 * 1024,
    l2_bytes=1024 * 1024,
    l3_bytes=16 * 1024 * 1024,
    simd_bytes=32,
    freq_ghz=3.0,
    mem_bandwidth_gbs=40.0,
)

GEMM_IJK = """
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

GEMM_IKJ = """
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

REDUCTIONS = """
def reductions(x):
    n = x.shape[0]
    s = 0.0
    p = 1.0
    m = x[0]
    for i in range(n):
        s += x[i]
        p = p * x[i]
        if x[i] > m:
            m = x[i]
    d = x[1:] - x[:-1]
    return s, p, m, d
"""

PRANGE = """
def scale(x):
    n = x.shape[0]
    y = np.empty(n)
    for i in numba.prange(n):
        y[i] = math.sqrt(x[i]) / 2.0
    return y
"""


def _ir(source: str, name: str, sizes: dict[str, int], target: str = "njit") -> dict[str, float]:
    kernel = frontend.lift_function(source, "<test>", name)
    facts = analyze(kernel)
    return F.ir_features(kernel.body, Target(target), (), facts.arg_types, sizes, HW)  # type: ignore[arg-type]


def test_columns_are_unique_and_vector_orders_them() -> None:
    assert len(set(F.COLUMNS)) == len(F.COLUMNS)
    assert F.COLUMNS == F.IR_COLUMNS + F.LLVM_COLUMNS + F.HW_COLUMNS
    v = F.vector({"ir_nests": 2.0, "hw_cores": 4.0})
    assert v.shape == (len(F.COLUMNS),) and v.dtype == np.float64
    assert v[F.COLUMNS.index("ir_nests")] == 2.0 and v[F.COLUMNS.index("hw_cores")] == 4.0
    assert math.isnan(v[F.COLUMNS.index("llvm_load")])


def test_ir_features_cover_their_columns_and_are_deterministic() -> None:
    a = _ir(GEMM_IJK, "gemm", {"n": 64, "m": 64, "p": 64})
    b = _ir(GEMM_IJK, "gemm", {"n": 64, "m": 64, "p": 64})
    assert set(a) == set(F.IR_COLUMNS)
    assert a == b
    assert all(math.isfinite(x) for x in a.values())


def test_trip_counts_and_work_follow_the_sizes() -> None:
    small = _ir(GEMM_IJK, "gemm", {"n": 32, "m": 32, "p": 32})
    large = _ir(GEMM_IJK, "gemm", {"n": 256, "m": 256, "p": 256})
    assert small["ir_max_depth"] == large["ir_max_depth"] == 3
    assert large["ir_log_iterations"] == pytest.approx(small["ir_log_iterations"] + 9, abs=0.1)  # 8**3
    assert large["ir_log_max_trip"] == pytest.approx(math.log2(257))
    assert large["ir_log_footprint"] > small["ir_log_footprint"]
    assert large["analytic_log_seconds"] > small["analytic_log_seconds"]


def test_loop_order_shows_in_the_stride_classes() -> None:
    sizes = {"n": 128, "m": 128, "p": 128}
    ijk, ikj = _ir(GEMM_IJK, "gemm", sizes), _ir(GEMM_IKJ, "gemm", sizes)
    assert ijk["ir_frac_strided"] > 0.3 and ikj["ir_frac_strided"] < 0.01
    assert ikj["ir_frac_unit"] > ijk["ir_frac_unit"]
    assert ikj["ir_frac_vectorizable"] == 1.0 and ijk["ir_frac_vectorizable"] < 0.05  # np.zeros is
    assert ijk["ir_carried"] >= 1  # C[i, j] accumulates across k


def test_reductions_temporaries_and_op_mix() -> None:
    f = _ir(REDUCTIONS, "reductions", {"n": 100})
    assert f["ir_reduction_sum"] == 1 and f["ir_reduction_product"] == 1 and f["ir_reduction_minmax"] == 1
    assert f["ir_temporaries"] == 1  # x[1:] - x[:-1]
    assert f["ir_ops_compare"] == 1 and f["ir_ops_branch"] == 1
    g = _ir(GEMM_IJK, "gemm", {"n": 8, "m": 8, "p": 8})
    assert g["ir_temporaries"] == 1  # np.zeros
    assert g["ir_reduction_sum"] == 0  # an array element, not a scalar accumulator


def test_parallel_candidates_are_told_apart() -> None:
    serial = _ir(PRANGE, "scale", {"n": 10_000}, "njit")
    parallel = _ir(PRANGE, "scale", {"n": 10_000}, "njit-parallel")
    assert serial["cand_prange"] == parallel["cand_prange"] == 1
    assert serial["cand_parallel"] == 0 and parallel["cand_parallel"] == 1
    assert parallel["ir_log_parallel_trips"] == pytest.approx(math.log2(10_001))
    assert parallel["ir_ops_math"] == 1 and parallel["ir_ops_div"] == 1
    assert parallel["analytic_log_seconds"] != serial["analytic_log_seconds"]


def _compiled_ir(func, *args) -> str:
    signature = tuple(numba.typeof(a) for a in args)
    func.compile(signature)
    return func.inspect_llvm(signature)


def test_llvm_features_of_real_numba_code() -> None:
    @numba.njit
    def axpy(a, x, y):
        for i in range(x.shape[0]):
            y[i] = a * x[i] + y[i]

    @numba.njit(parallel=True)
    def psum(x):
        s = 0.0
        for i in numba.prange(x.shape[0]):
            s += math.exp(x[i])
        return s

    x = np.ones(16)
    vec = F.llvm_features(_compiled_ir(axpy, 2.0, x, x.copy()))
    par = F.llvm_features(_compiled_ir(psum, x))
    assert set(vec) == set(F.LLVM_COLUMNS)
    assert vec["llvm_instructions"] > 0 and vec["llvm_functions"] >= 1
    assert vec["llvm_float_arith"] >= 2 and vec["llvm_load"] > 0 and vec["llvm_store"] > 0
    assert vec["llvm_vector_ops"] > 0 and vec["llvm_vector_lanes"] >= 2  # the loop is vectorized
    assert 0 < vec["llvm_vector_fraction"] < 1
    assert par["llvm_calls_parallel"] > 0
    assert vec["llvm_calls_parallel"] == 0


def test_text_reading_agrees_with_llvmlite() -> None:
    @numba.njit
    def dot(x, y):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * y[i]
        return s

    text = _compiled_ir(dot, np.ones(4), np.ones(4))
    parsed = F._llvmlite_instructions(text)
    read = F._text_instructions(text)
    assert parsed is not None
    opcodes = sorted(item[1][0] for item in parsed if item[0] == "instruction")
    assert opcodes == sorted(item[1][0] for item in read if item[0] == "instruction")
    assert F.llvm_features("not LLVM IR at all")["llvm_instructions"] == 0


def test_hardware_features_relate_the_working_set_to_the_caches() -> None:
    h = F.hardware_features(HW, 2, footprint_bytes=2 * 1024 * 1024 - 1)
    assert set(h) == set(F.HW_COLUMNS)
    assert h["hw_threads"] == 2 and h["hw_cores"] == 4 and h["hw_simd_bytes"] == 32
    assert h["hw_log_footprint_per_l2"] == pytest.approx(1.0)
    assert h["hw_log_footprint_per_l1"] > h["hw_log_footprint_per_l2"] > h["hw_log_footprint_per_l3"]


def test_record_features_recompute_from_the_record() -> None:
    source = "@numba.njit(cache=True)\ndef _optc_measure_1(x):" + PRANGE.split("def scale(x):")[1]
    record = Record(
        kernel="scale",
        candidate_id="c",
        target="njit-parallel",
        derivation=("parallel.prange",),
        size=1000,
        sizes={"n": 1000},
        status="ok",
        threads=2,
        hardware={**vars(HW)},
        source=source,
        arg_types={"x": ("array", "float64", 1, ("n",))},
        llvm={"llvm_load": 7.0, "not_a_column": 1.0},
    )
    f = F.record_features(record)
    v = F.vector(f)
    assert v[F.COLUMNS.index("llvm_load")] == 7.0 and "not_a_column" not in f
    assert f["cand_parallel"] == 1 and f["cand_rewrites"] == 1 and f["hw_threads"] == 2
    assert f["ir_log_max_trip"] == pytest.approx(math.log2(1001))
    assert math.isnan(v[F.COLUMNS.index("llvm_call")])  # counts the record lacks stay missing
