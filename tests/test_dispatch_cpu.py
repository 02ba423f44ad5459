"""The CPU side of the GPU dispatcher (`pipeline.dispatch_cpu_seconds`): the CPU variant costed as
Numba runs the emitted code, where a prange loop calling a checked `math` helper runs serially."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest

from optcompiler import strictmath
from optcompiler.analysis import analyze
from optcompiler.costmodel.hardware import Hardware
from optcompiler.frontend import lift_function
from optcompiler.ir import Candidate, Target, Term, Variant
from optcompiler.pipeline import as_compiled, dispatch_cpu_seconds, variant_source

SOURCE = """
import math

import numpy as np


def rbf(x, out, gamma: float):
    for i in range(x.shape[0]):
        out[i] = math.exp(-gamma * x[i])
    for j in range(x.shape[0]):
        out[j] = out[j] * 2.0


def scale(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]
"""
HOST = Hardware("test", 16, 48 * 1024, 2 * 2**20, 32 * 2**20, 64, 2.5, 60.0, "NVIDIA H100")
NAMES = strictmath.math_names(SOURCE)


def _prange(term: Term) -> Term:
    """Every loop of `term` a prange, as `parallel.prange` rewrites a parallel one."""
    args = tuple(_prange(a) for a in term.args)
    return Term(term.op, args, "prange" if term.op == "for" else term.value)


def _lifted(name: str):
    kernel = lift_function(SOURCE, "k.py", name)
    return kernel, analyze(kernel)


def test_a_prange_calling_a_checked_helper_runs_serially() -> None:
    kernel, facts = _lifted("rbf")
    body = _prange(kernel.body)
    params = frozenset(facts.arg_types)
    compiled, target = as_compiled(body, Target("njit-parallel"), params, NAMES)
    loops = [t for t in compiled.walk() if t.op == "for"]
    # the exp loop runs as range; the other stays a prange, so the function stays parallel
    assert [t.value for t in loops] == ["range", "prange"]
    assert target == Target("njit-parallel")
    # no checked calls without the module's math imports; nothing to do on a serial target
    assert as_compiled(body, Target("njit-parallel"), params, {}) == (body, Target("njit-parallel"))
    assert as_compiled(body, Target("njit"), params, NAMES) == (body, Target("njit"))


def test_no_prange_left_is_costed_as_njit() -> None:
    kernel, facts = _lifted("rbf")
    first = _prange(kernel.body.args[0])
    body = Term("seq", (first,))
    compiled, target = as_compiled(body, Target("njit-parallel"), frozenset(facts.arg_types), NAMES)
    assert target == Target("njit") and compiled.args[0].value == "range"
    candidate = Candidate(Variant("rbf", body, ("parallel.prange",)), Target("njit-parallel"))
    sizes = {next(iter(facts.size_symbols)): 1_000_000}
    parallel = dispatch_cpu_seconds(candidate, facts, HOST, None, 1000)(sizes)
    serial = dispatch_cpu_seconds(candidate, facts, HOST, None, 1000, NAMES)(sizes)
    assert serial > 4 * parallel  # 16 cores' worth of speed-up taken back


def test_a_prange_without_checked_calls_is_unchanged() -> None:
    kernel, facts = _lifted("scale")
    body = _prange(kernel.body)
    assert as_compiled(body, Target("njit-parallel"), frozenset(facts.arg_types), NAMES) == (
        body,
        Target("njit-parallel"),
    )


def test_numba_does_run_such_a_prange_serially() -> None:
    """What the rule stands on: Numba warns that the prange of the emitted variant (its checked
    exp helper raises) will not run in parallel."""
    kernel, _ = _lifted("rbf")
    candidate = Candidate(
        Variant("rbf", Term("seq", (_prange(kernel.body.args[0]),)), ("parallel.prange",)),
        Target("njit-parallel"),
    )
    source = variant_source(kernel, candidate, name="_probe", math_names=NAMES)
    source = source.replace("cache=True, ", "").replace("(cache=True)", "()")  # nothing to cache from exec
    space: dict[str, object] = {"math": __import__("math"), "np": np, "numba": numba}
    exec(compile("import math\nimport numba\n" + source, "<variant>", "exec"), space)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        space["_probe"](np.ones(64), np.empty(64), 0.5)  # type: ignore[operator]
    assert any("will not be executed in parallel" in str(w.message) for w in caught)


if __name__ == "__main__":
    pytest.main([__file__])
