"""The GPU target in the pipeline: `--target gpu` emits the CUDA lowering behind a dispatcher,
`--target auto` adds it only where a GPU is present and the GPU model predicts a win.

The emitted modules run in child processes: under `NUMBA_ENABLE_CUDASIM=1` (numba-cuda reads it at
import, so never in this process) the dispatcher takes the GPU path on the simulator; without it,
on this machine without a GPU, it must take the CPU path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from optcompiler import pipeline
from optcompiler.config import Config
from optcompiler.costmodel import gpu as gpu_model
from optcompiler.pipeline import Emitted, optimize_source

# the simulator comes with numba-cuda, the `cuda` extra; without it optc offers no GPU variant
needs_cuda = pytest.mark.skipif(
    importlib.util.find_spec("numba_cuda") is None,
    reason="numba-cuda is not installed (pip install 'optc[cuda]')",
)

SMOOTH = """
import numpy as np


def smooth(u):
    n, m = u.shape
    out = u.copy()
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out
"""

# relax: a GPU win from some size on (time steps on the device); axpy: one pass, never a win
# (the transfers cost more than the CPU's whole run); running: a recurrence, refused
AUTO = '''
import numpy as np


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


def axpy(a: float, x, y):
    """y += a * x"""
    for i in range(x.shape[0]):
        y[i] = a * x[i] + y[i]


def running(x):
    for i in range(1, x.shape[0]):
        x[i] = x[i - 1] + x[i]
'''


# Run in a child: import the emitted module and the original, call each kernel on fresh copies of
# the same inputs, and report whether results and mutated arguments are identical and which path ran.
CHILD = r"""
import importlib.util, json, sys
import numpy as np

def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

fast, slow = load(sys.argv[1], "fast"), load(sys.argv[2], "slow")
calls = json.loads(sys.argv[3])
forbid_gpu = sys.argv[4] != "spy"
compiled_reference = sys.argv[4] == "forbid-vs-compiled"  # inputs too large for CPython
report = {}
for name, shapes in calls.items():
    def make():
        rng = np.random.default_rng(7)
        return [rng.uniform(-1, 1, s) if isinstance(s, list) else s for s in shapes]
    ran = []
    gpu = getattr(fast, f"_{name}_gpu", None)
    if gpu is not None:
        def spy(*args, _gpu=gpu):
            if forbid_gpu:
                raise AssertionError("the GPU path ran without a GPU")
            ran.append("gpu")
            return _gpu(*args)
        setattr(fast, f"_{name}_gpu", spy)
    got_args, want_args = make(), make()
    got = getattr(fast, name)(*got_args)
    want = (getattr(fast, f"_{name}_v1") if compiled_reference else getattr(slow, name))(*want_args)
    same = all(
        np.array_equal(g, w) if isinstance(w, np.ndarray) else g == w
        for g, w in zip([got, *got_args], [want, *want_args])
    )
    report[name] = {"same": bool(same), "ran": ran}
print(json.dumps(report))
"""


def run_child(
    tmp_path: Path, output: str, source: str, calls: dict, sim: bool, compiled_reference: bool = False
) -> dict:
    fast, slow = tmp_path / "fast.py", tmp_path / "slow.py"
    fast.write_text(output, encoding="utf-8")
    slow.write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if sim:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    mode = "spy" if sim else "forbid-vs-compiled" if compiled_reference else "forbid"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(fast), str(slow), json.dumps(calls), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gpu_result() -> pipeline.FileResult:
    return optimize_source(SMOOTH, "smooth.py", Config(target="gpu", max_verify=1, top_k=4))


@pytest.fixture(scope="module")
def auto_result() -> pipeline.FileResult:
    """`--target auto` where a GPU is present (pretended: the H100's descriptor)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "gpu_descriptor", lambda hardware: gpu_model.H100)
        config = Config(max_verify=1, top_k=4, sizes=(("steps", 50),))
        return optimize_source(AUTO, "auto.py", config)


def kernel(result: pipeline.FileResult, name: str) -> Emitted:
    found = next(k for k in result.kernels if k.kernel == name)
    assert isinstance(found, Emitted), pipeline.describe(found)
    return found


@needs_cuda
def test_target_gpu_emits_verified_lowering_behind_dispatcher(gpu_result: pipeline.FileResult) -> None:
    smooth = kernel(gpu_result, "smooth")
    assert smooth.gpu_source and smooth.gpu_threshold is None  # --target gpu: whenever a GPU is present
    assert "verified on the CUDA simulator, matched on" in smooth.gpu_note
    out = gpu_result.output
    assert "from numba import cuda" in out
    assert (
        "        if cuda.is_available():\n            return _smooth_gpu(u)\n        return _smooth_v1(u)\n"
        in out
    )
    compile(out, "smooth_fast.py", "exec")


@needs_cuda
def test_gpu_path_computes_what_the_original_does_on_the_simulator(
    gpu_result: pipeline.FileResult, tmp_path: Path
) -> None:
    report = run_child(tmp_path, gpu_result.output, SMOOTH, {"smooth": [[19, 37]]}, sim=True)
    assert report == {"smooth": {"same": True, "ran": ["gpu"]}}


@needs_cuda
def test_auto_with_gpu_dispatches_by_size(auto_result: pipeline.FileResult) -> None:
    relax = kernel(auto_result, "relax")
    threshold = relax.gpu_threshold
    assert relax.gpu_source and threshold is not None and 1 < threshold <= gpu_model.MAX_ELEMENTS * 50
    # the work grows with the array and the step count: both are in the measure
    assert f"        if u.size * steps >= {threshold} and cuda.is_available():\n" in auto_result.output
    assert f"predicts it {gpu_model.DISPATCH_MARGIN:g}x faster" in relax.gpu_note


@needs_cuda
def test_auto_keeps_the_cpu_where_the_gpu_does_not_pay_or_refuses(auto_result: pipeline.FileResult) -> None:
    axpy = kernel(auto_result, "axpy")
    assert not axpy.gpu_source and axpy.gpu_note.startswith("not picked: the NVIDIA H100 model predicts no")
    running = kernel(auto_result, "running")
    assert running.gpu_note.startswith("refused: the loop over `i` is not parallel")
    assert "GPU: refused: the loop over `i` is not parallel" in pipeline.describe(running)
    assert "GPU: refused" in pipeline.report_markdown([auto_result])
    assert "_axpy_gpu" not in auto_result.output and "_running_gpu" not in auto_result.output


@needs_cuda
def test_auto_gpu_branch_is_not_taken_without_a_gpu(auto_result: pipeline.FileResult, tmp_path: Path) -> None:
    """Above the threshold, but no GPU: the CPU path runs (the GPU wrapper would raise). The
    inputs are too large for CPython: the reference is the compiled CPU variant."""
    threshold = kernel(auto_result, "relax").gpu_threshold
    assert threshold is not None
    steps = 2
    side = int((threshold / steps) ** 0.5) + 2
    report = run_child(tmp_path, auto_result.output, AUTO, {"relax": [[side, side], steps]}, False, True)
    assert report == {"relax": {"same": True, "ran": []}}


@needs_cuda
def test_auto_gpu_branch_is_not_taken_below_the_threshold(
    auto_result: pipeline.FileResult, tmp_path: Path
) -> None:
    """With a (simulated) GPU present, a problem below the threshold stays on the CPU."""
    report = run_child(tmp_path, auto_result.output, AUTO, {"relax": [[9, 11], 3]}, sim=True)
    assert report == {"relax": {"same": True, "ran": []}}


def test_auto_without_gpu_changes_nothing() -> None:
    """No GPU here: `auto` gives exactly what `cpu` gives, and no CUDA in it."""
    if pipeline.gpu_descriptor(pipeline.detect()) is not None:
        pytest.skip("this machine has a GPU")
    auto = optimize_source(SMOOTH + AUTO, "kernels.py", Config(verify=False))
    cpu = optimize_source(SMOOTH + AUTO, "kernels.py", Config(verify=False, target="cpu"))
    assert auto.output == cpu.output
    assert "cuda" not in auto.output
    assert all(not k.gpu_note for k in auto.kernels if isinstance(k, Emitted))


@needs_cuda
def test_a_bug_on_the_gpu_side_keeps_the_cpu_variant(
    gpu_result: pipeline.FileResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optcompiler.frontend import lift_function
    from optcompiler.passes import gpu as lowering

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(lowering, "lower_cuda", broken)
    smooth = replace(kernel(gpu_result, "smooth"), gpu_source="", gpu_note="")
    result = pipeline.with_gpu(lift_function(SMOOTH, "smooth.py", "smooth"), smooth, "", Config(target="gpu"))
    assert isinstance(result, Emitted) and not result.gpu_source
    assert result.gpu_note == "refused: internal error: RuntimeError: boom"
    assert result.source == smooth.source


@needs_cuda
def test_without_numba_cuda_the_gpu_is_refused_with_the_install_line(
    gpu_result: pipeline.FileResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optcompiler.frontend import lift_function

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "numba_cuda" else real(name)
    )
    smooth = replace(kernel(gpu_result, "smooth"), gpu_source="", gpu_note="")
    result = pipeline.with_gpu(lift_function(SMOOTH, "smooth.py", "smooth"), smooth, "", Config(target="gpu"))
    assert isinstance(result, Emitted) and not result.gpu_source
    assert result.gpu_note == "refused: numba-cuda is not installed (pip install 'optc[cuda]')"


GEMM = """
import numpy as np


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


def test_the_gpu_model_ranks_launch_configurations() -> None:
    from optcompiler.analysis import analyze
    from optcompiler.frontend import lift_function

    gemm = lift_function(GEMM, "gemm.py", "gemm")
    facts = analyze(gemm)
    candidates = gpu_model.launch_candidates(gemm, facts)
    assert {"16x16", "32x8", "tile16", "tile64r4"} <= {c.label for c in candidates}
    big = gpu_model.rank_launches(gemm, facts, {"n": 2048, "m": 2048, "p": 2048}, candidates)
    assert big[0].label == "tile64r4"  # operands staged, 4x4 outputs a thread: the least memory traffic
    # untiled, square blocks share more of a matmul's operands through L1 than 32x8 ones
    untiled = [c.label for c in big if c.tile is None]
    assert untiled.index("16x16") < untiled.index("32x8")
    # a small problem: 64x64 tiles leave most of the device idle, one output a thread wins
    small = gpu_model.rank_launches(gemm, facts, {"n": 64, "m": 64, "p": 64}, candidates)
    assert small.index(next(c for c in small if c.label == "tile64r4")) > 0
    smooth = lift_function(SMOOTH, "smooth.py", "smooth")
    # nothing matmul-like: a tile gains nothing in the model (and the lowering refuses it)
    ranked = gpu_model.rank_launches(smooth, analyze(smooth), {"n": 4096, "m": 4096}, candidates)
    assert ranked[0].tile is None


@needs_cuda
def test_the_pipeline_ships_the_first_ranked_configuration_that_lowers(
    gpu_result: pipeline.FileResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optcompiler.frontend import lift_function

    smooth = replace(kernel(gpu_result, "smooth"), gpu_source="", gpu_note="")
    lifted = lift_function(SMOOTH, "smooth.py", "smooth")
    order = [gpu_model.TILED[0], gpu_model.LAUNCHES[2], gpu_model.LAUNCHES[0]]  # a tile smooth cannot take
    monkeypatch.setattr(gpu_model, "rank_launches", lambda *args, **kwargs: order)
    result = pipeline.with_gpu(lifted, smooth, "", Config(target="gpu"))
    assert isinstance(result, Emitted) and result.gpu_source, result.gpu_note
    assert "launch configuration 64x4 (of 3 ranked by the GPU model)" in result.gpu_note
    assert "(64, 4)](" in result.gpu_source


SWAPS = """
import numpy as np


def heat_swap(u, steps: int):
    n, m = u.shape
    a = u.copy()
    b = np.zeros_like(u)
    b[:, :] = u
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        a, b = b, a
    return a


def uneven_swap(u, steps: int):
    n, m = u.shape
    a = u.copy()
    b = np.zeros((n, m + 1))
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = 0.5 * (a[i, j - 1] + a[i, j + 1])
        a, b = b, a
    return a
"""


@needs_cuda
def test_ping_pong_buffers_of_one_shape_are_in_bounds_for_the_gpu(tmp_path: Path) -> None:
    """The analysis loses arrays through `a, b = b, a`; where every rotated buffer has one shape the
    rotation-free body's bounds hold, and the GPU path is offered; buffers of different shapes are not."""
    result = optimize_source(SWAPS, "swaps.py", Config(target="gpu", max_verify=1, top_k=2))
    heat = kernel(result, "heat_swap")
    assert heat.gpu_source, heat.gpu_note
    uneven = kernel(result, "uneven_swap")
    assert not uneven.gpu_source and "not provably in bounds" in uneven.gpu_note
    report = run_child(tmp_path, result.output, SWAPS, {"heat_swap": [[9, 12], 3]}, sim=True)
    assert report == {"heat_swap": {"same": True, "ran": ["gpu"]}}


# ---- the dispatcher's CPU side (`pipeline.dispatch_threshold`) -----------------------------------------

PAIRS = """
def pair_sums(x, out):
    for i in range(x.shape[0]):
        s = 0.0
        for j in range(x.shape[0]):
            s += x[i] * x[j]
        out[i] = s
"""

MATMUL = """
import numpy as np


def product(A, B):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    C += A @ B[:m]
    return C
"""


def _lifted(source: str, name: str, hints: dict[str, str] | None = None) -> tuple[object, object]:
    from optcompiler.analysis import analyze
    from optcompiler.frontend import lift_function

    lifted = lift_function(source, f"{name}.py", name)
    return lifted, analyze(lifted, hints or {})


def _constant_model(seconds: float) -> object:
    """A learned model (optc's tree reader's form) that predicts `seconds` for every candidate."""
    import math

    from optcompiler.costmodel.model import Tree, TreeModel

    return TreeModel(("ir_nests",), "regression", (Tree((), (), (), (), (), (math.log(seconds),)),), {})


def _scaled_model(factor: float) -> object:
    """A learned residual model that predicts the analytic estimate times `factor`."""
    import math

    from optcompiler.costmodel.model import Tree, TreeModel

    tree = Tree((), (), (), (), (), (math.log(factor),))
    return TreeModel(("analytic_log_seconds",), "residual", (tree,), {})


def test_dispatch_threshold_takes_the_cpu_side_from_the_learned_model_it_is_given() -> None:
    """The CPU side is the learned model of the machine where there is one: a model that predicts
    the CPU 30x slower than the analytic model does switches to the GPU at a smaller size, one that
    predicts it 30x faster at a larger one (or never); no model is the analytic model."""
    from optcompiler.costmodel.hardware import detect
    from optcompiler.ir import Candidate, Target, Variant

    lifted, facts = _lifted(PAIRS, "pair_sums")
    chosen = Candidate(Variant("pair_sums", lifted.body, ()), Target("njit"))  # type: ignore[attr-defined]
    hardware = replace(detect(), cores=16)

    def threshold(found: object) -> int | None:
        return pipeline.dispatch_threshold(
            lifted,  # type: ignore[arg-type]
            facts,  # type: ignore[arg-type]
            chosen,
            {"n": 10_000},
            1000,
            hardware,
            found,  # type: ignore[arg-type]
            gpu_model.H100,
        )

    analytic, slow, fast = threshold(None), threshold(_scaled_model(30.0)), threshold(_scaled_model(1 / 30))
    assert analytic is not None and slow is not None and slow < analytic
    assert fast is None or fast > analytic
    assert threshold(_scaled_model(1.0)) == analytic


def test_dispatch_threshold_margin_is_the_dispatchers() -> None:
    """A larger margin asks the GPU to be predicted faster by more: it never switches earlier."""
    from optcompiler.costmodel.hardware import detect
    from optcompiler.ir import Candidate, Target, Variant

    lifted, facts = _lifted(PAIRS, "pair_sums")
    chosen = Candidate(Variant("pair_sums", lifted.body, ()), Target("njit"))  # type: ignore[attr-defined]
    hardware = replace(detect(), cores=16)
    at = [
        pipeline.dispatch_threshold(
            lifted,
            facts,
            chosen,
            {"n": 10_000},
            1000,
            hardware,
            None,
            gpu_model.H100,
            margin=m,  # type: ignore[arg-type]
        )
        for m in (1.0, gpu_model.DISPATCH_MARGIN, 8.0)
    ]
    assert all(t is not None for t in at) and at[0] <= at[1] <= at[2] and at[0] < at[2]  # type: ignore[operator]
    default = pipeline.dispatch_threshold(
        lifted,
        facts,
        chosen,
        {"n": 10_000},
        1000,
        hardware,
        None,
        gpu_model.H100,  # type: ignore[arg-type]
    )
    assert default == at[1]


def test_a_plain_numpy_variant_is_costed_as_its_statements_compiled() -> None:
    """NumPy's matmul is BLAS on every core: the CPU side of a NumPy variant is the compiled
    estimate of its statements on this hardware (more cores: faster), not CPython's fixed-rate one;
    and it is an estimate at all (the analytic model alone raises on the numpy target)."""
    from optcompiler.costmodel.analytic import estimate_python_seconds, estimate_seconds
    from optcompiler.costmodel.hardware import detect
    from optcompiler.ir import Candidate, Target, Variant

    lifted, facts = _lifted(MATMUL, "product", {"A": "float64[:, :]", "B": "float64[:, :]"})
    chosen = Candidate(Variant("product", lifted.body, ("idioms.matmul",)), Target("numpy"))  # type: ignore[attr-defined]
    sizes = {s: 1024 for s in facts.size_symbols}  # type: ignore[attr-defined]
    one, many = replace(detect(), cores=1), replace(detect(), cores=16)
    at = {
        h.cores: pipeline.dispatch_cpu_seconds(chosen, facts, h, None, 1000)(sizes)  # type: ignore[arg-type]
        for h in (one, many)
    }
    compiled = estimate_seconds(lifted.body, Target("njit"), facts.arg_types, sizes, many, 1000)  # type: ignore[attr-defined]
    assert at[16] == pytest.approx(pipeline.NUMPY_CALL_SECONDS + compiled)
    assert at[16] < at[1]
    assert at[16] < estimate_python_seconds(lifted.body, facts.arg_types, sizes, 1000) / 4  # type: ignore[attr-defined]
    # the learned model was never trained on the numpy target: not asked
    slow = _scaled_model(1e6)
    assert pipeline.dispatch_cpu_seconds(chosen, facts, many, slow, 1000)(sizes) == at[16]  # type: ignore[arg-type]


@needs_cuda
def test_auto_computes_the_threshold_against_the_learned_model_of_this_machine() -> None:
    """`_add_gpu` asks `costmodel.model.find` for this machine's learned model: one that predicts
    every CPU variant to take a nanosecond leaves relax on the CPU, where the analytic model (the
    auto_result fixture) sends it to the GPU from some size on."""
    from optcompiler.costmodel import model as learned

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "gpu_descriptor", lambda hardware: gpu_model.H100)
        patch.setattr(learned, "find", lambda hardware: _constant_model(1e-9))
        config = Config(max_verify=1, top_k=2, sizes=(("steps", 50),))
        result = optimize_source(AUTO.split("\n\ndef axpy")[0], "auto.py", config)
    relax = kernel(result, "relax")
    assert not relax.gpu_source and relax.gpu_note.startswith("not picked: the NVIDIA H100 model predicts no")
