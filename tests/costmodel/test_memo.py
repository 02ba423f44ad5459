"""What ranking remembers between the candidates of a kernel changes no figure.

`analytic._Builder` copies a loop (or a lowered array statement) that another candidate built in
the same state, and shares footprints and whole top-level nests by that origin; `features._syntax`
sums per-subterm counts. Each must give exactly what building or walking every candidate from
scratch gives: compared here on the variants `explore` makes of corpus kernels, by `repr` (which
tells -0.0 from 0.0) as well as by equality.
"""

from __future__ import annotations

import functools
import gc
import math

import pytest

from optcompiler import corpus, frontend, pipeline
from optcompiler.analysis import analyze as kernel_facts
from optcompiler.config import Config
from optcompiler.costmodel import analytic, features
from optcompiler.ir import ArgType, Term, const, for_range, seq, var
from optcompiler.pipeline import explore

# Loop nests, stencils written with slices, reductions, a while loop, unrolled remainders, a
# triangular nest, views and library calls: kernels whose candidates share statements.
KERNELS = (
    "heat2d32",
    "gemm",
    "correlate2d",
    "cholesky",
    "jacobi2d",
    "softmax_rows",
    "lcs_length",
    "jacobi_converge",
    "power_iteration",
)


@functools.cache
def _variants(name: str, size: int) -> tuple[dict[str, ArgType], dict[str, int], tuple[Term, ...]]:
    ck = corpus.load(name)
    kernel = frontend.lift_function(ck.path.read_text(encoding="utf-8"), str(ck.path), name)
    facts = kernel_facts(kernel)
    config = Config(
        sizes=tuple((d, size) for d in sorted({d for t in facts.arg_types.values() for d in t.dims}))
    )
    variants, _ = explore(kernel, facts, config)
    return dict(facts.arg_types), config.sizes_for(name), (kernel.body, *(v.body for v in variants))


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("size", [8, 300])
def test_shared_statements_change_no_analysis(name: str, size: int) -> None:
    arg_types, sizes, bodies = _variants(name, size)
    memo: dict[object, object] = {}
    for body in bodies:  # in order, each after the others filled the memo
        fresh = analytic._analyze(body, arg_types, sizes, 1000, None)
        shared = analytic._analyze(body, arg_types, sizes, 1000, memo)
        assert shared == fresh
        assert repr(shared) == repr(fresh)
    assert {"for", "stats", "nest"} <= {key[0] for key in memo}  # type: ignore[index]


@pytest.mark.parametrize("name", KERNELS)
def test_syntax_from_subterms_is_the_walk_of_the_body(name: str) -> None:
    arg_types, _, bodies = _variants(name, 300)
    arrays = frozenset(n for n, t in arg_types.items() if t.kind == "array")
    features.clear_caches()
    for body in bodies:
        syntax = features._syntax(body, arrays)
        assert syntax.reductions == features._reduction_kinds(body)
        assert syntax.ops == features._op_mix(body, arrays)
        assert syntax.size == body.size()
        assert syntax.prange == any(t.op == "for" and t.value == "prange" for t in body.walk())


def test_a_loop_is_rebuilt_when_what_it_reads_differs() -> None:
    """The same loop after different locals (a bound, an accumulator's start) is not shared, and a
    shared loop still passes its reads and writes to the enclosing loops (a carried accumulator)."""
    x = ArgType("array", "float64", 1, ("n",))
    loop = for_range(
        "i",
        const(0),
        var("m"),
        const(1),
        seq(Term("augassign", (var("s"), Term("index", (var("x"), var("i")))), "add")),
    )
    outer = lambda m: for_range(  # noqa: E731
        "t", const(0), var("n"), const(1), seq(Term("assign", (var("m"), const(m))), loop)
    )
    bodies = [seq(Term("assign", (var("s"), const(0.0))), outer(m)) for m in (10, 20, 10)]
    memo: dict[object, object] = {}
    results = [analytic._analyze(b, {"x": x}, {"n": 100}, 1000, memo) for b in bodies]
    assert results == [analytic._analyze(b, {"x": x}, {"n": 100}, 1000, None) for b in bodies]
    assert results[0] == results[2] and results[0] != results[1]
    inner = results[2].nests[0].bodies[1]
    assert inner.trips == 10.0 and inner.carried == ("s",)


def test_a_negative_zero_is_another_state() -> None:
    builder = analytic._Builder({}, {}, 1000, python_costs=False, memo={})
    root = builder.build(seq())
    builder.env["z"] = 0.0
    plus = builder.state(root)
    builder.env["z"] = -0.0
    assert builder.state(root) != plus


def test_clearing_the_analysis_cache_forgets_the_statements() -> None:
    arg_types, sizes, bodies = _variants("gemm", 300)
    analytic.clear_analysis_cache()
    analytic.analyze(bodies[0], arg_types, sizes)
    assert analytic._STATEMENT_MEMOS
    analytic.clear_analysis_cache()
    assert not analytic._STATEMENT_MEMOS


@pytest.mark.parametrize("name", KERNELS)
def test_remembered_index_forms_are_the_forms_of_the_state(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_Builder._linear` answers from `_FORMS` by what an index reads of the builder's state (loop
    variables, affine symbols, values of other names): over every candidate at two sizes, sharing
    one memo, it gives what `_linear_form` computes each time."""
    analyses = {}
    for remembered in (True, False):
        if not remembered:
            monkeypatch.setattr(
                analytic._Builder,
                "_linear",
                lambda self, t, loop_vars: analytic._linear_form(t, loop_vars, self.symbols, self.evaluate),
            )
        analytic.clear_analysis_cache()
        analyses[remembered] = [
            analytic._analyze(body, arg_types, sizes, 1000, {})
            for size in (8, 300)
            for arg_types, sizes, bodies in [_variants(name, size)]
            for body in bodies
        ]
        if remembered:
            assert analytic._FORMS
    assert analyses[True] == analyses[False]
    assert repr(analyses[True]) == repr(analyses[False])


def test_a_remembered_form_tells_a_negative_zero() -> None:
    """An index reading a local that is -0.0 in one state and 0.0 in another has two entries."""
    analytic.clear_analysis_cache()
    builder = analytic._Builder({}, {}, 1000, python_costs=False, memo={})
    index = var("z")
    builder.env["z"] = -0.0
    negative = builder._linear(index, frozenset({"i"}))
    builder.env["z"] = 0.0
    positive = builder._linear(index, frozenset({"i"}))
    assert len(analytic._FORMS) == 2
    assert math.copysign(1.0, negative.const) == -1.0  # type: ignore[union-attr]
    assert math.copysign(1.0, positive.const) == 1.0  # type: ignore[union-attr]


def _weighted_size_walk(term: Term) -> float:
    """`pipeline.weighted_size` at depth 0 from scratch: no memo."""
    own = pipeline._OP_COST.get(term.op, 1.0)
    if term.op == "for":
        return (
            own + sum(_weighted_size_walk(a) for a in term.args[:4]) + 4.0 * _weighted_size_walk(term.args[4])
        )
    if term.op == "while":
        return own + 4.0 * _weighted_size_walk(term.args[0]) + 4.0 * _weighted_size_walk(term.args[1])
    return own + sum(_weighted_size_walk(a) for a in term.args)


def _rebuilt(term: Term) -> Term:
    """An equal term of new objects throughout."""
    return Term(term.op, tuple(_rebuilt(a) for a in term.args), term.value)


@pytest.mark.parametrize("name", ["heat2d32", "lcs_length", "jacobi_converge"])
def test_weighted_sizes_remembered_by_structure_and_object(name: str) -> None:
    """The ranking's tie-break size, remembered per subterm by structure and by object, is the walk's,
    for the variants themselves (again: found by object) and for equal copies of new objects."""
    _, _, bodies = _variants(name, 300)
    pipeline._WEIGHTED_SIZES.clear()
    pipeline._WEIGHTED_SIZE_OF.clear()
    for body in (*bodies, *bodies, *(_rebuilt(b) for b in bodies)):
        assert pipeline.weighted_size(body, 2).hex() == (16.0 * _weighted_size_walk(body)).hex()


@pytest.mark.parametrize("name", KERNELS)
def test_both_footprints_in_one_walk(name: str) -> None:
    """A loop's footprints with and without itself, from one walk, are each walk's, bit for bit."""
    arg_types, sizes, bodies = _variants(name, 300)
    loops = 0
    for body in bodies:
        root = analytic._Builder(arg_types, sizes, 1000, python_costs=False).build(body)
        for node in root.subtree():
            if node.kind == "top":
                continue
            loops += 1
            both = analytic._Footprints._compute_both(node)
            alone = (analytic._Footprints._compute(node, False), analytic._Footprints._compute(node, True))
            assert [v.hex() for v in both] == [v.hex() for v in alone]
    assert loops


def test_finished_analyses_leave_no_cyclic_garbage() -> None:
    """A finished analysis drops its trees' upward links, and the index forms and carried chains
    recurse in module functions: what the memos do not keep is freed by reference counting, so
    ranking leaves the cyclic collector no loop nodes nor closures to find."""
    arg_types, sizes, bodies = _variants("heat2d32", 300)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        analytic.clear_analysis_cache()
        for body in bodies:
            analytic.analyze(body, arg_types, sizes)
        analytic.clear_analysis_cache()
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, analytic._Node) or callable(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
