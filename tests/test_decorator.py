"""`@optimize` end to end: one real optimization (module-scoped), then stand-in pipelines that show
how calls are routed, what is cached, and that nothing crashes at the call site."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from optcompiler import cache, optimize, pipeline
from optcompiler.decorator import GuardMiss, OptcWarning, OptimizedKernel, signature_of, size_bucket

KERNEL = '''\
import numpy as np

from optcompiler import optimize

SCALE = {scale}


@optimize
def colsum(X, out):
    """Adds SCALE times each column sum of X to out; returns the total of out."""
    n, m = X.shape
    total = 0.0
    for j in range(m):
        for i in range(n):
            out[j] += X[i, j] * SCALE
        total += out[j]
    return total
'''

# The same IR: other formatting, comments and docstring.
REFORMATTED = """\
import numpy as np

from optcompiler import optimize

SCALE = {scale}


@optimize
def colsum( X, out ):
    # reformatted by hand
    "Column sums, scaled."
    n , m = X.shape
    total = 0.0
    for j in range( m ):
        for i in range( n ):  # rows
            out[ j ] += X[i, j] * SCALE
        total += out[ j ]
    return total
"""

UNSUPPORTED = """\
from optcompiler import optimize


@optimize
def tally(words):
    counts = {w: 0 for w in words}
    for w in words:
        counts[w] += 1
    return counts
"""


@dataclass
class Workspace:
    folder: Path
    cache: Path
    calls: list[tuple[str, Any]]  # (kernel, result) of every pipeline run, the stand-ins' included
    real: Callable[..., Any]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("optc-decorator")
    calls: list[tuple[str, Any]] = []
    real = pipeline.optimize_kernel

    def recording(kernel, prelude, config, examples=()):
        result = real(kernel, prelude, config, examples)
        calls.append((kernel.name, result))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPTC_CACHE_DIR", str(folder / "cache"))
        patch.setattr(pipeline, "optimize_kernel", recording)
        yield Workspace(folder, folder / "cache", calls, real)


def load(workspace: Workspace, name: str, text: str) -> ModuleType:
    path = workspace.folder / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def stand_in(workspace: Workspace, *results: Any, delay: float = 0.0) -> Callable[..., Any]:
    """A pipeline that returns `results` in turn (the last one from then on), recorded like the real one."""

    answered: list[object] = []

    def optimize_kernel(kernel, prelude, config, examples=()):
        time.sleep(delay)
        result = results[min(len(answered), len(results) - 1)]
        answered.append(result)
        workspace.calls.append(("stand-in", config))
        if isinstance(result, Exception):
            raise result
        return result

    return optimize_kernel


def unchanged(reason: str = "the stand-in pipeline declines") -> pipeline.Unchanged:
    return pipeline.Unchanged("colsum", 9, reason)


def arguments(n: int = 20, m: int = 30, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([n, m])
    return rng.random((n, m)).astype(dtype), np.ones(m, dtype=dtype)


def like(a: Any) -> Any:
    """A copy with the same layout (C, F or strided) and writeability."""
    if not isinstance(a, np.ndarray):
        return a
    if a.flags.c_contiguous or a.flags.f_contiguous:
        copy = a.copy(order="K")
    else:
        copy = np.empty((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)[..., ::2]
        copy[...] = a
    copy.flags.writeable = a.flags.writeable
    return copy


def agree(function: Callable[..., Any], *args: Any) -> Any:
    """Call `function` and its undecorated original on copies; results and mutated arguments match
    (to the float policy's tolerance: 1e-9 for float64, 1e-4 for float32)."""
    mine, theirs = [like(a) for a in args], [like(a) for a in args]
    assert signature_of(mine) == signature_of(args)
    got, want = function(*mine), function.__wrapped__(*theirs)
    rtol = 1e-4 if any(getattr(a, "dtype", None) == np.float32 for a in args) else 1e-9
    np.testing.assert_allclose(got, want, rtol=rtol)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol)
    return got


def kernel_of(function: Callable[..., Any]) -> OptimizedKernel:
    return function._optc  # type: ignore[attr-defined]


@dataclass
class Recorded:
    caught: list[warnings.WarningMessage]

    def optc(self) -> list[str]:
        return [str(w.message) for w in self.caught if issubclass(w.category, OptcWarning)]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield Recorded(caught)


@pytest.fixture(scope="module")
def base(workspace: Workspace) -> ModuleType:
    """The one real optimization: float64 arrays at 20x30."""
    module = load(workspace, "optc_test_base", KERNEL.format(scale=2.0))
    X, out = arguments()
    module.colsum(X, out)
    # the caller's `out` was written by the real call alone (verification ran on copies)
    np.testing.assert_allclose(out, 1.0 + 2.0 * X.sum(axis=0), rtol=1e-12)
    return module


def base_emitted(workspace: Workspace) -> pipeline.Emitted:
    return next(r for k, r in workspace.calls if k == "colsum" and isinstance(r, pipeline.Emitted))


# ---- the real optimization ----------------------------------------------------------------------------


def test_results_equal_the_undecorated_function(base: ModuleType, workspace: Workspace) -> None:
    (spec,) = kernel_of(base.colsum).table.values()
    assert spec.guard is not None, spec.reason
    assert spec.origin.startswith("optimized in")
    for n, m in ((20, 30), (16, 63), (40, 2)):  # the same bucket
        agree(base.colsum, *arguments(n, m))
    assert base.colsum(*arguments()) == pytest.approx(base.colsum(X=arguments()[0], out=arguments()[1]))


def test_later_calls_do_not_optimize_again(base: ModuleType, workspace: Workspace) -> None:
    before = len(workspace.calls)
    for _ in range(3):
        agree(base.colsum, *arguments())
    assert len(workspace.calls) == before
    kernel = kernel_of(base.colsum)
    (spec,) = kernel.table.values()
    assert kernel.namespace["_optc_hot"] is spec.guard  # the next call goes straight to the guard


def test_a_new_dtype_is_a_new_specialization(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, base_emitted(workspace)))
    before = len(workspace.calls)
    float64_guard = kernel_of(base.colsum).namespace["_optc_hot"]
    agree(base.colsum, *arguments(dtype=np.float32))
    assert len(workspace.calls) == before + 1
    config = workspace.calls[-1][1]
    assert ("colsum.X", "float32[:, :]") in config.arg_types
    # Numba compiled nothing unverified: each guard has exactly the one signature it was made for
    assert len(float64_guard.signatures) == 1
    float32 = [s for s in kernel_of(base.colsum).table.values() if s.guard is not float64_guard]
    assert len(float32) == 1 and float32[0].guard is not None and len(float32[0].guard.signatures) == 1
    agree(base.colsum, *arguments())
    agree(base.colsum, *arguments(dtype=np.float32))
    assert len(workspace.calls) == before + 1


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("another size bucket", lambda: arguments(100, 100)),
        ("Fortran order", lambda: (np.asfortranarray(arguments()[0]), arguments()[1])),
        ("a strided view", lambda: (arguments(20, 60)[0][:, ::2], arguments()[1])),
        ("read-only", lambda: (_read_only(arguments()[0]), arguments()[1])),
        ("int64 data", lambda: (np.arange(600).reshape(20, 30), np.zeros(30, dtype=np.int64))),
    ],
)
def test_other_signatures_never_reach_the_variant(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, recorded: Recorded, label, make
) -> None:
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, unchanged(f"declined: {label}")))
    before = len(workspace.calls)
    agree(base.colsum, *make())
    agree(base.colsum, *make())
    assert len(workspace.calls) == before + 1, "optimized once, then remembered"
    assert len([w for w in recorded.optc() if label in w]) == 1
    agree(base.colsum, *arguments())  # the float64 variant still serves its own signature


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def test_explain_says_what_was_chosen_and_why(base: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    optimize.explain(base.colsum)
    text = capsys.readouterr().out
    (spec,) = [s for s in kernel_of(base.colsum).table.values() if s.signature == signature_of(arguments())]
    entry = spec.entry
    assert entry is not None
    assert "colsum(X: float64 2-D C array, out: float64 1-D C array; largest dimension 16 to 63)" in text
    if entry.derivation:
        assert f"runs the variant {'+'.join(entry.derivation)} @ {entry.target}" in text
        assert all(f"  - {reason}" in text for reason in entry.why)
    else:
        assert f"runs the original body compiled @ {entry.target}, no rewrites" in text
    assert f"cache entry: {entry.path}" in text
    assert "vs plain numba.njit of the original" in text and "verified:" in text
    base.colsum.explain()
    assert capsys.readouterr().out == text


# ---- the cache ------------------------------------------------------------------------------------------


def test_reformatting_the_function_hits_the_cache(base: ModuleType, workspace: Workspace) -> None:
    before = len(workspace.calls)
    module = load(workspace, "optc_test_reformatted", REFORMATTED.format(scale=2.0))
    agree(module.colsum, *arguments())
    assert len(workspace.calls) == before
    (spec,) = kernel_of(module.colsum).table.values()
    assert spec.guard is not None and spec.origin == "from the cache"


def test_changing_a_referenced_constant_misses_the_cache(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, recorded: Recorded
) -> None:
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, unchanged()))
    before = len(workspace.calls)
    module = load(workspace, "optc_test_scale3", KERNEL.format(scale=3.0))
    agree(module.colsum, *arguments())
    agree(module.colsum, *arguments())
    assert len(workspace.calls) == before + 1
    assert len(recorded.optc()) == 1 and "the stand-in pipeline declines" in recorded.optc()[0]
    # the decision not to optimize is cached too: a fresh copy of the module does not ask again
    again = load(workspace, "optc_test_scale3_again", KERNEL.format(scale=3.0))
    agree(again.colsum, *arguments())
    assert len(workspace.calls) == before + 1
    (spec,) = kernel_of(again.colsum).table.values()
    assert spec.guard is None and spec.origin == "from the cache"


def test_a_restarted_process_reuses_the_cache(base: ModuleType, workspace: Workspace) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import optc_test_base as module
        X = np.random.default_rng(0).random((20, 30)); out = np.ones(30)
        total = module.colsum(X, out)
        (spec,) = module.colsum._optc.table.values()
        print(json.dumps({
            "origin": spec.origin, "variant": spec.guard is not None, "total": total,
            "pipeline_imported": "optcompiler.pipeline" in sys.modules,
        }))
        """
    )
    env = dict(os.environ, OPTC_CACHE_DIR=str(workspace.cache), PYTHONPATH=str(workspace.folder))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["origin"] == "from the cache" and report["variant"]
    assert not report["pipeline_imported"], (
        "no optimization, no verification: the pipeline is not even imported"
    )
    X = np.random.default_rng(0).random((20, 30))
    assert report["total"] == pytest.approx(base.colsum.__wrapped__(X, np.ones(30)), rel=1e-9)


def test_a_corrupt_entry_is_reported_once_and_rebuilt(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, recorded: Recorded
) -> None:
    (spec,) = [s for s in kernel_of(base.colsum).table.values() if s.signature == signature_of(arguments())]
    assert spec.entry is not None
    Path(spec.entry.path).write_text('{"format": 1, "key": "trunc')
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, base_emitted(workspace)))
    before = len(workspace.calls)
    module = load(workspace, "optc_test_corrupt", KERNEL.format(scale=2.0))
    agree(module.colsum, *arguments())
    assert len(workspace.calls) == before + 1
    (warning,) = recorded.optc()
    assert "unusable (bad JSON" in warning and "rebuilding" in warning
    rebuilt = cache.load(workspace.cache, spec.entry.key)
    assert isinstance(rebuilt, cache.Entry) and rebuilt.outcome == "variant"
    (fresh,) = kernel_of(module.colsum).table.values()
    assert fresh.guard is not None


# ---- routing and failures -------------------------------------------------------------------------------


MARKER = """\
@numba.njit(cache=True)
def _colsum_v1(X, out):
    return -1.0
"""


def test_overlapping_arrays_and_other_buckets_run_the_original(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, recorded: Recorded
) -> None:
    # A stand-in "variant" that returns -1 shows which calls reach it; it assumes X and out distinct.
    marker = replace(base_emitted(workspace), source=MARKER, alias_pairs=(("X", "out"),))
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, marker, unchanged()))
    module = load(workspace, "optc_test_marker", KERNEL.format(scale=11.0))
    X, out = arguments()
    assert module.colsum(X, out) == -1.0
    assert module.colsum(X, out) == -1.0  # the hot path
    A = np.random.default_rng(1).random((30, 30))
    B = A.copy()
    got = module.colsum(A, A[3])  # out is a row of X: the original runs
    assert got == pytest.approx(module.colsum.__wrapped__(B, B[3]), rel=1e-12)
    assert np.array_equal(A, B)
    assert module.colsum(X, out) == -1.0
    assert agree(module.colsum, *arguments(64, 64)) != -1.0  # another bucket: respecialized (declined)
    assert module.colsum(X, out) == -1.0
    assert len(recorded.optc()) == 1  # the declined bucket, once


def test_an_unsupported_function_warns_once_and_runs_as_written(
    workspace: Workspace, recorded: Recorded
) -> None:
    before = len(workspace.calls)
    module = load(workspace, "optc_test_unsupported", UNSUPPORTED)
    assert module.tally(["a", "b", "a"]) == {"a": 2, "b": 1}
    assert module.tally(("x",)) == {"x": 1}
    (warning,) = recorded.optc()
    assert "dict comprehension" in warning and "outside the kernel subset" in warning
    assert len(workspace.calls) == before
    assert kernel_of(module.tally).namespace["_optc_hot"] is module.tally.__wrapped__


def test_a_pipeline_error_is_no_crash(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, recorded: Recorded
) -> None:
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, RuntimeError("boom")))
    module = load(workspace, "optc_test_boom", KERNEL.format(scale=4.0))
    agree(module.colsum, *arguments())
    agree(module.colsum, *arguments())
    (warning,) = recorded.optc()
    assert "internal error in optc: RuntimeError: boom" in warning


def test_two_threads_calling_at_once_optimize_once(
    base: ModuleType, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, recorded: Recorded
) -> None:
    monkeypatch.setattr(pipeline, "optimize_kernel", stand_in(workspace, unchanged(), delay=0.5))
    module = load(workspace, "optc_test_threads", KERNEL.format(scale=5.0))
    before = len(workspace.calls)
    barrier = threading.Barrier(2)
    results: list[float] = []

    def call() -> None:
        X, out = arguments()
        barrier.wait()
        results.append(module.colsum(X, out))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(workspace.calls) == before + 1
    assert results == [pytest.approx(module.colsum.__wrapped__(*arguments()))] * 2
    assert len(recorded.optc()) == 1


def test_functions_outside_the_subset_of_signatures(workspace: Workspace, recorded: Recorded) -> None:
    @optimize
    def nested(x):
        return x

    module = load(
        workspace,
        "optc_test_varargs",
        "from optcompiler import optimize\n\n\n@optimize\ndef spread(*xs):\n    return sum(xs)\n",
    )
    assert nested(3) == 3 and nested(4) == 4
    assert module.spread(1, 2) == 3 and module.spread(4) == 4
    messages = recorded.optc()
    assert len(messages) == 2
    assert "only top-level functions" in messages[0] and "*args parameter" in messages[1]


# ---- the decorator's face ----------------------------------------------------------------------------


def test_the_wrapper_looks_like_the_function(base: ModuleType) -> None:
    assert base.colsum.__name__ == "colsum" and base.colsum.__doc__.startswith("Adds SCALE")
    assert list(inspect.signature(base.colsum).parameters) == ["X", "out"]
    assert base.colsum.__module__ == "optc_test_base"


def test_options_are_checked_at_decoration() -> None:
    assert callable(optimize(target="gpu"))  # the CUDA lowering where a GPU is present (see below)
    with pytest.raises(ValueError, match="contradict"):
        optimize(strict_fp=True, fastmath=True)
    with pytest.raises(ValueError, match="target"):
        optimize(target="tpu")
    with pytest.raises(ValueError, match="positive integer"):
        optimize(sizes={"n": 0})
    with pytest.raises(TypeError, match="plain Python functions"):
        optimize(len)
    with pytest.raises(TypeError, match="not decorated"):
        optimize.explain(len)


def test_signatures_and_buckets() -> None:
    assert [size_bucket(n) for n in (0, 3, 4, 15, 16, 63, 64, 1000)] == [0, 0, 1, 1, 2, 2, 3, 4]
    X = np.zeros((20, 30))
    assert signature_of((X, 1.0)) != signature_of((X, 1))
    assert signature_of((X,)) != signature_of((np.asfortranarray(X),))
    assert signature_of((X,)) != signature_of((X.astype(np.float32),))
    assert signature_of((X,)) == signature_of((np.ones((30, 20)),))
    assert signature_of((X,)) != signature_of((np.ones((30, 64)),))
    assert issubclass(GuardMiss, Exception)


def test_function_text_is_the_def_with_its_decorators(base: ModuleType) -> None:
    from optcompiler.decorator import _function_text

    text = _function_text(base.colsum.__wrapped__)
    assert text.startswith("@optimize\ndef colsum(X, out):")
    assert text.rstrip().endswith("return total")


def test_importing_optcompiler_does_not_import_numpy_or_numba() -> None:
    code = "import sys, optcompiler; print(sorted({'numpy', 'numba'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "from optcompiler import optimize; import optcompiler; print(optcompiler.optimize is optimize)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


WIDE = """\
from optcompiler import optimize


@optimize
def scaled_total(x, k):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * k
    return s
"""


def test_ints_beyond_64_bits_run_the_original(workspace: Workspace) -> None:
    """Python ints are arbitrary precision; Numba cannot unbox one beyond 64 bits, so the original
    computes with it, both before any specialization and through a compiled guard."""
    module = load(workspace, "optc_test_wide", WIDE)
    x = np.linspace(0.0, 1.0, 10)
    for k in (2**70, 3, -(2**80), 2**64, 2**63 + 1, 5):
        assert module.scaled_total(x, k) == module.scaled_total.__wrapped__(x, k)
    spec = next(iter(kernel_of(module.scaled_total).table.values()))
    assert len(kernel_of(module.scaled_total).table) == 1 and spec.guard is not None, spec.reason


# ---- target="gpu" ---------------------------------------------------------------------------------------

GPU_KERNEL = """\
import numpy as np

from optcompiler import optimize


@optimize(target="gpu")
def smooth(u):
    n, m = u.shape
    out = u.copy()
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out
"""

# Run under NUMBA_ENABLE_CUDASIM=1 (numba-cuda reads it at import: never in this process): the first
# call specializes (the lowering verified on the simulator and on the call's own arguments), the
# next one must go through the CUDA wrapper, spied on in the variant's module.
GPU_CHILD = r"""
import importlib.util, json, sys, warnings
import numpy as np
warnings.simplefilter("error")  # no OptcWarning: the GPU is there (simulated)
spec = importlib.util.spec_from_file_location("gpu_kernel", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["gpu_kernel"] = module
spec.loader.exec_module(module)
rng = np.random.default_rng(3)
u = rng.uniform(-1, 1, (9, 13))
first = module.smooth(u.copy())
(entry_spec,) = module.smooth._optc.table.values()
variant = sys.modules[entry_spec.entry.module_file.removesuffix(".py")]
ran = []
real = variant._smooth_gpu
variant._smooth_gpu = lambda *a: ran.append(1) or real(*a)
second = module.smooth(u.copy())
want = module.smooth._optc.func(u.copy())
print(json.dumps({
    "same": bool(np.array_equal(first, want) and np.array_equal(second, want)),
    "ran": len(ran),
    "target": entry_spec.entry.target,
    "verified": entry_spec.entry.verified,
}))
"""


def _numba_cuda() -> bool:
    return importlib.util.find_spec("numba_cuda") is not None


@pytest.mark.skipif(not _numba_cuda(), reason="numba-cuda is not installed (pip install 'optc[cuda]')")
def test_target_gpu_runs_the_verified_cuda_lowering_on_the_simulator(tmp_path: Path) -> None:
    path = tmp_path / "gpu_kernel.py"
    path.write_text(GPU_KERNEL)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", OPTC_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", GPU_CHILD, str(path)], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["same"] and report["ran"] == 1, report
    assert report["target"].startswith("cuda, else ")
    assert "GPU: numba-cuda, launch configuration" in report["verified"]
    assert "on the call's own arguments" in report["verified"]


@pytest.mark.slow
def test_target_gpu_without_a_gpu_runs_the_cpu_variant_with_one_warning(workspace: Workspace) -> None:
    from optcompiler.decorator import _gpu_present

    if _gpu_present():
        pytest.skip("this machine has a usable GPU")
    module = load(workspace, "optc_test_gpu_absent", GPU_KERNEL)
    rng = np.random.default_rng(5)
    u = rng.uniform(-1, 1, (12, 17))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = module.smooth(u.copy())
        again = module.smooth(rng.uniform(-1, 1, (13, 19)))  # the same signature: no second warning
    want = module.smooth._optc.func(u.copy())
    assert np.array_equal(got, want) and again.shape == (13, 19)
    messages = [str(w.message) for w in caught if issubclass(w.category, OptcWarning)]
    assert len(messages) == 1, messages
    assert "target='gpu', but no CUDA GPU is usable here" in messages[0] and "CPU variant" in messages[0]
    (spec, *_) = module.smooth._optc.table.values()
    assert spec.guard is not None and "cuda" not in spec.entry.target  # the compiled CPU variant runs
