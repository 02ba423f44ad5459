"""The GPU model (costmodel/gpu.py): features of a lowering, predicted time, and the size threshold."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from optcompiler.analysis import analyze
from optcompiler.costmodel import gpu
from optcompiler.costmodel.analytic import estimate_seconds
from optcompiler.costmodel.hardware import Hardware
from optcompiler.frontend import lift_function
from optcompiler.ir import Target

SOURCE = """
import numpy as np


def axpy(a: float, x, y):
    for i in range(x.shape[0]):
        y[i] = a * x[i] + y[i]


def gemm(A, B):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def relax(u, steps: int):
    n, m = u.shape
    v = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        for p in range(1, n - 1):
            for q in range(1, m - 1):
                u[p, q] = 0.25 * (v[p - 1, q] + v[p + 1, q] + v[p, q - 1] + v[p, q + 1])
    return v


def syrk(A):
    n, k = A.shape
    C = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for p in range(k):
                s += A[i, p] * A[j, p]
            C[i, j] = s
    return C


def lagged(x, maxlag: int):
    n = x.shape[0]
    acf = np.zeros(maxlag + 1)
    for lag in range(maxlag + 1):
        s = 0.0
        for i in range(n - lag):
            s += x[i] * x[i + lag]
        acf[lag] = s
    return acf


def wave(u0, u1, steps: int):
    n = u0.shape[0]
    prev = u0.copy()
    cur = u1.copy()
    nxt = np.zeros(n)
    for _ in range(steps):
        nxt[0] = cur[0]
        for i in range(1, n - 1):
            nxt[i] = 2.0 * cur[i] - prev[i]
        prev, cur, nxt = cur, nxt, prev
    return cur


def triples(x):
    n = x.shape[0]
    out = np.empty((n, 3))
    for i in range(n):
        out[i, 0] = x[i]
        out[i, 1] = 2.0 * x[i]
        out[i, 2] = 3.0 * x[i]
    return out
"""

# a 16-core host like the GPU host's, so the figures do not depend on the machine running the tests
HOST = Hardware("test", 16, 48 * 1024, 2 * 2**20, 32 * 2**20, 64, 2.5, 60.0, "NVIDIA H100")
RECORDS = Path(__file__).resolve().parents[2] / "bench" / "results" / "gpu" / "gpu_corpus.jsonl"


def lifted(name: str):
    kernel = lift_function(SOURCE, "k.py", name)
    return kernel, analyze(kernel)


def cpu_model(name: str):
    kernel, facts = lifted(name)
    return lambda sizes: estimate_seconds(kernel.body, Target("njit-parallel"), facts.arg_types, sizes, HOST)


# ---- features -------------------------------------------------------------------------------------------


def test_features_count_launches_copies_and_bytes() -> None:
    kernel, facts = lifted("axpy")
    (symbol,) = facts.size_symbols
    work = gpu.gpu_work(kernel, facts, {symbol: 1000})
    # x in; y in and out (written); one launch
    assert (work.launches, work.copies, work.pcie_bytes) == (1, 3, 3 * 8000)
    kernel, facts = lifted("gemm")
    work = gpu.gpu_work(kernel, facts, {"n": 100, "m": 100, "p": 100})
    # A, B in; C allocated on the device (one fill launch) and copied out; the nest: one launch
    assert (work.launches, work.copies, work.pcie_bytes) == (2, 4, 3 * 80_000)
    assert work.threads == 100 * 100 and work.serial_iterations == 100


def test_a_fresh_arrays_literal_extent_is_its_size() -> None:
    """`np.empty((n, 3))`: nothing names the 3 (the analysis' anonymous dimension), but the
    allocation gives it, so the copy out is n * 3 elements, not n times the default size."""
    kernel, facts = lifted("triples")
    assert facts.array_dims["out"][1] == "_"
    work = gpu.gpu_work(kernel, facts, {"n": 1000}, default_size=1000)
    assert work.pcie_bytes == 1000 * 8 + 1000 * 3 * 8  # x in, out back


def test_time_steps_launch_each_step() -> None:
    kernel, facts = lifted("relax")
    few = gpu.gpu_work(kernel, facts, {"n": 100, "m": 100, "steps": 10})
    many = gpu.gpu_work(kernel, facts, {"n": 100, "m": 100, "steps": 100})
    assert many.launches - few.launches == 2 * 90  # two nests a step
    assert many.pcie_bytes == few.pcie_bytes  # the arrays stay on the device between steps


def test_arrays_planned_for_a_rewrite_are_not_copied() -> None:
    """The facts plan arrays a rewrite may introduce (scalar expansion: s_k, i_k, r_k for
    euler_sir's per-row scalars); the lowering of the original never allocates them."""
    from optcompiler import corpus

    ck = corpus.load("euler_sir")
    kernel = lift_function(ck.path.read_text(encoding="utf-8"), str(ck.path), "euler_sir")
    facts = analyze(kernel, gpu._hints(ck))
    assert set(facts.array_dims) - {"beta", "gamma", "out"}  # planned expansions present
    work = gpu.gpu_work(kernel, facts, {"n": 1000, "steps": 10})
    # beta, gamma in; out allocated (one fill launch) and copied back; the nest one launch
    assert (work.copies, work.launches) == (4, 2)
    assert work.pcie_bytes == 2 * 8000 + 3 * 8000


def test_a_profiles_other_names_are_kept_when_sizes_are_scaled() -> None:
    """`maxlag` bounds a loop but sizes no array and is no size symbol: the scan keeps the
    profile's value instead of the default size (1000 lags, where the profile says 16)."""
    _, facts = lifted("lagged")
    assert "maxlag" not in facts.size_symbols
    (n,) = facts.arg_types["x"].dims
    scaled = gpu.scaled_profile(facts, {n: 1000, "maxlag": 16}, 1000, 2.0)
    assert scaled[n] == 2000 and scaled["maxlag"] == 16


def test_launches_pay_per_array_argument() -> None:
    """numba-cuda marshals each array argument of a launch (measured on the H100 host: 19, 39 and
    86 us a launch with 1, 3 and 6 arrays): gemm's fill launch passes C, its nest A, B and C."""
    kernel, facts = lifted("gemm")
    work = gpu.gpu_work(kernel, facts, {"n": 100, "m": 100, "p": 100})
    assert work.launch_arrays == 1 + 3
    bare = gpu.gpu_seconds(replace(work, launch_arrays=0.0))
    assert gpu.gpu_seconds(work) - bare == pytest.approx(4 * gpu.H100.launch_array_seconds)


def test_a_host_loop_launches_its_nests_and_element_stores_not_its_rotations() -> None:
    """`nxt[0] = cur[0]` is a one-thread launch each step, the nest another; `prev, cur, nxt = ...`
    trades names on the host."""
    kernel, facts = lifted("wave")
    few = gpu.gpu_work(kernel, facts, {"n": 1000, "steps": 10})
    many = gpu.gpu_work(kernel, facts, {"n": 1000, "steps": 20})
    assert many.launches - few.launches == 2 * 10
    assert many.launch_arrays - few.launch_arrays == (2 + 3) * 10  # nxt, cur; then nxt, cur, prev


def test_a_triangular_inner_loop_is_no_grid_dimension() -> None:
    """`for j in range(i + 1)` reads the outer grid variable in its bound: the lowering keeps it a
    loop in each thread (a 1-D grid of n threads, each running ~n/2 * k iterations), where gemm's
    inner loop is the grid's second dimension."""
    kernel, facts = lifted("syrk")
    work = gpu.gpu_work(kernel, facts, {"n": 512, "k": 512})
    assert work.threads == 512
    assert work.serial_iterations == 512 * 257  # j's mean trip count, i + 1 at i's mean, rounded up
    kernel, facts = lifted("gemm")
    assert gpu.gpu_work(kernel, facts, {"n": 100, "m": 100, "p": 100}).threads == 100 * 100


def test_a_serial_loop_pays_for_its_loads_and_more_for_rows_apart() -> None:
    """One thread per lag, each summing over n: two loads an iteration, x[i] the same address
    across the warp and x[i + lag] adjacent (measured 60-75 ns an iteration on the H100 host, 11 ns
    for arithmetic alone). syrk's A[i, p] puts each lane on its own row (measured ~4x a load)."""
    kernel, facts = lifted("lagged")
    work = gpu.gpu_work(kernel, facts, {"n": 1_000_000, "maxlag": 16})
    assert work.serial_strided_loads == 0.0
    assert work.serial_loads == pytest.approx(2 * work.serial_iterations, rel=0.01)
    assert gpu.gpu_seconds(work) > work.serial_iterations * (
        gpu.H100.thread_iteration_seconds + 2 * gpu.H100.load_iteration_seconds
    )
    kernel, facts = lifted("syrk")
    work = gpu.gpu_work(kernel, facts, {"n": 512, "k": 512})
    assert work.serial_strided_loads == pytest.approx(work.serial_loads)  # A[i, p] strided, A[j, p] not


def test_predicted_time_grows_with_size_and_overheads() -> None:
    kernel, facts = lifted("gemm")
    times = [
        gpu.gpu_seconds(gpu.gpu_work(kernel, facts, dict.fromkeys("nmp", n))) for n in (16, 128, 1024, 4096)
    ]
    assert times == sorted(times) and times[0] >= 2 * gpu.H100.launch_seconds
    slow_link = replace(gpu.H100, pcie_gbs=gpu.H100.pcie_gbs / 10)
    work = gpu.gpu_work(kernel, facts, dict.fromkeys("nmp", 1024))
    assert gpu.gpu_seconds(work, slow_link) > gpu.gpu_seconds(work)


def test_tiles_cut_the_bytes_a_product_reads() -> None:
    kernel, facts = lifted("gemm")
    sizes = dict.fromkeys("nmp", 1024)
    assert (
        gpu.gpu_work(kernel, facts, sizes, tile=16).accessed_bytes
        < gpu.gpu_work(kernel, facts, sizes).accessed_bytes
    )


# ---- the threshold on synthetic cost curves ----------------------------------------------------------------

FACTORS = [2.0**k for k in range(30)]


def linear(fixed: float, per: float):
    return lambda f: fixed + per * f


def test_crossover_is_where_the_gpu_starts_to_win_by_the_margin() -> None:
    # gpu = 1 ms + 1 ns/elem, cpu = 10 ns/elem: 2x faster from f >= 1e-3 / (5e-9 - 1e-9) = 250000
    found = gpu.crossover(linear(1e-3, 1e-9), linear(0.0, 1e-8), FACTORS, int, margin=2.0)
    assert found == 2**18  # the first scanned size >= 250000
    assert gpu.crossover(linear(1e-3, 1e-8), linear(0.0, 1e-8), FACTORS, int) is None  # never 2x faster


def test_crossover_is_monotone_in_overhead_and_cpu_speed() -> None:
    by_overhead = [
        gpu.crossover(linear(o, 1e-9), linear(0.0, 1e-8), FACTORS, int) for o in (1e-6, 1e-5, 1e-4, 1e-3)
    ]
    assert all(t is not None for t in by_overhead) and by_overhead == sorted(by_overhead)  # type: ignore[type-var]
    by_cpu = [
        gpu.crossover(linear(1e-4, 1e-9), linear(0.0, c), FACTORS, int) for c in (3e-9, 1e-8, 1e-7, 1e-6)
    ]
    assert all(t is not None for t in by_cpu) and by_cpu == sorted(by_cpu, reverse=True)  # type: ignore[type-var]


def test_a_win_that_does_not_last_to_the_largest_size_is_no_threshold() -> None:
    """The GPU wins in a middle band only (e.g. until its memory runs out): no branch at all."""

    def band(f: float) -> float:
        return 1e-9 if 2**10 <= f <= 2**20 else 1e3

    assert gpu.crossover(band, linear(0.0, 1e-8), FACTORS, int) is None


def test_threshold_per_kernel() -> None:
    """One pass over the data never pays for its copies; a product and time steps do, from some size,
    later on a slower link."""
    kernel, facts = lifted("axpy")
    assert gpu.threshold(kernel, facts, cpu_model("axpy"), {}, 1000) is None
    kernel, facts = lifted("gemm")
    found = gpu.threshold(kernel, facts, cpu_model("gemm"), {}, 1000, tile=16)
    assert found is not None and 64**2 <= found <= 2048**2
    kernel, facts = lifted("relax")
    profile = {"steps": 100}
    fast = gpu.threshold(kernel, facts, cpu_model("relax"), profile, 1000)
    slow = gpu.threshold(
        kernel,
        facts,
        cpu_model("relax"),
        profile,
        1000,
        replace(gpu.H100, copy_seconds=1e-2, launch_seconds=1e-4),
    )
    assert fast is not None and slow is not None and fast < slow


@pytest.mark.skipif(not RECORDS.exists(), reason="no GPU-host records in this checkout")
def test_against_the_measured_h100_records() -> None:
    """On the corpus measured on the H100 host: the model's GPU time against the best CPU time
    measured there picks the faster side for >= 90% of (kernel, size) pairs."""
    rows = gpu.measured_records(str(RECORDS))
    assert len(rows) >= 100
    report = gpu.decisions(rows)
    assert report["right"] >= 0.9 and report["geomean_regret"] <= 1.15, report
