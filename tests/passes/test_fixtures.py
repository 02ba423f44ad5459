"""Snapshot fixtures for every pass: `tests/passes/<pass>/<case>/input.py` → `expected.py`.

Each case runs one pass alone through saturation, extraction and the analytic ranking, lowers
the winner, and compares it with `expected.py`. `refuse_*` cases expect no rule of the pass to
fire and the code unchanged. Every case is also run differentially (input vs expected, on
generated inputs: within the default float policy's tolerance when the derivation holds a rule
the registry tags `reassoc`, bit for bit otherwise), so a snapshot can never approve a wrong
rewrite. Regenerate with OPTC_UPDATE_FIXTURES=1.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import libcst as cst
import pytest

from optcompiler import frontend, verify
from optcompiler.analysis import KernelFacts, all_names, analyze
from optcompiler.config import Config
from optcompiler.ir import Term, lift, lower_function
from optcompiler.passes import REGISTRY, PassContext, all_rules
from optcompiler.pipeline import explore, rank

HERE = Path(__file__).parent
CASES = sorted(p.parent for p in HERE.glob("*/*/input.py"))
UPDATE = os.environ.get("OPTC_UPDATE_FIXTURES") == "1"
# sizes for the analytic ranking: large enough that memory behaviour decides
CONFIG = Config(sizes=(("n", 2000), ("m", 2000), ("p", 2000)), default_size=2000)


def _config_for(source: str) -> Config:
    """`# sizes: n=10000000` in input.py sets the size profile the ranking predicts for."""
    for line in source.splitlines():
        if line.startswith("# sizes:"):
            pairs = [item.split("=") for item in line.removeprefix("# sizes:").split(",")]
            return Config(
                sizes=tuple((k.strip(), int(v)) for k, v in pairs), default_size=CONFIG.default_size
            )
    return CONFIG


def _pass_module(name: str):
    return importlib.import_module(f"optcompiler.passes.{name}")


def _run_case(case: Path) -> tuple[str, str, object]:
    source = (case / "input.py").read_text()
    module = frontend.parse(source, str(case / "input.py"))
    (site,) = [s for s in frontend.find_kernels(module, str(case)) if s.skip_reason is None]
    kernel = lift(site.node, str(case / "input.py"), module, site.line)
    facts = analyze(kernel)
    config = _config_for(source)
    variants, report = explore(kernel, facts, config, passes=[_pass_module(case.parent.name)])
    best, _ = rank(variants, facts, config, _hardware())[0]
    body = best.variant.body
    new_def = lower_function(kernel.name, kernel.params, body, kernel.docstring, returns=kernel.returns)
    prefix = source[: source.index("def ")]
    if "numba." in new_def and "import numba\n" not in prefix:
        prefix = prefix.replace("import numpy as np\n", "import numba\nimport numpy as np\n", 1)
    return prefix + new_def, kernel.name, (best, report, facts)


def _hardware():
    from optcompiler.costmodel.hardware import detect

    return detect()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_fixture(case: Path) -> None:
    output, name, (best, report, facts) = _run_case(case)
    expected_path = case / "expected.py"
    if case.name.startswith("refuse_"):
        assert not best.variant.derivation, f"{case.name}: expected no rewrite, got {best.variant.derivation}"
        fired = {rule: n for rule, n in report.fired if n and rule.startswith(case.parent.name + ".")}
        assert not fired, f"{case.name}: rules of the pass fired: {fired}"
    if UPDATE or not expected_path.exists():
        expected_path.write_text(output)
    assert output == expected_path.read_text()
    reassoc = _reassociating_rules(facts, best.variant.body) & set(best.variant.derivation)
    _assert_same_results(case, name, facts, strict=not reassoc)


def _reassociating_rules(facts: KernelFacts, body: Term) -> set[str]:
    """Names of the registry's rules tagged `reassoc`: their variants are compared within the
    default float policy's tolerance, every other variant bit for bit."""
    ctx = PassContext(facts=facts, root=0, names=frozenset(all_names(body)))
    return {r.name for r in all_rules(ctx, REGISTRY, preview=True) if r.safety == "reassoc"}


def _assert_same_results(case: Path, name: str, facts, strict: bool) -> None:
    expected_source = (case / "expected.py").read_text()
    input_source = (case / "input.py").read_text()
    module = cst.parse_module(expected_source)
    func = next(n for n in module.body if isinstance(n, cst.FunctionDef) and n.name.value == name)
    renamed = module.code_for_node(func.with_changes(name=cst.Name("_expected"), decorators=()))
    prelude = "".join(
        line + "\n" for line in input_source.splitlines() if line.startswith(("import ", "from "))
    )
    results = verify.verify_candidates(
        prelude="import numba\n" + prelude,
        original_source=input_source[input_source.index("def ") :],
        original_name=name,
        candidates=[verify.CandidateSource("expected", renamed, "_expected")],
        args=[(p, t) for p, t in facts.arg_types.items()],
        policy=verify.FloatPolicy(strict=strict),
        timeout=60,
    )
    assert results and results[0].ok, (
        f"{case}: expected.py computes something else: {results[0].reason if results else '?'}"
    )


def test_every_pass_has_fixtures_and_docs() -> None:
    for module in REGISTRY:
        name = module.__name__.rsplit(".", 1)[1]
        doc = module.__doc__ or ""
        for section in ("What", "Why faster", "Legal when", "Refuses when", "Float safety"):
            assert f"\n{section}\n" in doc, f"passes/{name}.py docstring lacks the '{section}' section"
        cases = [c.name for c in CASES if c.parent.name == name]
        assert any(c.startswith("refuse_") for c in cases), f"passes/{name}.py has no refuse_* fixture"
        assert any(not c.startswith("refuse_") for c in cases), f"passes/{name}.py has no applying fixture"
