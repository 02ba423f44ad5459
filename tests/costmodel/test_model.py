"""The learned model as the pipeline uses it: optc's tree reader agrees with lightgbm, a model is
found only for this machine's hardware id, and `pipeline.rank` then predicts with it."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from optcompiler import frontend
from optcompiler.analysis import analyze
from optcompiler.config import Config
from optcompiler.costmodel import learned, model
from optcompiler.costmodel.analytic import estimate_seconds
from optcompiler.costmodel.features import FEATURE_VERSION, features
from optcompiler.costmodel.hardware import detect
from optcompiler.pipeline import explore, rank

FAST = {"n_estimators": 12, "num_leaves": 4, "min_child_samples": 2}
COLS = ("cand_rewrites", "ir_term_size", "analytic_log_seconds")

KERNEL = """
import numpy as np

def scale(x):
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        y[i] = x[i] / 4.0 + x[i] * 2.0
    return y
"""


def _tiny(objective: learned.Objective = "regression", columns=COLS) -> learned.LearnedCostModel:
    """More rewrites predicted faster: the opposite of what a tie-break by fewer rewrites does."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 8, size=(200, len(columns)))
    X[::7, 1] = np.nan
    y = 3.0 - 0.8 * np.round(X[:, 0]) + 0.01 * np.nan_to_num(X[:, 1])
    groups = [i // 10 for i in range(len(y))]
    return learned.LearnedCostModel(objective=objective, columns=columns, **FAST).fit(X, y, groups)


@pytest.mark.parametrize("objective", ["regression", "residual", "lambdarank"])
def test_reader_predicts_what_lightgbm_does(tmp_path: Path, objective: learned.Objective) -> None:
    fitted = _tiny(objective)
    path = tmp_path / "m.txt"
    fitted.save(path)
    ours = model.load(path)
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 9, size=(50, len(COLS)))
    X[::3, 0] = np.nan
    X[::5, 1] = 0.0
    X[::4, 2] = np.nan
    assert np.allclose(ours.predict(X), learned.LearnedCostModel.load(path).predict(X), rtol=0, atol=1e-12)
    assert ours.predicts_time == (objective != "lambdarank")


def test_reader_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("tree\nversion=v4\n")
    with pytest.raises(model.ModelError, match=r"m\.txt:1: not an optc learned cost model"):
        model.load(path)
    _tiny().save(path)
    text = path.read_text()
    path.write_text(text.replace(f'"feature_version": {FEATURE_VERSION}', '"feature_version": 999', 1))
    with pytest.raises(model.ModelError, match="feature version 999"):
        model.load(path)
    path.write_text(text.replace("decision_type=2", "decision_type=3", 1))
    with pytest.raises(model.ModelError, match="categorical"):
        model.load(path)


@pytest.fixture
def model_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache and no shipped models: only what the test saves exists."""
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(model, "SHIPPED", tmp_path / "shipped")
    monkeypatch.delenv("OPTC_COST_MODEL", raising=False)
    return model.user_models_dir()


def test_found_only_for_this_hardware_id(model_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hw = detect()
    assert model.find(hw) is None
    _tiny().save(model_dirs / "000000000000.txt")  # another machine's model
    assert model.find(hw) is None
    _tiny().save(model.SHIPPED / f"{hw.id}.txt")
    shipped = model.find(hw)
    assert shipped is not None and shipped.path == model.SHIPPED / f"{hw.id}.txt"
    _tiny().save(model_dirs / f"{hw.id}.txt")  # a calibrated model wins over the shipped one
    found = model.find(hw)
    assert found is not None and found.path == model_dirs / f"{hw.id}.txt"
    monkeypatch.setenv("OPTC_COST_MODEL", "analytic")
    assert model.find(hw) is None


def test_models_the_pipeline_cannot_rank_with_are_skipped(model_dirs: Path) -> None:
    hw = detect()
    _tiny("lambdarank").save(model_dirs / f"{hw.id}.txt")  # an order, not seconds
    assert model.find(hw) is None
    llvm = ("cand_rewrites", "llvm_instructions")  # needs a compiled candidate
    _tiny(columns=llvm).save(model_dirs / f"{hw.id}.txt")
    assert model.find(hw) is None
    (model_dirs / f"{hw.id}.txt").write_text("garbage\n")
    assert model.find(hw) is None


def _ranked(config: Config):
    """The compiled candidates as ranked (plain-NumPy candidates are costed as CPython whatever the
    model, so they say nothing about which model ranked)."""
    kernel = frontend.lift_function(KERNEL, "k.py", "scale")
    facts = analyze(kernel)
    variants, _ = explore(kernel, facts, config)
    ranked = rank(variants, facts, config, detect())
    return kernel, facts, [(c, s) for c, s in ranked if c.target.name != "numpy"]


def test_pipeline_ranks_with_the_model_of_this_machine(
    model_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(default_size=1000)
    monkeypatch.setenv("OPTC_COST_MODEL", "analytic")
    kernel, facts, analytic = _ranked(config)
    assert len(analytic) >= 2, "the kernel needs several candidates for the test to mean anything"
    hw = detect()
    for candidate, seconds in analytic:
        sizes = config.sizes_for(kernel.name)
        assert seconds == estimate_seconds(
            candidate.variant.body, candidate.target, facts.arg_types, sizes, hw, config.default_size
        )

    monkeypatch.delenv("OPTC_COST_MODEL")
    tiny = _tiny()
    tiny.save(model_dirs / f"{hw.id}.txt")
    _, _, ranked = _ranked(config)
    assert {c for c, _ in ranked} == {c for c, _ in analytic}
    sizes = config.sizes_for(kernel.name)
    expected = []
    for candidate, seconds in ranked:
        values = features(
            candidate.variant.body,
            candidate.target,
            candidate.variant.derivation,
            facts.arg_types,
            sizes,
            hw,
            hw.cores,
            None,
            config.default_size,
        )
        row = np.array([[values[c] for c in tiny.columns]])
        expected.append(math.exp(float(tiny.predict(row)[0])))
        assert seconds == pytest.approx(expected[-1], rel=1e-9)
    assert all(a <= b * 1.01 for a, b in itertools.pairwise(expected)), "cheapest predicted first"
    # the tiny model predicts more rewrites faster: the most rewritten candidate comes first
    most = max(len(c.variant.derivation) for c, _ in ranked)
    assert len(ranked[0][0].variant.derivation) == most


def test_inlined_tree_walk_is_the_sum_of_the_trees(tmp_path: Path) -> None:
    """`TreeModel.predict_row` walks trees whose splits all have missing type None inline, on the row
    with NaN as 0.0, and the others with `Tree.value`: bit for bit the sum of `Tree.value` in order,
    for the shipped models and for one trained with NaNs (missing type NaN), on rows with NaN, -0.0,
    0.0 and every threshold itself."""
    fitted = _tiny("residual")
    fitted.save(tmp_path / "m.txt")
    # decision types: 2 default left; 4 | 2: missing zero, default left; 8: missing NaN, default right
    mixed = model.Tree(
        (0, 1, 2), (0.5, 0.0, 3.0), (2, 6, 8), (1, -1, -3), (2, -2, -4), (0.25, -1.5, 2.0, 0.125)
    )
    plain = model.Tree((2, 0), (1.0, 0.0), (2, 2), (1, -1), (-3, -2), (0.5, -0.75, 1.25))
    stump = model.Tree((), (), (), (), (), (0.0625,))
    hand = model.TreeModel(COLS, "residual", (plain, mixed, stump, plain), {})
    shipped = [model.load(p) for p in sorted(model.SHIPPED.glob("*.txt"))]
    models = [hand, model.load(tmp_path / "m.txt"), *shipped]
    assert mixed._plain is None and plain._plain is not None  # type: ignore[attr-defined]
    assert any(t._plain is not None for m in models for t in m.trees)  # type: ignore[attr-defined]
    rng = np.random.default_rng(2)
    for m in models:
        thresholds = sorted({t for tree in m.trees for t in tree.threshold})
        rows = [list(rng.uniform(-2, 20, len(m.columns))) for _ in range(40)]
        for i, row in enumerate(rows):
            for j in range(len(row)):
                choice = (i + j) % 5
                if choice == 0:
                    row[j] = math.nan
                elif choice == 1:
                    row[j] = -0.0 if i % 2 else 0.0
                elif choice == 2 and thresholds:
                    row[j] = thresholds[(i * 7 + j) % len(thresholds)]
        for row in rows:
            raw = m.scale * sum(t.value(row) for t in m.trees)
            if m.objective == "residual":
                analytic = row[m.columns.index("analytic_log_seconds")]
                raw += analytic if math.isfinite(analytic) else 0.0
            expected = -raw if m.objective == "lambdarank" else raw
            assert m.predict_row(row).hex() == expected.hex()
