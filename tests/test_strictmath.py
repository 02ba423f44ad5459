"""The checked `math` helpers raise exactly where CPython's `math` does, and compute the same values."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

from optcompiler import strictmath
from optcompiler.frontend import lift_function
from optcompiler.ir import Term, const, var

EDGES = (
    -math.inf,
    -710.0,
    -2.0,
    -1.0,
    -0.5,
    -0.0,
    0.0,
    0.5,
    1.0,
    2.0,
    710.0,
    1e308,
    math.inf,
    math.nan,
    3,
    -3,
)


def _outcome(func, x):
    try:
        return ("value", func(x))
    except (ValueError, OverflowError) as error:
        return ("raises", type(error).__name__, str(error))


@pytest.mark.parametrize("name", sorted(strictmath.CHECKS))
def test_each_helper_matches_cpython_on_edge_values(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"helper_{name}.py"  # njit(cache=True) needs a real file
    path.write_text("import math\nimport numba\n\n\n" + strictmath.helper_source(name))
    spec = importlib.util.spec_from_file_location(f"optc_test_helper_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    helper = getattr(module, strictmath.helper_name(name))
    reference = getattr(math, name)
    for x in EDGES:
        want, got = _outcome(reference, x), _outcome(helper, x)
        if name in ("floor", "ceil", "trunc") and math.isfinite(x) and abs(x) >= 2.0**63:
            # CPython's exact big int has no int64 form: an error, never a wrapped-around value
            assert got[:2] == ("raises", "OverflowError"), (name, x, got)
            continue
        if want[0] == "value" and got[0] == "value" and math.isnan(want[1]):
            assert math.isnan(got[1]), (name, x, got)
        else:
            assert got == want, (name, x)


def test_plain_numba_differs_which_is_why_the_helpers_exist() -> None:
    assert math.isnan(numba.njit(lambda x: math.sqrt(x))(-1.0))
    with pytest.raises(ValueError):
        math.sqrt(-1.0)


def test_imports_name_the_math_module_and_its_functions() -> None:
    prelude = "import math\nimport math as m\nfrom math import sqrt, log as ln, pi\nimport numpy as np\n"
    assert strictmath.math_names(prelude) == {"math": "math", "m": "math", "sqrt": "sqrt", "ln": "log"}
    assert strictmath.math_names("def broken(:\n") == {}


def _call(callee: Term, *args: Term) -> Term:
    return Term("call", (callee, *args))


def test_calls_are_routed_unless_a_local_name_shadows_the_import() -> None:
    names = {"math": "math", "ln": "log"}
    sqrt_x = _call(Term("attr", (var("math"),), "sqrt"), var("x"))
    ln_x = _call(var("ln"), var("x"))
    hypot = _call(Term("attr", (var("math"),), "hypot"), var("x"), const(1.0))  # no domain error
    body = Term("seq", (Term("return", (Term("tuple", (sqrt_x, ln_x, hypot)),)),))
    routed, used = strictmath.checked_calls(body, names, frozenset({"x"}))
    assert used == ("log", "sqrt")
    assert _call(var("_optc_math_sqrt"), var("x")) in routed.walk()
    assert _call(var("_optc_math_log"), var("x")) in routed.walk()
    assert hypot in routed.walk()
    same, none = strictmath.checked_calls(body, names, frozenset({"x", "ln", "math"}))
    assert (same, none) == (body, ())


# ---- flag helpers: prange loops stay parallel ------------------------------------------------------------


def _load(path: Path, text: str, name: str):
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(strictmath.CHECKS))
def test_each_flag_helper_marks_exactly_where_the_checked_one_raises(name: str, tmp_path: Path) -> None:
    """Same conditions (one table), same value where neither stops: the flag helper returns
    Numba's value and marks the flags where the checked helper raises."""
    text = "\n\n".join(
        [
            "import math\nimport numba\nimport numpy\n",
            *strictmath.helpers_source([name], [name]),
            f"@numba.njit\ndef flagged(x):\n    bad = {strictmath.ALLOCATE}()\n"
            f"    r = {strictmath.flag_helper_name(name)}(x, bad)\n    return r, bad[0]\n",
        ]
    )
    module = _load(tmp_path / f"flag_{name}.py", text, f"optc_test_flag_{name}")
    checked = getattr(module, strictmath.helper_name(name))
    for x in EDGES:
        got, bad = module.flagged(x)
        want = _outcome(checked, x)
        assert bool(bad) == (want[0] == "raises"), (name, x, want)
        if want[0] == "value":
            assert got == want[1] or (math.isnan(got) and math.isnan(want[1])), (name, x, got, want)
    assert strictmath.flag_helper_name(name) != strictmath.helper_name(name)


def _prange_loop(body: Term) -> Term:
    return Term("for", (var("i"), const(0), var("n"), const(1), body), "prange")


def test_parallel_calls_flag_the_prange_loops_calls_and_check_after_it() -> None:
    names = {"math": "math"}
    sqrt_x = _call(Term("attr", (var("math"),), "sqrt"), Term("index", (var("x"), var("i"))))
    store = Term("assign", (Term("index", (var("out"), var("i"))), sqrt_x))
    serial = Term("assign", (var("t"), _call(Term("attr", (var("math"),), "exp"), var("t"))))
    outer = Term(
        "for", (var("s"), const(0), var("m"), const(1), Term("seq", (_prange_loop(Term("seq", (store,))),)))
    )
    body = Term("seq", (serial, outer))
    routed, flagged = strictmath.parallel_calls(body, names, frozenset({"x", "out", "n", "m", "t", "i", "s"}))
    assert flagged == ("sqrt",)
    allocate, kept, loop = routed.args
    assert allocate == Term("assign", (var(strictmath.FLAGS), _call(var(strictmath.ALLOCATE))))
    assert kept == serial  # outside a prange: left to `checked_calls`, which raises
    loop_body = loop.args[4]
    flag_call = _call(var("_optc_math_sqrt_flag"), Term("index", (var("x"), var("i"))), var(strictmath.FLAGS))
    assert flag_call in loop_body.walk() and sqrt_x not in loop_body.walk()
    # the check follows the prange loop inside the outer loop, once per parallel run
    assert loop_body.args[0].value == "prange"
    assert loop_body.args[1] == Term("expr", (_call(var(strictmath.CHECK), var(strictmath.FLAGS)),))
    assert strictmath.parallel_calls(Term("seq", (serial,)), names, frozenset({"t"})) == (
        Term("seq", (serial,)),
        (),
    )


RBF = """
import math

import numpy as np


def rbf(x, out, gamma: float):
    for i in range(x.shape[0]):
        out[i] = math.exp(-gamma * x[i]) + math.sqrt(x[i])


def rbf_local(X: np.ndarray, Y: np.ndarray, gamma: float) -> np.ndarray:
    n = X.shape[0]
    m = Y.shape[0]
    K = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(X.shape[1]):
                t = X[i, k] - Y[j, k]
                s += t * t
            K[i, j] = math.exp(-gamma * s) / math.sqrt(gamma - s)
    return K
"""


def _prange_variant_source(flags: bool) -> str:
    from optcompiler.ir import Candidate, Target, Variant
    from optcompiler.pipeline import variant_source

    kernel = lift_function(RBF, "k.py", "rbf")
    loop = kernel.body.args[0]
    body = Term("seq", (Term("for", loop.args, "prange"),))
    candidate = Candidate(Variant("rbf", body, ("parallel.prange",)), Target("njit-parallel"))
    return variant_source(
        kernel, candidate, name="_probe", math_names=strictmath.math_names(RBF), parallel_flags=flags
    )


@pytest.mark.parametrize("flags", [True, False])
def test_numba_runs_the_flagged_prange_in_parallel(flags: bool, tmp_path: Path) -> None:
    """With flag helpers Numba makes the prange a parallel loop and warns nothing; with the raising
    helpers it runs the loop serially ("will not be executed in parallel"), which is why."""
    source = _prange_variant_source(flags)
    assert (strictmath.ALLOCATE in source) == flags
    text = "\n".join(["import numba", *strictmath.imports(source), "", "", source])
    module = _load(tmp_path / f"probe_{flags}.py", text, f"optc_test_probe_{flags}")
    x, out = np.linspace(0.0, 2.0, 64), np.empty(64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module._probe(x, out, 0.5)
    np.testing.assert_allclose(out, np.exp(-0.5 * x) + np.sqrt(x))
    serial = [w for w in caught if "parallel" in str(w.message) or "Parallel" in type(w.message).__name__]
    overload = module._probe.overloads[module._probe.signatures[0]]
    loops = [p for p in overload.metadata["parfor_diagnostics"].get_parfors() if "_optc_bad" not in str(p)]
    if flags:
        assert not serial, [str(w.message) for w in serial]
        assert any(len(p.loop_nests) == 1 for p in loops)  # the prange loop became a parfor
        with pytest.raises(ArithmeticError, match="re-run as written"):
            module._probe(-x, out, 0.5)  # sqrt of a negative: flagged, raised after the loop
    else:
        assert any("will not be executed in parallel" in str(w.message) for w in serial)


def test_a_prange_kernel_raises_and_computes_as_cpython_through_the_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """End to end: the emitted module's parallel variant (flag helpers, ArithmeticError after the
    loop) returns what CPython returns, and on a domain error the dispatcher runs the original,
    which raises CPython's ValueError. The ranking is held to parallel candidates: on a 2-core
    machine the model would rank them last."""
    from optcompiler import pipeline
    from optcompiler.config import Config

    real = pipeline.rank

    def parallel_only(*args, **kwargs):
        return [cs for cs in real(*args, **kwargs) if cs[0].target.parallel]

    monkeypatch.setattr(pipeline, "rank", parallel_only)
    config = Config(sizes=(("n", 40), ("m", 40)), default_size=16, exclude=("rbf",))
    out = pipeline.optimize_source(RBF.replace("gamma - s", "gamma + s"), "rbf_mod.py", config)
    (result,) = [k for k in out.kernels if k.kernel == "rbf_local"]
    assert isinstance(result, pipeline.Emitted), pipeline.describe(result)
    assert result.candidate.target.parallel
    assert "_optc_math_exp_flag(" in result.source and "_optc_math_sqrt_flag(" in result.source
    assert result.retry_original == strictmath.RETRY
    assert "import numpy\n" in out.output  # the flags helper spells numpy in full; the module says np
    module = _load(tmp_path / "rbf_fast.py", out.output, "optc_test_rbf_fast")
    original = _load(tmp_path / "rbf_orig.py", RBF.replace("gamma - s", "gamma + s"), "optc_test_rbf_orig")
    rng = np.random.default_rng(5)
    X, Y = rng.random((30, 4)), rng.random((20, 4))
    np.testing.assert_allclose(module.rbf_local(X, Y, 0.25), original.rbf_local(X, Y, 0.25), rtol=1e-12)
    for gamma in (-1.0, -1000.0):  # gamma + s < 0 somewhere; exp(-gamma * s) overflows at some s
        with pytest.raises((ValueError, OverflowError)) as want:
            original.rbf_local(X, Y, gamma)  # CPython's math raises
        with pytest.raises((ValueError, OverflowError)) as got:
            module.rbf_local(X, Y, gamma)
        assert (type(got.value), str(got.value)) == (type(want.value), str(want.value))
    X[3, 1] = -np.inf  # an infinite distance: exp(-inf) = 0.0 and sqrt(inf), no error in either
    np.testing.assert_allclose(module.rbf_local(X, Y, 0.25), original.rbf_local(X, Y, 0.25), rtol=1e-12)


def test_the_ranking_costs_a_prange_with_raising_helpers_as_serial() -> None:
    """A kernel that writes an argument keeps the raising helpers (running the original again
    would not be exact), so Numba runs its prange serially: the ranking predicts it so
    (`pipeline.as_compiled`). A kernel the dispatcher may re-run gets flag helpers: parallel."""
    from optcompiler.analysis import analyze
    from optcompiler.config import Config
    from optcompiler.costmodel.hardware import Hardware
    from optcompiler.pipeline import explore, rank

    host = Hardware("test", 16, 48 * 1024, 2 * 2**20, 32 * 2**20, 64, 2.5, 60.0, None)
    names = strictmath.math_names(RBF)
    for name, rerun in (("rbf", False), ("rbf_local", True)):
        kernel = lift_function(RBF, "k.py", name)
        facts = analyze(kernel)
        config = Config(default_size=100_000 if name == "rbf" else 300)
        variants, _ = explore(kernel, facts, config)
        plain = {id(c.variant): s for c, s in rank(variants, facts, config, host) if c.target.parallel}
        strict = {
            id(c.variant): s for c, s in rank(variants, facts, config, host, names) if c.target.parallel
        }
        assert plain and plain.keys() == strict.keys()
        serial = {v: s for v, s in plain.items() if strict[v] > 2 * s}
        assert bool(serial) == (not rerun), (name, plain, strict)
        if rerun:
            assert strict == plain
