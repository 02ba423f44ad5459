"""Property tests over real kernels (the corpus and the bundled examples), run by CPython:

- lower(lift(f)) computes exactly what f computes;
- every variant the e-graph extracts (not only the one that ships) computes what f computes:
  bit for bit when its derivation is exact, within the float policy when it reassociates.

This is the cheap, always-on half of the differential safety net; verify.py checks the
compiled winner in a subprocess.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType

import numba
import numpy as np
import pytest

from optcompiler import corpus, frontend
from optcompiler.analysis import all_names, analyze, contains_loop
from optcompiler.config import Config
from optcompiler.decorator import type_hint
from optcompiler.ir import Kernel, Term, lower_function
from optcompiler.passes import PassContext, all_rules
from optcompiler.pipeline import explore

ROOT = Path(__file__).resolve().parents[1]


def _examples() -> list[tuple[str, ModuleType, str, tuple]]:
    spec = importlib.util.spec_from_file_location("optc_examples_kernels", ROOT / "examples" / "kernels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(7)
    args = {
        "gemm": (rng.random((9, 7)), rng.random((7, 5))),
        "matvec_cols": (rng.random((9, 7)), rng.random(7)),
        "jacobi2d": (rng.random((9, 8)),),
        "blur": (rng.random((9, 8)), 0.3),
        "moving_average": (rng.random(20), 4),
        "sum_squares": (rng.random(20),),
    }
    return [(name, module, name, a) for name, a in args.items()]


def _corpus() -> list[tuple[str, ModuleType, str, tuple]]:
    return [(k.name, k.module, k.name, k.inputs(min(k.sizes))) for k in corpus.load_all()]


CASES = _examples() + _corpus()


def _kernel(module: ModuleType, name: str) -> Kernel:
    path = module.__file__
    return frontend.lift_function(Path(path).read_text(), path, name)


def _reassociating_rules(kernel: Kernel, facts) -> set[str]:
    """Names of the rules tagged `reassoc` (allowed to reorder float sums, within the tolerance)."""
    ctx = PassContext(facts=facts, root=0, names=frozenset(all_names(kernel.body)))
    return {r.name for r in all_rules(ctx) if r.safety == "reassoc"}


def _run(module: ModuleType, kernel: Kernel, body: Term, args: tuple):
    namespace = dict(vars(module))
    namespace.setdefault("numba", numba)
    exec(lower_function("_variant", kernel.params, body), namespace)
    fresh = copy.deepcopy(args)
    return namespace["_variant"](*fresh), fresh


def _same(a, b, exact: bool) -> bool:
    if isinstance(a, tuple):
        return (
            isinstance(b, tuple)
            and len(a) == len(b)
            and all(_same(x, y, exact) for x, y in zip(a, b, strict=True))
        )
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if exact or a.dtype.kind not in "fc":
        return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
    return bool(np.all(np.abs(a - b) <= 1e-9 * scale))


@pytest.mark.parametrize("name,module,func,args", CASES, ids=[c[0] for c in CASES])
def test_round_trip_and_every_variant_compute_the_same(name, module, func, args) -> None:
    kernel = _kernel(module, func)
    expected, expected_args = _run(module, kernel, kernel.body, args)
    original = getattr(module, func)(*copy.deepcopy(args))
    assert _same(original, expected, exact=True), "lower(lift(f)) differs from f"
    if not contains_loop(kernel.body):
        return
    # the arguments' own types (float32 arrays included), as the pipeline's dispatcher guards on:
    # a rewrite legal only for float64 data must not be judged on float32 arguments
    hints = {p.name: h for p, a in zip(kernel.params, args, strict=False) if (h := type_hint(a)) is not None}
    facts = analyze(kernel, hints)
    variants, _ = explore(kernel, facts, Config(default_size=64))
    assert variants
    reassociating = _reassociating_rules(kernel, facts)
    for variant in variants:
        exact = not any(step in reassociating for step in variant.derivation)
        got, got_args = _run(module, kernel, variant.body, args)
        assert _same(expected, got, exact), f"variant {variant.derivation} returns something else"
        assert _same(expected_args, got_args, exact), (
            f"variant {variant.derivation} mutates arguments differently"
        )
