"""bench/gpu_report.py: which CPU variant the records say optc ships, and how the end-to-end rule is
scored held out (the margin chosen on the other kernels). No GPU and no model training here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("optc_test_gpu_report", ROOT / "bench" / "gpu_report.py")
report = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["optc_test_gpu_report"] = report
_spec.loader.exec_module(report)  # type: ignore[union-attr]


def _record(kernel: str, size: int, timings: dict[str, float]) -> dict[str, object]:
    return {
        "kernel": kernel,
        "size": size,
        "profile": {"n": size},
        "timings": {k: {"seconds": v} for k, v in timings.items()},
    }


def test_merged_names_the_cpu_variant_of_the_latest_run(tmp_path: Path) -> None:
    """A later run's optc CPU output replaces an earlier one's as what optc ships, though both
    timings stay; a kernel the later run left alone keeps its own."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                _record("k", 10, {"numba.njit": 1.0, "optc CPU (original @ njit)": 2.0}),
                _record("other", 10, {"optc CPU (loops.licm @ njit)": 1.0}),
            )
        )
    )
    second.write_text(json.dumps(_record("k", 10, {"optc CPU (idioms.matmul @ numpy)": 0.5})))
    rows = {r["kernel"]: r for r in report.merged([first, second])}
    assert rows["k"]["optc_cpu"] == "optc CPU (idioms.matmul @ numpy)"
    assert set(rows["k"]["timings"]) == {
        "numba.njit",
        "optc CPU (original @ njit)",
        "optc CPU (idioms.matmul @ numpy)",
    }
    assert rows["other"]["optc_cpu"] == "optc CPU (loops.licm @ njit)"


def _row(kernel: str, gpu: float, cpu: float, by_margin: dict[float, int | None], own: float | None = None):
    return report.Row(
        kernel=kernel,
        size=100,
        profile={"n": 100},
        cpu_label="numba.njit",
        cpu_seconds=cpu,
        gpu_label="cuda 16x16",
        gpu_seconds=gpu,
        transfers_seconds=None,
        predicted_gpu_seconds=gpu,
        model_picks_gpu=False,
        threshold=None,
        problem_size=100,
        learned_threshold=by_margin.get(2.0),
        optc_cpu_seconds=own,
        by_margin=by_margin,
    )


def test_the_dispatchers_margin_is_chosen_on_the_other_kernels_only() -> None:
    """Kernels a and b are right only with a small margin (GPU faster, switch at 50 under margin 1),
    c only with a large one. Held out, c gets the margin a and b prefer, and is scored wrong with it;
    a and b each see one kernel for and one against, and the tie goes to the smaller margin."""
    small = {m: (50 if m <= 1.0 else None) for m in report.MARGINS}
    rows = [
        _row("a", gpu=1.0, cpu=2.0, by_margin=small),
        _row("b", gpu=1.0, cpu=2.0, by_margin=small),
        _row("c", gpu=2.0, cpu=1.0, by_margin=small),
    ]
    scored = report.dispatch_held_out(rows)
    assert scored["pairs"] == 3 and abs(scored["right"] - 2 / 3) < 1e-9
    # with the dispatcher's own margin (2: no GPU anywhere) only c is right
    assert abs(report.score([(r.optc_picks_gpu, r) for r in rows])["right"] - 1 / 3) < 1e-9


def test_against_own_cpu_judges_by_optcs_cpu_variant_where_it_was_measured() -> None:
    """The GPU at 1.5 s is slower than the CPU best (1 s) but faster than optc's own variant (3 s):
    right when judged against what the dispatcher falls back to, wrong against the best."""
    rows = [_row("a", gpu=1.5, cpu=1.0, by_margin={}, own=3.0), _row("b", gpu=1.5, cpu=1.0, by_margin={})]
    picks = [(True, r) for r in rows]
    assert report.against_own_cpu(picks) == {
        "pairs": 1,
        "right": 1.0,
        "right_within": 1.0,
        "geomean_regret": 1.0,
    }
    assert report.score(picks)["right"] == 0.0


def test_both_known_bounds_any_rule_judged_against_the_cpu_best() -> None:
    """Both of optc's paths measured, the faster taken: right where the GPU beats optc's variant
    and the CPU best (a), or loses to optc's variant (b); wrong where the GPU is faster than optc's
    variant but not than the CPU best (c), the pairs no rule can get right by that definition."""
    rows = [
        _row("a", gpu=1.0, cpu=2.0, by_margin={}, own=2.0),
        _row("b", gpu=3.0, cpu=1.0, by_margin={}, own=2.0),
        _row("c", gpu=1.5, cpu=1.0, by_margin={}, own=3.0),
    ]
    scored = report.both_known(rows)
    assert abs(scored["right"] - 2 / 3) < 1e-9
    assert abs(scored["geomean_regret"] - 1.5 ** (1 / 3)) < 1e-9


def test_product_charges_the_time_of_the_path_that_runs() -> None:
    """A CPU pick runs optc's variant (3 s), not the CPU best (1 s): regret 3 against the fastest
    code measured, though the pick is right against optc's own paths (the GPU takes 4 s)."""
    row = _row("a", gpu=4.0, cpu=1.0, by_margin={}, own=3.0)
    scored = report.product([(False, row)])
    assert scored["right"] == 1.0 and abs(scored["geomean_regret"] - 3.0) < 1e-9
    assert report.score([(False, row)])["geomean_regret"] == 1.0


def test_cause_names_the_estimate_whose_measured_value_makes_the_pick_right() -> None:
    from dataclasses import replace

    # the CPU estimate (0.5 s) says the GPU (predicted 2 s) loses; optc's variant takes 8 s
    cpu_wrong = replace(_row("a", gpu=2.0, cpu=8.0, by_margin={}, own=8.0), cpu_estimates={"held_out": 0.5})
    assert report.cause(cpu_wrong, 2.0) == "CPU estimate x0.062"
    # the GPU predicted 4x too fast, the CPU estimate exact: the GPU taken, slower than the CPU
    gpu_wrong = replace(
        _row("b", gpu=8.0, cpu=4.0, by_margin={2.0: 1}, own=4.0),
        cpu_estimates={"held_out": 4.0},
        predicted_gpu_seconds=1.0,
    )
    assert report.cause(gpu_wrong, 2.0) == "GPU estimate x0.12"
    # both right about the faster side, the margin keeps the call on the CPU
    margin = replace(_row("c", gpu=3.0, cpu=4.0, by_margin={}, own=4.0), cpu_estimates={"held_out": 4.0})
    assert report.cause(margin, 2.0).startswith("margin 2")
    # the GPU beats optc's variant but not the CPU best: named, and right for the module
    between = replace(
        _row("d", gpu=1.5, cpu=1.0, by_margin={2.0: 1}, own=3.0),
        cpu_estimates={"held_out": 3.0},
        predicted_gpu_seconds=1.0,
    )
    assert report.cause(between, 2.0) == "CPU best is numba.njit, 3.0x faster than optc's variant"


def test_a_variant_timed_far_slower_than_its_cost_model_record_is_named() -> None:
    """optc's variant 5 ms in the GPU run where the host's cost-model records timed the same
    candidate at 0.02 ms: the cause says so, and the pair is left out of the 'sound' figure."""
    from dataclasses import replace

    row = replace(
        _row("a", gpu=1.0, cpu=0.01, by_margin={}, own=5.0),
        cpu_estimates={"held_out": 0.02},
        recorded_cpu_seconds=0.02,
    )
    assert report.contended(row)
    assert "250x its time in the host's cost-model records" in report.cause(row, 2.0)
    assert not report.contended(replace(row, recorded_cpu_seconds=2.0))
