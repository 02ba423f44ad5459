"""Rule learning: anti-unification sites, generalisation, checks on fresh instances, the library."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from optcompiler.analysis import all_names, analyze
from optcompiler.frontend import lift_function
from optcompiler.ir import Term, const, seq, var
from optcompiler.llm import learn
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, Limits, parse_pattern, run
from optcompiler.passes.llm import LearnedRules, to_rewrite

PRELUDE = "import numpy as np\n"

QUADRATIC = """
def prefix_sum(x):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(i + 1):
            s += x[j]
        out[i] = s
    return out
"""

LINEAR = """
def prefix_sum(x):
    n = x.shape[0]
    out = np.zeros(n)
    s = 0.0
    for i in range(n):
        s += x[i]
        out[i] = s
    return out
"""

# the same computation in another kernel: other names, other code around it
SIMILAR = """
def running_totals(values, scale):
    m = len(values)
    totals = np.zeros(m)
    for k in range(m):
        acc = 0.0
        for t in range(k + 1):
            acc += values[t]
        totals[k] = acc
    return totals * scale
"""


def _kernel(source: str):
    return lift_function(PRELUDE + source, "k.py")


def _learned(tmp_path: Path | None = None) -> learn.Candidate:
    kernel = _kernel(QUADRATIC)
    (site,) = learn.enclosing_sites(kernel.body, _kernel(LINEAR).body)[:1]
    candidate = learn.generalize(kernel, analyze(kernel), site, {"model": "m", "kernel": "prefix_sum"})
    assert isinstance(candidate, learn.Candidate)
    return candidate


# ---- sites ---------------------------------------------------------------------------------------


def test_site_is_the_one_statement_that_changed() -> None:
    original, suggested = _kernel(QUADRATIC).body, _kernel(LINEAR).body
    site = learn.find_site(original, suggested)
    assert site is not None
    assert site.original == original.args[2]  # the loop nest
    assert site.suggested == Term("seq", suggested.args[2:4])  # `s = 0.0` and the single loop


def test_site_descends_through_a_common_context() -> None:
    a = seq(Term("assign", (var("y"), Term("mul", (var("x"), const(2))))), Term("return", (var("y"),)))
    b = seq(Term("assign", (var("y"), Term("add", (var("x"), var("x"))))), Term("return", (var("y"),)))
    sites = learn.enclosing_sites(a, b)
    assert sites[0].original == Term("mul", (var("x"), const(2)))
    assert sites[1].original == a.args[0]  # then the statement around it


def test_no_site_for_scattered_changes_or_equal_bodies() -> None:
    a = seq(Term("assign", (var("y"), const(1))), Term("assign", (var("z"), const(2))))
    b = seq(Term("assign", (var("y"), const(3))), Term("assign", (var("z"), const(4))))
    assert learn.find_site(a, b) is None
    assert learn.find_site(a, a) is None


# ---- generalisation ----------------------------------------------------------------------------------


def test_generalisation_abstracts_kernel_names_only() -> None:
    rule = _learned().rule
    assert "?x" in rule.lhs and "?out" in rule.lhs and "?s" in rule.lhs and "var:" not in rule.lhs
    assert dict(rule.kinds) == {
        "i": "int",
        "j": "int",
        "n": "int",
        "out": "array",
        "s": "float",
        "x": "array",
    }
    assert dict(rule.dtypes) == {"x": "float64/1"}
    assert set(rule.dead) == {"i", "j", "s"}  # written by the site, unused elsewhere in the kernel
    parse_pattern(rule.lhs)
    parse_pattern(rule.rhs)


def test_pattern_text_round_trips_through_the_pattern_parser() -> None:
    body = _kernel(SIMILAR).body
    for stmt in body.args:
        text = learn.pattern_text(stmt, set())
        assert parse_pattern(text).text == text
    assert learn.pattern_text(const(1e-5), set()) == "1e-05"
    assert learn.pattern_text(Term("call", (Term("attr", (var("np"),), "zeros"), var("n"))), {"n"}) == (
        "(call (attr:zeros var:np) ?n)"
    )


def test_a_rewrite_that_reads_other_kernel_names_is_not_learned() -> None:
    kernel = _kernel(QUADRATIC)
    suggested = _kernel(QUADRATIC.replace("s = 0.0", "s = x[0] * 0.0 + n * 0.0")).body
    site = learn.find_site(kernel.body, suggested)
    assert site is not None and site.original.op == "const"
    # (s = 0.0 → an expression of x and n: n and x are not in the replaced code `0.0`)
    result = learn.generalize(kernel, analyze(kernel), site, {})
    assert isinstance(result, str) and "reads" in result


# ---- applying a learned rule ----------------------------------------------------------------------------


def _saturate(source: str, rules: tuple[learn.LearnedRule, ...]) -> tuple[EGraph, object, int]:
    kernel = _kernel(source)
    facts = analyze(kernel)
    egraph = EGraph()
    root = egraph.add_term(kernel.body)
    ctx = PassContext(facts, root, frozenset(all_names(kernel.body) | {p.name for p in kernel.params}))
    report = run(egraph, LearnedRules(rules, kernel.body).rules(ctx), Limits())
    return egraph, report, root


def test_learned_rule_fires_on_a_similar_kernel() -> None:
    rule = _learned().rule
    egraph, report, _ = _saturate(SIMILAR, (rule,))
    assert dict(report.fired) == {rule.name: 1}
    expected = _kernel(
        SIMILAR.replace(
            "    for k in range(m):\n        acc = 0.0\n        for t in range(k + 1):\n            acc += values[t]\n",
            "    acc = 0.0\n    for k in range(m):\n        acc += values[k]\n",
        )
    ).body
    loop = _kernel(SIMILAR).body.args[2]
    assert egraph.find(egraph.add_term(loop)) == egraph.find(egraph.add_term(Term("seq", expected.args[2:4])))


@pytest.mark.parametrize(
    ("source", "why"),
    [
        (SIMILAR.replace("return totals * scale", "return totals * acc"), "acc is read after the site"),
        (SIMILAR.replace("acc += values[t]", "acc += totals[t]"), "one array both read and written"),
        (SIMILAR.replace("acc = 0.0", "acc = 0"), "an int accumulator"),
    ],
)
def test_learned_rule_refuses(source: str, why: str) -> None:
    _, report, _ = _saturate(source, (_learned().rule,))
    assert dict(report.fired) == {}, why


def test_rules_of_another_float_policy_and_unreadable_entries_are_dropped() -> None:
    rule = replace(_learned().rule, safety="reassoc")
    kernel = _kernel(SIMILAR)
    ctx = PassContext(analyze(kernel), 0, frozenset(), allow_reassoc=False)
    from optcompiler.passes import all_rules

    assert all_rules(ctx, [LearnedRules((rule,), kernel.body)]) == []
    broken = replace(rule, name="llm.learned.broken", lhs="(for:range ?i", safety="exact")
    assert LearnedRules((broken,), kernel.body).rules(ctx) == []


# ---- checks on fresh instances (these start the differential tester) ------------------------------------


def test_check_accepts_the_linear_prefix_sum_as_exact() -> None:
    safety, reason = learn.check(_learned(), PRELUDE, timeout=60)
    assert safety == "exact", reason


def test_check_rejects_a_rewrite_that_needs_its_context() -> None:
    # `out[i] = s` is `out[i] += s` only where `out` was zero before: true in the learning kernel
    # (np.zeros), false in general, and the check runs the site alone on random `out`.
    kernel = _kernel(QUADRATIC.replace("out[i] = s", "out[i] += s"))
    suggested = _kernel(LINEAR).body
    site = learn.find_site(kernel.body, suggested)
    assert site is not None
    candidate = learn.generalize(kernel, analyze(kernel), site, {})
    assert isinstance(candidate, learn.Candidate)
    safety, reason = learn.check(candidate, PRELUDE, timeout=60)
    assert safety is None and "differs" in reason


def test_check_tags_a_reordered_sum_reassoc() -> None:
    forward = "def total(x):\n    n = x.shape[0]\n    s = 0.0\n    for i in range(n):\n        s += x[i]\n    return s\n"
    backward = forward.replace(
        "for i in range(n):\n        s += x[i]", "for i in range(n):\n        s += x[n - 1 - i]"
    )
    kernel = _kernel(forward)
    sites = learn.enclosing_sites(kernel.body, _kernel(backward).body)
    # `x[i]` → `x[n - 1 - i]` reads n, which the replaced code does not: the loop is the site
    results = [learn.generalize(kernel, analyze(kernel), site, {}) for site in sites]
    assert isinstance(results[0], str)
    candidate = next(r for r in results if isinstance(r, learn.Candidate))
    assert candidate.site.original.op == "for"
    safety, reason = learn.check(candidate, PRELUDE, timeout=60)
    assert safety == "reassoc", reason


# ---- the library ---------------------------------------------------------------------------------------


def test_library_round_trip(tmp_path: Path) -> None:
    rule = _learned().rule
    path = tmp_path / "sub" / "rules.json"
    assert learn.save_rule(path, rule)
    assert not learn.save_rule(path, rule)  # already there
    assert learn.load_library(path) == (rule,)


def test_unreadable_library_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    assert learn.load_library(path) == ()
    path.write_text("{not json")
    assert learn.load_library(path) == ()
    path.write_text('{"format": 1, "rules": [{"name": "x"}]}')
    assert learn.load_library(path) == ()


def test_to_rewrite_checks_variables() -> None:
    rule = replace(_learned().rule, rhs="(seq (assign ?zz 0.0))")
    kernel = _kernel(SIMILAR)
    with pytest.raises(ValueError):
        to_rewrite(rule, PassContext(analyze(kernel), 0, frozenset()))


def test_a_tampered_library_cannot_bring_in_new_names() -> None:
    rule = _learned().rule
    evil = replace(rule, rhs=rule.rhs.replace("(assign ?s 0.0)", "(assign ?s (call var:exit))", 1))
    _, report, _ = _saturate(SIMILAR, (evil,))
    assert dict(report.fired) == {}


def test_an_expression_rewrite_is_learned_at_its_smallest_site_and_fires_elsewhere() -> None:
    base = "def scale(x, y):\n    n = x.shape[0]\n    for i in range(n):\n        y[i] = x[i] * 2.0\n"
    kernel = _kernel(base)
    site = learn.find_site(kernel.body, _kernel(base.replace("x[i] * 2.0", "x[i] + x[i]")).body)
    assert site is not None and site.original.op == "mul"
    candidate = learn.generalize(kernel, analyze(kernel), site, {})
    assert isinstance(candidate, learn.Candidate)
    assert candidate.rule.lhs == "(mul (index ?x ?i) 2.0)"
    assert candidate.rule.rhs == "(add (index ?x ?i) (index ?x ?i))"
    safety, reason = learn.check(candidate, PRELUDE, timeout=60)
    assert safety == "exact", reason  # x*2 and x+x are the same IEEE operation
    rule = replace(candidate.rule, safety=safety)
    other = (
        "def shifted(a, b):\n    m = a.shape[0]\n    for k in range(m):\n        b[k] = a[k] * 2.0 - 1.0\n"
    )
    _, report, _ = _saturate(other, (rule,))
    assert dict(report.fired) == {rule.name: 1}


def test_user_and_project_libraries_are_both_read(tmp_path: Path) -> None:
    from optcompiler.llm.settings import LlmConfig
    from optcompiler.llm.suggest import library_paths, load_rules

    config = LlmConfig(cache_dir=str(tmp_path / "user"), rules=str(tmp_path / "project" / "optc-rules.json"))
    user, project = library_paths(config)
    assert user == tmp_path / "user" / "rules.json" and project == tmp_path / "project" / "optc-rules.json"
    rule = _learned().rule
    other = replace(rule, name="llm.learned.other", safety="reassoc")
    learn.save_rule(user, rule)
    learn.save_rule(project, other)
    assert [r.name for r in load_rules(config)] == sorted([rule.name, other.name])
