"""The corpus and the bundled examples compute what their NumPy references compute.

Tolerances follow DESIGN.md's float policy: rtol 1e-9 for float64 and 1e-4 for float32, measured
norm-wise (atol = rtol × max |reference|, so entries that cancel to near zero do not fail on
rounding); integer results must be exact.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from optcompiler import corpus, frontend
from optcompiler.analysis import contains_loop

ROOT = Path(__file__).resolve().parent.parent
KERNELS = corpus.load_all()


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_matches(got: object, want: object) -> None:
    if isinstance(want, tuple):  # kernels that return several results
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_matches(g, w)
        return
    if want is None:  # kernels whose output is an argument updated in place
        assert got is None
        return
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape
    assert got_a.dtype.kind == want_a.dtype.kind
    if want_a.dtype.kind in "iub":
        np.testing.assert_array_equal(got_a, want_a)
        return
    assert got_a.dtype == want_a.dtype
    rtol = 1e-4 if want_a.dtype == np.float32 else 1e-9
    finite = np.abs(want_a[np.isfinite(want_a)])  # NaN marks missing data in some kernels' results
    scale = float(np.max(finite)) if finite.size else 0.0
    np.testing.assert_allclose(got_a, want_a, rtol=rtol, atol=rtol * scale)


def _copies(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _same_arguments(left: tuple, right: tuple) -> bool:
    return len(left) == len(right) and all(
        type(a) is type(b)
        and (
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc") and a.dtype == b.dtype
            if isinstance(a, np.ndarray)
            else a == b
        )
        for a, b in zip(left, right, strict=True)
    )


# ---- the corpus ------------------------------------------------------------------------------------------

SEED_KERNELS = {
    "clipped_sum",
    "conv1d",
    "csr_matvec",
    "gemm",
    "heat1d",
    "histogram",
    "jacobi2d",
    "life_step",
    "pairwise_distances",
    "prefix_sum",
    "rmsnorm32",
    "trisolve",
}


def test_corpus_has_at_least_eighty_kernels_in_sorted_order() -> None:
    names = [k.name for k in KERNELS]
    assert names == sorted(names) == corpus.names()
    assert len(names) >= 80
    assert SEED_KERNELS <= set(names)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_module_layout(kernel: corpus.CorpusKernel) -> None:
    assert kernel.function.__name__ == kernel.name
    assert kernel.path.name == f"{kernel.name}.py"
    assert len(kernel.sizes) == 4
    assert list(kernel.sizes) == sorted(set(kernel.sizes))
    assert corpus.load(kernel.name) == kernel


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_naive_kernel_lifts_into_the_ir(kernel: corpus.CorpusKernel) -> None:
    lifted = frontend.lift_function(kernel.path.read_text(), str(kernel.path), kernel.name)
    assert lifted.name == kernel.name
    assert [p.name for p in lifted.params] == list(inspect.signature(kernel.function).parameters)
    assert contains_loop(lifted.body)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_naive_kernel_matches_reference_at_smallest_size(kernel: corpus.CorpusKernel) -> None:
    args = kernel.inputs(kernel.sizes[0])
    before = _copies(args)
    reference_args = _copies(args)
    got = kernel.function(*args)
    assert_matches(got, kernel.reference(*reference_args))
    names = inspect.signature(kernel.function).parameters
    for name, arg, was, reference_arg in zip(names, args, before, reference_args, strict=True):
        if name in kernel.mutates:  # the documented contract: this argument is the output
            assert not np.array_equal(arg, was), f"{name} is documented as updated but did not change"
            assert_matches(arg, reference_arg)
        else:
            assert _same_arguments((arg,), (was,)), f"the naive kernel modified its argument {name}"
            assert _same_arguments((reference_arg,), (was,)), f"the reference modified {name}"


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_inputs_are_deterministic(kernel: corpus.CorpusKernel) -> None:
    size = kernel.sizes[0]
    assert _same_arguments(kernel.inputs(size), kernel.inputs(size))


def _result_kinds(result: object) -> set[str]:
    if isinstance(result, tuple):
        return set().union(*(_result_kinds(r) for r in result))
    if result is None:
        return set()
    dtype = np.asarray(result).dtype
    return {dtype.name if dtype.kind == "f" else dtype.kind}


def test_corpus_covers_float32_and_integer_kernels_and_in_place_updates() -> None:
    kinds = set()
    for kernel in KERNELS:
        kinds |= _result_kinds(kernel.function(*kernel.inputs(kernel.sizes[0])))
    assert {"float64", "float32", "i"} <= kinds
    assert any(kernel.mutates for kernel in KERNELS)


def test_unknown_kernel_names_the_corpus() -> None:
    with pytest.raises(KeyError, match="gemm"):
        corpus.load("no_such_kernel")


# ---- the bundled examples against bench/experts.py ---------------------------------------------------------

EXAMPLES = _import(ROOT / "examples" / "kernels.py", "optc_test_examples")
EXPERTS = _import(ROOT / "bench" / "experts.py", "optc_test_experts")
BENCH = _import(ROOT / "bench" / "run.py", "optc_test_bench_run")
EXAMPLE_NAMES = [name for name, _ in BENCH.public_functions(EXAMPLES)]


def test_every_example_has_an_expert_and_a_benchmark_case() -> None:
    assert {"gemm", "matvec_cols", "jacobi2d"} <= set(EXAMPLE_NAMES)
    for name in EXAMPLE_NAMES:
        assert callable(getattr(EXPERTS, name, None)), f"bench/experts.py lacks {name}"
        assert name in BENCH.CASES, f"bench/run.py has no case for {name}"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_matches_its_expert(name: str) -> None:
    case = BENCH.CASES[name]
    for size in (case.quick_small, case.small // 2):
        args = case.arguments(name, size)
        before = _copies(args)
        got = getattr(EXAMPLES, name)(*args)
        assert _same_arguments(args, before), "the example modified its arguments"
        assert_matches(got, getattr(EXPERTS, name)(*args))
