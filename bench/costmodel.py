"""How good the learned cost model is, on kernels it never saw: `bench/results/costmodel.md`.

    python bench/costmodel.py                       # every machine with records and a model
    python bench/costmodel.py --out /tmp/cm --no-plot

For each machine that has committed records (`costmodel/data/<hardware-id>.jsonl.gz`) and a
shipped model (`costmodel/models/<hardware-id>.txt`): grouped k-fold cross-validation by kernel
(`learned.cross_validate`) of the shipped model's configuration (objective, columns, estimators
read from its header), scored against the analytic model, "always njit of the original" and the
oracle on the same (kernel, size) groups: top-1 (within 5% of the fastest), mean, geometric-mean
and max regret, Kendall tau within groups, MAPE of predicted time. Then what ranking costs: loading
a model (optc's own tree reader `costmodel.model`, and lightgbm's for comparison, each in a fresh
process), and predicting every candidate of a (kernel, size) group from its IR (features and
trees), next to the analytic model alone.

The scatter plot (`costmodel_scatter.png`, predicted vs measured seconds, out-of-fold) needs
matplotlib, which optc does not depend on: `pip install matplotlib` first, or pass `--no-plot`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from optcompiler.costmodel import dataset, learned, model
from optcompiler.costmodel.features import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "costmodel" / "data"
MODELS = ROOT / "costmodel" / "models"
TARGETS = {
    "geomean regret": "≤ 1.10",
    "top-1": "≥ 70%",
    "Kendall tau": "≥ 0.8",
    "predict a kernel": "< 50 ms",
}

# What the pipeline has imported before it ranks (features, the analytic model) is imported first:
# the figures are what a model adds.
LOAD_OURS = """
import time, sys, pathlib
import optcompiler.pipeline
t0 = time.perf_counter()
from optcompiler.costmodel import model
t1 = time.perf_counter()
m = model.load(pathlib.Path(sys.argv[1]))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""
LOAD_LIGHTGBM = """
import time, sys, pathlib
import optcompiler.pipeline
from optcompiler.costmodel import learned
t0 = time.perf_counter()
import lightgbm
t1 = time.perf_counter()
m = learned.LearnedCostModel.load(pathlib.Path(sys.argv[1]))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def load_times(path: Path, code: str, runs: int = 3) -> tuple[float, float]:
    """Median (import, load) seconds over fresh processes."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        results.append(tuple(float(v) for v in out.stdout.split()))
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def pipeline_candidates(
    records: list[dataset.Record],
) -> list[tuple[str, int, object, object, object, object]]:
    """Per corpus kernel and size profile of the records: what the pipeline ranks there (the kernel's
    facts, every variant `explore` makes at that profile, and its config), lifted from the corpus
    file as `optc` lifts it. Independent of the machine: the same candidates are ranked with each
    machine's model."""
    from optcompiler import corpus, frontend
    from optcompiler.analysis import analyze, contains_loop
    from optcompiler.config import Config
    from optcompiler.pipeline import explore

    profiles: dict[str, dict[int, dict[str, int]]] = {}
    for r in dataset.latest(records):
        profiles.setdefault(r.kernel, {})[r.size] = dict(r.sizes)
    out = []
    for name in sorted(profiles):
        ck = corpus.load(name)
        kernel = frontend.lift_function(ck.path.read_text(encoding="utf-8"), str(ck.path), name)
        if not contains_loop(kernel.body):
            continue
        facts = analyze(kernel)
        for size, sizes in sorted(profiles[name].items()):
            config = Config(sizes=tuple(sorted(sizes.items())))
            variants, _ = explore(kernel, facts, config)
            out.append((name, size, kernel, facts, variants, config))
    return out


def predict_times(
    model_path: Path,
    hardware: dict[str, object],
    candidates: list[tuple[str, int, object, object, object, object]],
) -> dict[str, object]:
    """Per (kernel, size profile): seconds the pipeline takes to predict all of the kernel's candidates
    (`pipeline.rank` over every variant `explore` made, then the original's prediction, the baseline of
    its speed-up), from scratch (the memo of analyses emptied first; best of 3), with the learned model of
    `hardware` (optc's tree reader) and with the analytic model alone (`OPTC_COST_MODEL=analytic`)."""
    import os

    from optcompiler.costmodel import analytic, features
    from optcompiler.costmodel.hardware import Hardware
    from optcompiler.ir import Target
    from optcompiler.pipeline import predict_seconds, rank

    hw = Hardware(**hardware)  # type: ignore[arg-type]
    found = model.find(hw)
    if found is None or found.path is None or found.path.read_bytes() != model_path.read_bytes():
        where = found.path if found is not None else "the analytic model"
        raise RuntimeError(f"the pipeline ranks with {where} on {hw.id}, not with {model_path}")

    def predict_all(item: tuple[str, int, object, object, object, object]) -> float:
        """Best of 3 runs, each from scratch: a run that a collection or another process interrupts
        says nothing about the prediction."""
        _, _, kernel, facts, variants, config = item
        runs = []
        for _ in range(3):
            analytic.clear_analysis_cache()
            features.clear_caches()
            began = time.perf_counter()
            rank(variants, facts, config, hw)  # type: ignore[arg-type]
            predict_seconds(
                kernel.body,  # type: ignore[attr-defined]
                Target("njit"),
                (),
                facts,  # type: ignore[arg-type]
                config.sizes_for(kernel.name),  # type: ignore[attr-defined]
                hw,
                config.default_size,  # type: ignore[attr-defined]
            )
            runs.append(time.perf_counter() - began)
        return min(runs)

    saved = os.environ.get("OPTC_COST_MODEL")
    try:
        os.environ.pop("OPTC_COST_MODEL", None)
        predict_all(candidates[0])  # the first prediction imports what the analysis imports lazily
        learned_times = [predict_all(c) for c in candidates]
        os.environ["OPTC_COST_MODEL"] = "analytic"
        analytic_times = [predict_all(c) for c in candidates]
    finally:
        if saved is None:
            os.environ.pop("OPTC_COST_MODEL", None)
        else:
            os.environ["OPTC_COST_MODEL"] = saved
    counts = [len(c[4]) for c in candidates]  # type: ignore[arg-type]
    slowest = sorted(zip(learned_times, candidates, strict=True), key=lambda tc: -tc[0])[:5]
    return {
        "groups": len(candidates),
        "kernels": len({c[0] for c in candidates}),
        "candidates_median": statistics.median(counts),
        "candidates_max": max(counts),
        "learned_median_ms": 1e3 * statistics.median(learned_times),
        "learned_p90_ms": 1e3 * float(np.percentile(learned_times, 90)),
        "learned_max_ms": 1e3 * max(learned_times),
        "analytic_median_ms": 1e3 * statistics.median(analytic_times),
        "analytic_p90_ms": 1e3 * float(np.percentile(analytic_times, 90)),
        "analytic_max_ms": 1e3 * max(analytic_times),
        "slowest": [
            {"kernel": c[0], "size": c[1], "candidates": len(c[4]), "ms": 1e3 * t}  # type: ignore[arg-type]
            for t, c in slowest
        ],
    }


def machine(records_path: Path, model_path: Path, folds: int | None) -> dict[str, object]:
    records = list(dataset.read(records_path))
    began = time.perf_counter()
    t = learned.table(records)
    feature_seconds = time.perf_counter() - began
    tm = model.load(model_path)
    params = dict(tm.info.get("params", {}))  # type: ignore[call-overload]
    kernels = len(set(t.kernels))
    k = folds or (5 if kernels >= 50 else 4)
    predicted = learned.cross_validate(t, tm.objective, tm.columns, k, **params)  # type: ignore[arg-type]
    noise = t.noise
    scores = {
        name: learned.score(p, t.y, t.groups, pt, noise)
        for name, (p, pt) in learned.baseline_predictions(t).items()
    }
    even, odd = learned.split_half(t)
    scores = {
        "learned": learned.score(predicted, t.y, t.groups, tm.predicts_time, noise),
        **scores,
        "split-half": learned.score(even, odd, t.groups, True, noise),
    }
    hw = records[0].hardware
    analytic = t.X[:, COLUMNS.index("analytic_log_seconds")]
    same_order = 0
    for rows in _groups(t.groups).values():
        if len(rows) >= 2:
            same_order += bool(np.array_equal(np.argsort(predicted[rows]), np.argsort(analytic[rows])))
    return {
        "hardware_id": records_path.name.split(".")[0],
        "hardware": hw,
        "records": len(records),
        "measurements": len(t.y),
        "kernels": kernels,
        "folds": k,
        "model": {"objective": tm.objective, "columns": len(tm.columns), "trees": len(tm.trees), **params},
        "scores": {name: vars(s) for name, s in scores.items()},
        "same_order_groups": same_order,
        "feature_seconds_per_record": feature_seconds / max(1, len(records)),
        "load_ours": load_times(model_path, LOAD_OURS),
        "load_lightgbm": load_times(model_path, LOAD_LIGHTGBM),
        "predict": predict_times(model_path, hw, pipeline_candidates(records)),
        "scatter": {"measured": t.y.tolist(), "learned": predicted.tolist(), "analytic": analytic.tolist()},
    }


def _groups(keys: tuple[object, ...]) -> dict[object, list[int]]:
    by: dict[object, list[int]] = {}
    for i, g in enumerate(keys):
        by.setdefault(g, []).append(i)
    return by


def describe_hw(hw: dict[str, object]) -> str:
    gpu = f", GPU {hw['gpu']}" if hw.get("gpu") else ""
    return (
        f"{hw['cpu_model']}, {hw['cores']} usable cores, SIMD {8 * int(hw['simd_bytes'])} bit, "  # type: ignore[call-overload]
        f"L2 {int(hw['l2_bytes']) // 1024} KiB, L3 {int(hw['l3_bytes']) // 2**20} MiB{gpu}"  # type: ignore[call-overload]
    )


def markdown(
    results: list[dict[str, object]],
    command: str,
    plot: str | None,
    quiet_predict: dict[str, dict[str, object]] | None = None,
    quiet_where: str = "",
) -> str:
    lines = [
        "# Learned cost model vs the analytic model",
        "",
        f"Made by `{command}` from the committed records (`costmodel/data/`) and shipped models "
        "(`costmodel/models/`); `costmodel/data/README.md` says how each machine was measured.",
        "",
        "Every figure is on held-out kernels: grouped k-fold cross-validation by kernel (a fold's "
        "kernels, and their near-duplicates, are never in its training set), the shipped model's "
        "configuration retrained per fold. Groups are (kernel, size) with at least two timed candidates. "
        "top-1: the pick is within 5% of the fastest (the pipeline's tie rule); regret: time of the pick / "
        "time of the fastest; Kendall tau: mean over groups of predicted vs measured order; MAPE: mean "
        "|predicted / measured - 1| of time, over every measurement.",
        "",
    ]
    for r in results:
        s = r["scores"]  # type: ignore[index]
        m = r["model"]  # type: ignore[index]
        p = r["predict"]  # type: ignore[index]
        lo, ll = r["load_ours"], r["load_lightgbm"]  # type: ignore[index]
        lines += [
            f"## `{r['hardware_id']}`: {describe_hw(r['hardware'])}",  # type: ignore[arg-type]
            "",
            f"{r['records']} records, {r['measurements']} timed measurements of {r['kernels']} kernels, "
            f"{s['oracle']['groups']} groups; {r['folds']}-fold. Model: {m['objective']} over "  # type: ignore[index]
            f"{m['columns']} columns, {m['trees']} trees of at most {m.get('num_leaves')} leaves.",  # type: ignore[index]
            "",
            "| predictor | top-1 (within 5%) | top-1 strict | mean regret | geomean regret | max regret "
            "| Kendall tau (groups) | tau, separated pairs | MAPE |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in ("learned", "analytic", "always-njit", "oracle", "split-half"):
            v = s[name]  # type: ignore[index]
            mape = f"{v['mape']:.2f}" if v["mape"] is not None else "n/a"
            lines.append(
                f"| {name} | {v['top1']:.1%} | {v['top1_strict']:.1%} | {v['mean_regret']:.3f} | "
                f"{v['geomean_regret']:.3f} | {v['max_regret']:.2f} | {v['kendall_tau']:.3f} ({v['tau_groups']}) | "
                f"{v['kendall_tau_separated']:.3f} | {mape} |"
            )
        sep = s["analytic"]  # type: ignore[index]
        lines += [
            "",
            f"Separated pairs: {sep['separated_pairs']} of the {sep['pairs']} candidate pairs in these groups "
            "have measured times further apart than both measurements' noise and 5%. split-half: each "
            "candidate's best even-numbered timed call judged against its best odd-numbered one.",
        ]
        le, an = s["learned"], s["analytic"]  # type: ignore[index]
        met = {
            "geomean regret": le["geomean_regret"] <= 1.10,
            "top-1": le["top1"] >= 0.70,
            "Kendall tau": le["kendall_tau"] >= 0.8,
            "better than analytic on regret": le["geomean_regret"] < an["geomean_regret"],
            "predict a kernel": p["learned_max_ms"] < 50,  # type: ignore[index]
        }
        lines += [
            "",
            "| issue target | target | learned, measured | met |",
            "|---|---|---|---|",
            f"| geomean regret | {TARGETS['geomean regret']} | {le['geomean_regret']:.3f} | {_yes(met['geomean regret'])} |",
            f"| top-1 | {TARGETS['top-1']} | {le['top1']:.1%} | {_yes(met['top-1'])} |",
            f"| Kendall tau | {TARGETS['Kendall tau']} | {le['kendall_tau']:.3f} | {_yes(met['Kendall tau'])} |",
            f"| (beside it, not the issue's metric: tau over separated pairs) | ≥ 0.8 | "
            f"{le['kendall_tau_separated']:.3f} | {_yes(le['kendall_tau_separated'] >= 0.8)} |",
            f"| strictly better than analytic on regret | < {an['geomean_regret']:.3f} | {le['geomean_regret']:.3f} | "
            f"{_yes(met['better than analytic on regret'])} |",
            f"| predict all candidates of a kernel | {TARGETS['predict a kernel']} | median "
            f"{p['learned_median_ms']:.1f} ms, 90th percentile {p['learned_p90_ms']:.1f} ms, max "  # type: ignore[index]
            f"{p['learned_max_ms']:.1f} ms | {_yes(met['predict a kernel'])} |",  # type: ignore[index]
            "",
            f"Cost of ranking (measured on the machine that ran this script, the 2-core one, in a process that "
            f"has imported `optcompiler.pipeline`): importing optc's tree reader (`costmodel.model`) "
            f"{1e3 * lo[0]:.1f} ms and reading this model {1e3 * lo[1]:.1f} ms, no lightgbm; the same with "  # type: ignore[index]
            f"lightgbm: `import lightgbm` {1e3 * ll[0]:.0f} ms, then {1e3 * ll[1]:.1f} ms (medians of 3 "  # type: ignore[index]
            f"fresh processes). Predicting every candidate of a kernel as the pipeline does "
            f"(`pipeline.rank` over every variant `explore` makes, then the original as the baseline; "
            f"{p['groups']} (kernel, size) profiles of {p['kernels']} kernels, median "  # type: ignore[index]
            f"{p['candidates_median']:g} candidates, at most {p['candidates_max']}; best of 3 runs, no analysis remembered "  # type: ignore[index]
            f"from an earlier profile): learned median {p['learned_median_ms']:.1f} ms, 90th percentile "  # type: ignore[index]
            f"{p['learned_p90_ms']:.1f} ms, max {p['learned_max_ms']:.1f} ms; the analytic model alone "  # type: ignore[index]
            f"median {p['analytic_median_ms']:.1f} ms, 90th percentile {p['analytic_p90_ms']:.1f} ms, max "  # type: ignore[index]
            f"{p['analytic_max_ms']:.1f} ms. Slowest: "  # type: ignore[index]
            + ", ".join(
                f"{x['kernel']} ({x['candidates']} candidates) {x['ms']:.0f} ms" for x in p["slowest"][:3]
            )  # type: ignore[index]
            + ".",
            "",
        ]
        quiet = (quiet_predict or {}).get(str(r["hardware_id"]))
        if quiet:
            lines += [
                f"The same prediction timing on a quiet machine ({quiet_where}, `python bench/costmodel.py "
                f"--predict-only` there, `costmodel_predict.json`): learned median {quiet['learned_median_ms']:.1f} "
                f"ms, 90th percentile {quiet['learned_p90_ms']:.1f} ms, max {quiet['learned_max_ms']:.1f} ms "
                f"({quiet['slowest'][0]['kernel']}, {quiet['slowest'][0]['candidates']} candidates).",
                "",
            ]
    if plot:
        lines += [
            f"![predicted vs measured]({plot})",
            "",
            f"`{plot}`: out-of-fold predicted vs measured seconds per measurement, learned and analytic, "
            "one panel per machine (the diagonal is a perfect prediction).",
            "",
        ]
    else:
        lines += ["(No scatter plot: matplotlib is not installed; `pip install matplotlib` and rerun.)", ""]
    lines += [
        "## Reading it",
        "",
        *reading(results),
        "- The pipeline ranks with the learned model only on a machine whose hardware id has a model "
        "(shipped, or made by `optc calibrate`), and then still measures its top contenders before choosing.",
        "- `costmodel_calibrate.md`: a default-budget `optc calibrate` run on the 2-core machine "
        "(10.6 minutes end to end) and the held-out figures of the model it made.",
        "",
    ]
    return "\n".join(lines)


def reading(results: list[dict[str, object]]) -> list[str]:
    """The figures behind the conclusions, from this run."""
    out = []
    for r in results:
        s = r["scores"]  # type: ignore[index]
        le, an, half = s["learned"], s["analytic"], s["split-half"]  # type: ignore[index]
        p = r["predict"]  # type: ignore[index]
        same = (
            f"the two predict the same order (argsort) in {r['same_order_groups']} of {an['groups']} groups"
        )
        if abs(le["kendall_tau"] - an["kendall_tau"]) < 0.005:
            why = (
                f"Learned and analytic mean taus ({le['kendall_tau']:.4f}, {an['kendall_tau']:.4f}) agree "
                f"because {same}: the residual model's trees split mostly on what all candidates of a "
                f"kernel share (while loops, reductions, flops per byte), which moves a kernel's time "
                f"(MAPE {an['mape']:.2f} -> {le['mape']:.2f}) more than its candidates' order."
            )
        else:
            why = f"Learned and analytic mean taus: {le['kendall_tau']:.3f} and {an['kendall_tau']:.3f}; {same}."
        better = "ahead of" if le["kendall_tau_separated"] > an["kendall_tau_separated"] else "not ahead of"
        out.append(
            f"- `{r['hardware_id']}`: plain Kendall tau cannot reach 0.8 against these records: the measured "
            f"order does not reproduce itself beyond tau {half['kendall_tau']:.3f} (split-half: each "
            f"candidate's even-numbered timed calls against its odd-numbered ones). {why} On the "
            f"{an['separated_pairs']} pairs measured apart beyond their noise the learned model is {better} "
            f"the analytic one (tau {le['kendall_tau_separated']:.3f} vs {an['kendall_tau_separated']:.3f}; "
            "a predicted tie there counts as a miss)."
        )
        out.append(
            f"- `{r['hardware_id']}`: geomean regret {le['geomean_regret']:.3f} vs analytic "
            f"{an['geomean_regret']:.3f}, top-1 {le['top1']:.1%} vs {an['top1']:.1%}; predicting all "
            f"candidates of a kernel took at most {p['learned_max_ms']:.0f} ms here (a loaded machine)."  # type: ignore[index]
        )
    out += [
        "- Predicting is mostly the analysis of each candidate's IR (`analytic.analyze`: loop nests, "
        "accesses, reuse), made once per candidate and shared by the features and the analytic "
        "estimate. The candidates of a kernel share most of their statements: within a profile the "
        "analysis builds and charges a loop (or lowers an array statement) once per state and copies it "
        "into the other candidates, and the syntax counts are summed per subterm; the timing above starts "
        "each profile with those memos emptied. The trees cost about 0.05 ms a candidate; kernels with "
        "~30 candidates are the slowest.",
        "- The 2-core records were taken while other work loaded the machine (load average 2.5–5.2 on 2 "
        "cores): parallel candidates' times there are mostly noise, and 'always njit' is as good as any model.",
    ]
    return out


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def scatter(results: list[dict[str, object]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 5.2), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        sc = r["scatter"]  # type: ignore[index]
        measured = np.exp(np.array(sc["measured"]))
        for key, colour in (("analytic", "tab:orange"), ("learned", "tab:blue")):
            predicted = np.exp(np.array(sc[key], dtype=float))
            ok = np.isfinite(predicted)
            ax.scatter(measured[ok], predicted[ok], s=7, alpha=0.5, c=colour, label=key)
        lo = max(1e-9, float(measured.min()) / 3)
        hi = float(measured.max()) * 3
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured seconds (min of repeats)")
        ax.set_ylabel("predicted seconds (held-out kernels)")
        ax.set_title(f"{r['hardware_id']}: {r['hardware']['cores']} cores")  # type: ignore[index]
        ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--folds", type=int, default=None, help="default: 5, or 4 below 50 kernels")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument(
        "--predict-only",
        action="store_true",
        help="only time predicting every kernel's candidates (no cross-validation, no lightgbm): "
        "writes costmodel_predict.json, e.g. on a quiet machine",
    )
    args = p.parse_args(argv)
    if args.predict_only:
        return predict_only(args.out)
    results = []
    for records_path in sorted(DATA.glob("*.jsonl.gz")):
        model_path = MODELS / (records_path.name.split(".")[0] + ".txt")
        if not model_path.exists():
            print(f"{records_path.name}: no shipped model, skipped", file=sys.stderr)
            continue
        print(f"{records_path.name}: cross-validating ...", file=sys.stderr)
        results.append(machine(records_path, model_path, args.folds))
    if not results:
        print("error: no machine has both records and a model", file=sys.stderr)
        return 2
    results.sort(key=lambda r: -int(r["hardware"]["cores"]))  # type: ignore[index]
    args.out.mkdir(parents=True, exist_ok=True)
    plot_name = "costmodel_scatter.png"
    plotted = not args.no_plot and scatter(results, args.out / plot_name)
    command = "python bench/costmodel.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    quiet_path = args.out / "costmodel_predict.json"
    quiet = json.loads(quiet_path.read_text(encoding="utf-8")) if quiet_path.exists() else {}
    where = quiet.get("ran_on", {})
    quiet_where = f"{where.get('cpus')} CPUs, load average {where.get('load', [0])[0]:.1f}" if where else ""
    (args.out / "costmodel.md").write_text(
        markdown(results, command, plot_name if plotted else None, quiet.get("predict"), quiet_where),
        encoding="utf-8",
    )
    for r in results:
        r.pop("scatter")
    (args.out / "costmodel.json").write_text(
        json.dumps(results, indent=1, default=_json) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out / 'costmodel.md'}", file=sys.stderr)
    return 0


def predict_only(out: Path) -> int:
    """`--predict-only`: the prediction times of every machine with records and a model, as JSON."""
    import os
    import platform

    results = {}
    for records_path in sorted(DATA.glob("*.jsonl.gz")):
        model_path = MODELS / (records_path.name.split(".")[0] + ".txt")
        if not model_path.exists():
            continue
        records = list(dataset.read(records_path))
        print(f"{records_path.name}: timing predictions ...", file=sys.stderr)
        results[records_path.name.split(".")[0]] = predict_times(
            model_path, records[0].hardware, pipeline_candidates(records)
        )
    out.mkdir(parents=True, exist_ok=True)
    ran_on = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
    }
    text = json.dumps({"ran_on": ran_on, "predict": results}, indent=1) + "\n"
    (out / "costmodel_predict.json").write_text(text, encoding="utf-8")
    print(text)
    return 0


def _json(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else str(value)


if __name__ == "__main__":
    sys.exit(main())
