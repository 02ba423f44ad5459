"""`optc calibrate`: measures corpus kernels for real (tiny budget: two small kernels at their
smallest size), trains, stores the model per hardware id in the cache, and the pipeline's lookup
finds it; a rerun resumes; the Dask path on a LocalCluster; bad input is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from optcompiler import calibrate, cli
from optcompiler.costmodel import dataset, model
from optcompiler.costmodel.hardware import detect

KERNELS = "clipped_sum,gemv"  # loops with several candidates each, fast at size index 0
TINY = ["--kernels", KERNELS, "--sizes", "0", "--repeats", "3", "--budget", "0.02", "--budget-minutes", "5"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(model, "SHIPPED", tmp_path / "shipped")  # only the calibrated model exists
    monkeypatch.delenv("OPTC_COST_MODEL", raising=False)
    return tmp_path / "cache"


def test_calibrate_measures_trains_and_the_pipeline_finds_it(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hw = detect()
    assert model.find(hw) is None
    assert cli.main(["calibrate", *TINY]) == 0
    records = list(dataset.read(cache / "costmodel" / "data" / f"{hw.id}.jsonl.gz"))
    assert {r.kernel for r in records} == set(KERNELS.split(","))
    assert all(r.hardware_id == hw.id for r in records)
    timed = [r for r in records if r.timed]
    assert len(timed) >= 4 and all(r.seconds_min and r.seconds_min > 0 for r in timed)
    found = model.find(hw)
    assert found is not None and found.path == cache / "costmodel" / "models" / f"{hw.id}.txt"
    assert not found.needs_llvm and found.predicts_time
    report = (cache / "costmodel" / "models" / f"{hw.id}.md").read_text()
    assert "too few kernels for grouped cross-validation" in report
    err = capsys.readouterr().err
    assert f"installed {found.path}" in err

    # a rerun resumes: nothing measured again, the model is retrained on the same records
    assert cli.main(["calibrate", *TINY]) == 0
    assert "measured 0 new records" in capsys.readouterr().err
    assert len(list(dataset.read(cache / "costmodel" / "data" / f"{hw.id}.jsonl.gz"))) == len(records)


def test_calibrate_on_a_dask_local_cluster(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    distributed = pytest.importorskip("distributed")
    hw = detect()
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        argv = [*TINY[:1], "clipped_sum", *TINY[2:], "--scheduler", cluster.scheduler_address]
        assert calibrate.main(argv) == 0
    records = list(dataset.read(cache / "costmodel" / "data" / f"{hw.id}.jsonl.gz"))
    assert {r.kernel for r in records} == {"clipped_sum"}
    assert sum(r.timed for r in records) >= 2
    assert model.find(hw) is not None
    assert "clipped_sum:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kernels", "no_such_kernel"], "unknown corpus kernel(s) no_such_kernel"),
        (["--sizes", "x"], "--sizes takes indices"),
        (["--budget-minutes", "0"], "--budget-minutes must be positive"),
        (["--top-k", "0"], "--top-k must be at least 1"),
        (["--budget-minutes", "soon"], "invalid float value: 'soon'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    cache: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(["calibrate", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("optc calibrate: error:") and message in err[0]
    assert not (cache / "costmodel").exists()


def test_unreachable_scheduler_is_one_line(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")

    def refuse(address: str) -> object:
        raise OSError("connection refused")

    args = calibrate.parse_args(["--kernels", "gemv", "--scheduler", "tcp://127.0.0.1:1"])
    with pytest.raises(calibrate.CalibrateError, match=r"tcp://127\.0\.0\.1:1: cannot connect"):
        calibrate.run(args, client_factory=refuse)


def test_spread_order_covers_families_first() -> None:
    names = [f"k{i:02d}" for i in range(7)]
    assert calibrate.spread(names) == ["k00", "k03", "k06", "k01", "k04", "k02", "k05"]
    assert sorted(calibrate.spread(names)) == names


# ---- fine-tuning a shipped model ----------------------------------------------------------------------

SHIPPED_MODELS = Path(model.__file__).parent / "models"


def _records_of(kernels: int, hardware_id: str) -> list[dataset.Record]:
    """Committed records of the 2-core machine for the first `kernels` kernels with several timed
    candidates, as if measured on machine `hardware_id` (calibrate reads them from its records file)."""
    from dataclasses import replace

    records = list(dataset.read(SHIPPED_MODELS.parent / "data" / "bfa5d0ea7350.jsonl.gz"))
    timed: dict[str, int] = {}
    for r in records:
        timed[r.kernel] = timed.get(r.kernel, 0) + r.timed
    chosen = sorted(k for k, n in timed.items() if n >= 4)[:kernels]
    return [replace(r, hardware_id=hardware_id) for r in records if r.kernel in chosen]


@pytest.mark.parametrize("kernels", [2, 6])
def test_train_fine_tunes_a_shipped_model(
    kernels: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's records continue a shipped model (its trees, then more); with enough kernels for
    cross-validation it competes with models trained from scratch, and a model worse than the
    analytic one on held-out kernels is still not installed."""
    from optcompiler.costmodel import learned

    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / "cache"))
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    base_file = shipped / "aab01f153ef2.txt"
    base_file.write_bytes((SHIPPED_MODELS / "aab01f153ef2.txt").read_bytes())
    monkeypatch.setattr(model, "SHIPPED", shipped)
    dataset.append(calibrate.records_path("usermachine"), _records_of(kernels, "usermachine"))

    assert calibrate.base_model("usermachine") is not None
    trained = calibrate.train("usermachine", estimators=20)
    assert trained is not None and trained.kernels == kernels
    report = trained.report_path.read_text()
    saved = trained.model_path if trained.installed else trained.model_path.with_suffix(".rejected.txt")
    made = learned.LearnedCostModel.load(saved)
    base_model = learned.LearnedCostModel.load(base_file)
    base_trees, bags = base_model.num_trees, len(base_model.boosters_)
    if kernels < calibrate.MIN_CV_KERNELS:  # no evaluation possible: the shipped model, fine-tuned
        assert made.num_trees == base_trees + 20 * bags
        assert (
            "Fine-tuned `aab01f153ef2.txt`" in report and made.info_["fine_tuned_from"] == "aab01f153ef2.txt"
        )
        return
    assert (
        "fine-tuned aab01f153ef2 |" in report or "fine-tuned aab01f153ef2 (kept) |" in report
    )  # it competed
    tuned = "(kept)" in report.split("fine-tuned aab01f153ef2", 1)[1].split("\n", 1)[0]
    assert made.num_trees == (base_trees + 20 * bags if tuned else 20 * len(made.boosters_))
    assert ("Fine-tuned" in report) == tuned
    assert trained.installed == ("Not installed" not in report)


def test_calibrate_with_a_tiny_budget_fine_tunes_the_shipped_model(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from optcompiler.costmodel import learned

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "aab01f153ef2.txt").write_bytes((SHIPPED_MODELS / "aab01f153ef2.txt").read_bytes())
    monkeypatch.setattr(model, "SHIPPED", shipped)
    hw = detect()
    assert cli.main(["calibrate", *TINY]) == 0
    found = model.find(hw)
    assert found is not None and found.path == cache / "costmodel" / "models" / f"{hw.id}.txt"
    made = learned.LearnedCostModel.load(found.path)
    base = model.load(shipped / "aab01f153ef2.txt")
    assert made.info_["fine_tuned_from"] == "aab01f153ef2.txt"
    # every shipped tree is kept, unchanged; LightGBM adds up to FINE_TUNE_ESTIMATORS more to each
    # bag (fewer when a few records leave no split worth making); optc's own reader reads them all
    assert all(tree in found.trees for tree in base.trees)
    bags = len(made.boosters_)
    assert len(base.trees) <= len(found.trees) <= len(base.trees) + bags * calibrate.FINE_TUNE_ESTIMATORS
    assert len(found.trees) == made.num_trees
    assert "fine-tuned from shipped aab01f153ef2" in capsys.readouterr().err
