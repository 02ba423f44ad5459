"""The learned cost model: metrics, LightGBM objectives, grouped cross-validation, save/load."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from optcompiler.costmodel import dataset, learned
from optcompiler.costmodel.dataset import Record
from optcompiler.costmodel.features import COLUMNS, FEATURE_VERSION
from optcompiler.costmodel.learned import LearnedCostModel, ModelError, Table

FAST = {"n_estimators": 40, "num_leaves": 7, "min_child_samples": 2, "bags": 2, "residual_weight": 1.0}


def _synthetic(kernels: int = 12, candidates: int = 4, sizes: int = 3, seed: int = 0) -> Table:
    """Rows whose log-time is a known function of a few columns, plus noise columns."""
    rng = np.random.default_rng(seed)
    rows, ys, names, groups, original = [], [], [], [], []
    for k in range(kernels):
        for s in range(sizes):
            for c in range(candidates):
                x = rng.uniform(0, 1, len(COLUMNS))
                x[COLUMNS.index("ir_log_iterations")] = 10 + 3 * s + rng.uniform(0, 1)
                x[COLUMNS.index("ir_frac_strided")] = rng.uniform(0, 1)
                x[COLUMNS.index("cand_parallel")] = float(c % 2)
                true = (
                    -20
                    + 0.7 * x[COLUMNS.index("ir_log_iterations")]
                    + 2.0 * x[COLUMNS.index("ir_frac_strided")]
                    - 0.5 * x[COLUMNS.index("cand_parallel")]
                )
                x[COLUMNS.index("analytic_log_seconds")] = true + rng.normal(0, 0.8)  # a rough prior
                rows.append(x)
                ys.append(true + rng.normal(0, 0.02))
                names.append(f"k{k:02d}")
                groups.append((f"k{k:02d}", s, "hw", 1))
                original.append(c == 0)
    return Table(np.vstack(rows), np.array(ys), tuple(names), tuple(groups), np.array(original), records=())


def test_score_counts_regret_top1_and_tau_per_group() -> None:
    measured = np.log(np.array([1.0, 2.0, 4.0, 1.0, 1.03, 5.0, 7.0]))
    groups = ["a", "a", "a", "b", "b", "c", "d"]  # c and d have one candidate each: not scored
    predicted = np.log(np.array([3.0, 1.0, 2.0, 2.0, 1.0, 1.0, 1.0]))  # a: picks 2.0; b: picks 1.03
    s = learned.score(predicted, measured, groups)
    assert s.groups == 2
    assert s.top1 == pytest.approx(0.5)  # b's pick is within 5% of its fastest
    assert s.top1_strict == 0.0
    assert s.mean_regret == pytest.approx((2.0 + 1.03) / 2)
    assert s.geomean_regret == pytest.approx(math.sqrt(2.0 * 1.03))
    assert s.max_regret == pytest.approx(2.0)
    assert s.kendall_tau == pytest.approx((-1 / 3 + -1.0) / 2)
    assert s.mape is not None and s.mape > 0
    perfect = learned.score(measured, measured, groups)
    assert perfect.top1_strict == 1.0 and perfect.geomean_regret == 1.0 and perfect.kendall_tau == 1.0
    assert learned.score(predicted, measured, groups, predicts_time=False).mape is None


def test_separated_tau_judges_only_pairs_apart_beyond_their_noise() -> None:
    # a: 1.0 and 1.1 are 10% apart but the first was measured with 20% noise: only the pairs with 3.0
    # count; b: 1.0 vs 1.02 is within the 5% tie, never separated
    measured = np.log(np.array([1.0, 1.1, 3.0, 1.0, 1.02]))
    noise = np.array([0.2, 0.01, 0.01, 0.0, 0.0])
    groups = ["a", "a", "a", "b", "b"]
    swapped_close = np.log(np.array([1.1, 1.0, 3.0, 1.02, 1.0]))  # wrong only on unseparated pairs
    s = learned.score(swapped_close, measured, groups, noise=noise)
    assert s.pairs == 4 and s.separated_pairs == 2
    assert s.kendall_tau_separated == 1.0
    assert s.kendall_tau < 1.0  # plain tau-b counts the swapped close pairs
    ties = learned.score(np.zeros(5), measured, groups, noise=noise)
    assert ties.kendall_tau_separated == 0.0  # predicting a tie where the order is clear earns nothing
    assert ties.tau_groups == 0  # plain tau-b is undefined on a constant prediction
    assert math.isnan(learned.score(swapped_close, measured, groups).kendall_tau_separated)  # no noise given


def test_split_half_takes_even_and_odd_timed_calls() -> None:
    def record(times: tuple[float, ...]) -> Record:
        return Record("k", "c", "njit", (), 1, {}, "ok", seconds_min=min(times), times=times)

    records = (record((3.0, 1.0, 2.0, 4.0)), record((5.0,)))
    group = ("k", 1, "hw", 1)
    t = Table(
        np.zeros((2, len(COLUMNS))), np.log([1.0, 5.0]), ("k", "k"), (group, group), np.array([1, 0]), records
    )
    even, odd = learned.split_half(t)
    assert np.exp(even).tolist() == pytest.approx([2.0, 5.0]) and np.exp(odd).tolist() == pytest.approx(
        [1.0, 5.0]
    )
    assert t.noise.tolist() == pytest.approx([(2.5 - 1.0) / 1.0, 0.0])


def test_rank_layout_makes_groups_contiguous_with_binned_relevance() -> None:
    groups = ["a", "b", "a", "b", "a"]
    y = np.log(np.array([1.0, 3.0, 2.0, 3.0, 100.0]))
    order, sizes, labels = learned._rank_layout(groups, y)
    assert [groups[i] for i in order] == ["a", "a", "a", "b", "b"] and sizes == [3, 2]
    assert list(labels[:3]) == [30, 26, 3]  # 2x slower: 4 levels down; 100x: 26.6 down
    assert list(labels[3:]) == [30, 30]
    assert labels.min() >= 0 and labels.max() <= learned.MAX_LABEL


@pytest.mark.parametrize("objective", learned.OBJECTIVES)
def test_each_objective_learns_the_ranking(objective: str) -> None:
    t = _synthetic()
    model = LearnedCostModel(objective=objective, **FAST)  # type: ignore[arg-type]
    model.fit(t.X, t.y, list(t.groups))
    s = learned.score(model.predict(t.X), t.y, t.groups, model.predicts_time)
    assert s.kendall_tau > 0.6 and s.geomean_regret < 1.3
    with pytest.raises(ValueError, match="columns"):
        model.predict(t.X[:, :5])


def test_bags_are_averaged_and_a_residual_applies_its_weight_of_the_correction() -> None:
    t = _synthetic(kernels=6)
    analytic = t.X[:, COLUMNS.index("analytic_log_seconds")]
    params = {**FAST, "bags": 3, "residual_weight": 0.25}
    model = LearnedCostModel(objective="residual", **params).fit(t.X, t.y)  # type: ignore[arg-type]
    raw = np.mean([b.predict(t.X) for b in model.boosters_], axis=0)
    np.testing.assert_allclose(model.predict(t.X), analytic + 0.25 * raw)
    assert len({b.model_to_string() for b in model.boosters_}) == 3  # other samples, other trees
    prior = LearnedCostModel(objective="residual", **{**params, "residual_weight": 0.0}).fit(t.X, t.y)  # type: ignore[arg-type]
    np.testing.assert_allclose(prior.predict(t.X), analytic)
    plain = LearnedCostModel(objective="regression", **params).fit(t.X, t.y)  # type: ignore[arg-type]
    np.testing.assert_allclose(plain.predict(t.X), np.mean([b.predict(t.X) for b in plain.boosters_], axis=0))


def test_fit_checks_shapes_and_lambdarank_needs_groups() -> None:
    t = _synthetic(kernels=2)
    with pytest.raises(ValueError, match="X must be"):
        LearnedCostModel(**FAST).fit(t.X[:, :3], t.y)
    with pytest.raises(ValueError, match="needs groups"):
        LearnedCostModel(objective="lambdarank", **FAST).fit(t.X, t.y)


def test_save_and_load_round_trip_and_refuse_other_versions(tmp_path: Path) -> None:
    t = _synthetic(kernels=4)
    columns = learned.FEATURE_SETS["no-llvm"]
    model = LearnedCostModel(objective="residual", columns=columns, **FAST).fit(
        learned.select(t.X, columns), t.y
    )
    path = tmp_path / "models" / "hw.txt"
    model.save(path, {"hardware_id": "hw"})
    loaded = LearnedCostModel.load(path)
    assert loaded.objective == "residual" and loaded.columns == columns
    assert loaded.info_["hardware_id"] == "hw"
    np.testing.assert_allclose(
        loaded.predict(learned.select(t.X, columns)), model.predict(learned.select(t.X, columns))
    )
    text = path.read_text()
    path.write_text(text.replace(f'"feature_version": {FEATURE_VERSION}', '"feature_version": 999', 1))
    with pytest.raises(ModelError, match=r"hw\.txt:1: trained on feature version 999"):
        LearnedCostModel.load(path)
    path.write_text("tree\nversion=v4\n")
    with pytest.raises(ModelError, match=r"hw\.txt:1: not an optc learned cost model"):
        LearnedCostModel.load(path)
    with pytest.raises(ModelError, match="cannot read"):
        LearnedCostModel.load(tmp_path / "missing.txt")


def test_cross_validation_never_trains_on_a_test_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    t = _synthetic(kernels=6, sizes=2)
    seen: list[set[str]] = []
    fit = LearnedCostModel.fit

    def spy(self, X, y, groups=None, init_model=None):
        seen.append({g[0] for g in groups})
        return fit(self, X, y, groups, init_model)

    monkeypatch.setattr(LearnedCostModel, "fit", spy)
    predicted = learned.cross_validate(t, "regression", COLUMNS, 3, **FAST)
    assert not np.isnan(predicted).any()
    assert len(seen) == 3
    for (train, test), trained_on in zip(learned.dataset.kernel_folds(t.kernels, 3), seen, strict=True):
        assert trained_on == set(train) and not trained_on & test


def test_evaluate_reports_baselines_and_keeps_a_learned_model() -> None:
    t = _synthetic(kernels=8, sizes=2)
    evaluation = learned.evaluate(t, folds=4, objectives=("regression", "residual"), **FAST)
    assert {"analytic", "always-njit", "oracle"} <= set(evaluation.results)
    assert evaluation.results["oracle"].geomean_regret == 1.0
    assert evaluation.best.startswith("learned/")
    assert evaluation.groups == 16 and evaluation.kernels == 8
    text = evaluation.markdown()
    assert "| analytic |" in text and "(kept)" in text


def test_evaluate_compares_only_the_feature_sets_asked_for() -> None:
    """`--features no-llvm`: the models the pipeline can rank with (no compiled candidate needed)."""
    t = _synthetic(kernels=8, sizes=2)
    evaluation = learned.evaluate(t, folds=4, objectives=("residual",), feature_sets=("no-llvm",), **FAST)
    assert [k for k in evaluation.results if k.startswith("learned/")] == ["learned/residual/no-llvm"]
    assert evaluation.best == "learned/residual/no-llvm"


HARDWARE = {
    "cpu_model": "x",
    "cores": 2,
    "l1d_bytes": 32768,
    "l2_bytes": 2**20,
    "l3_bytes": 2**23,
    "simd_bytes": 32,
    "freq_ghz": 2.5,
    "mem_bandwidth_gbs": 20.0,
}


def test_table_keeps_timed_agreeing_records_only() -> None:
    source = (
        "@numba.njit(cache=True)\ndef _optc_measure_0(x):\n    n = x.shape[0]\n    s = 0.0\n"
        "    for i in range(n):\n        s += x[i]\n    return s\n"
    )
    base = {
        "kernel": "ksum",
        "target": "njit",
        "derivation": (),
        "size": 100,
        "sizes": {"n": 100},
        "threads": 1,
        "hardware_id": "hw",
        "hardware": HARDWARE,
        "source": source,
        "arg_types": {"x": ("array", "float64", 1, ("n",))},
    }
    records = [
        Record(candidate_id="a", status="ok", seconds_min=1e-6, times=(1e-6,), agrees=True, **base),
        Record(candidate_id="b", status="ok", seconds_min=2e-6, times=(2e-6,), agrees=False, **base),
        Record(candidate_id="c", status="timeout", **base),
        Record(candidate_id="d", status="too_slow", seconds_min=3.0, times=(3.0,), **base | {"size": 200}),
    ]
    t = learned.table(records)
    assert [r.candidate_id for r in t.records] == ["a", "d"]
    assert t.X.shape == (2, len(COLUMNS))
    np.testing.assert_allclose(t.y, np.log([1e-6, 3.0]))
    assert list(t.original) == [True, True] and t.groups[0] == ("ksum", 100, "hw", 1)


def test_table_keeps_one_record_of_a_program_measured_twice() -> None:
    """A prange variant timed under plain njit is its serial twin: the same program, whose order
    against the original is noise. The original stays; a twin under parallel=True is another program."""
    body = "    s = 0.0\n    for i in {}(x.shape[0]):\n        s += x[i]\n    return s\n"
    serial = "@numba.njit(cache=True)\ndef _optc_measure_{}(x):\n" + body
    parallel = "@numba.njit(cache=True, parallel=True)\ndef _optc_measure_{}(x):\n" + body
    base = {
        "kernel": "ksum",
        "size": 100,
        "sizes": {"n": 100},
        "threads": 1,
        "hardware_id": "hw",
        "status": "ok",
        "hardware": HARDWARE,
        "arg_types": {"x": ("array", "float64", 1, ("n",))},
    }

    def timed(cid: str, target: str, derivation: tuple[str, ...], seconds: float, source: str) -> Record:
        return Record(
            candidate_id=cid,
            target=target,
            derivation=derivation,
            seconds_min=seconds,
            times=(seconds,),
            agrees=True,
            source=source,
            **base,
        )

    records = [
        timed("twin", "njit", ("parallel.prange",), 1e-6, serial.format(1, "numba.prange")),
        timed("orig", "njit", (), 2e-6, serial.format(0, "range")),
        timed("par", "njit-parallel", ("parallel.prange",), 3e-6, parallel.format(2, "numba.prange")),
    ]
    assert dataset.program_key(records[0]) == dataset.program_key(records[1])
    assert [r.candidate_id for r in dataset.distinct(records)] == ["orig", "par"]
    assert [r.candidate_id for r in learned.table(records).records] == ["orig", "par"]


def _records_for(kernels: int, hardware_id: str = "hw") -> list[Record]:
    """Two candidates (a sum and the same sum with a needless multiply) per kernel and size."""
    fast = "    for i in range(n):\n        s += x[i]\n"
    slow = "    for i in range(n):\n        s += x[i] * 1.0 / 1.0\n"
    out = []
    for k in range(kernels):
        for size in (100, 10_000):
            for cid, body, seconds in (("a", fast, 1e-6 * size), ("b", slow, 3e-6 * size)):
                source = f"@numba.njit\ndef _optc_measure_0(x):\n    n = x.shape[0]\n    s = 0.0\n{body}    return s\n"
                out.append(
                    Record(
                        kernel=f"k{k}",
                        candidate_id=cid,
                        target="njit",
                        derivation=() if cid == "a" else ("test.slow",),
                        size=size,
                        sizes={"n": size},
                        status="ok",
                        seconds_min=seconds * (1 + 0.01 * k),
                        times=(seconds,),
                        agrees=True,
                        threads=1,
                        hardware_id=hardware_id,
                        hardware=HARDWARE,
                        source=source,
                        arg_types={"x": ("array", "float64", 1, ("n",))},
                    )
                )
    return out


def test_cli_trains_reports_and_saves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "hw.jsonl.gz"
    learned.dataset.append(data, _records_for(6))
    out, report = tmp_path / "m" / "hw.txt", tmp_path / "m" / "hw.md"
    args = [
        "--data",
        str(data),
        "--folds",
        "3",
        "--estimators",
        "10",
        "--out",
        str(out),
        "--report",
        str(report),
    ]
    assert learned.main(args) == 0
    assert "| analytic |" in capsys.readouterr().out
    text = report.read_text()
    assert "Grouped 3-fold" in text and "Kept: learned/" in text and "Most used features" in text
    model = LearnedCostModel.load(out)
    assert model.info_["hardware_id"] == "hw" and model.info_["kernels"] == 6


def test_cli_refuses_mixed_machines_too_few_kernels_and_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    learned.dataset.append(mixed, _records_for(3, "hw1") + _records_for(3, "hw2"))
    assert learned.main(["--data", str(mixed), "--folds", "2"]) == 2
    assert "several machines" in capsys.readouterr().err
    few = tmp_path / "few.jsonl"
    learned.dataset.append(few, _records_for(2))
    assert learned.main(["--data", str(few), "--folds", "5"]) == 2
    assert "need at least 5" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n{}\n")
    assert learned.main(["--data", str(bad)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_fine_tuning_keeps_the_base_trees_and_adds_more() -> None:
    t = _synthetic()
    base = LearnedCostModel(objective="residual", **FAST).fit(t.X, t.y)
    shifted = t.y + 0.5 * t.X[:, COLUMNS.index("cand_parallel")]  # another machine: parallel costs more
    tuned = LearnedCostModel(objective="residual", **{**FAST, "n_estimators": 10}).fit(
        t.X, shifted, None, base
    )
    assert tuned.num_trees == base.num_trees + 10 * len(tuned.boosters_)
    for old, new in zip(base.boosters_, tuned.boosters_, strict=True):  # each bag goes on from its own
        assert old.model_to_string().split("Tree=1\n")[0].split("Tree=0\n")[1] in new.model_to_string()
    error = lambda m: float(np.mean(np.abs(m.predict(t.X) - shifted)))  # noqa: E731
    assert error(tuned) < error(base)
    with pytest.raises(ValueError, match="fine-tune"):
        LearnedCostModel(objective="regression", **FAST).fit(t.X, t.y, None, base)
