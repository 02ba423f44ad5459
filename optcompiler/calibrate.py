"""`optc calibrate`: measure corpus kernels on this machine, train its cost model, use it from then on.

    optc calibrate                                  # default budget: ~10 minutes of measuring
    optc calibrate --budget-minutes 3 --kernels gemv,stencil9 --sizes 0,1
    optc calibrate --scheduler tcp://10.0.0.5:8786  # farm kernels out to a Dask cluster

Why: the analytic model is a guess from first principles and the shipped learned models fit the
machines they were measured on only (a model is looked up by the exact hardware id). Measuring the
user's own machine is the only way to learn what its cores, caches and Numba build actually do.

What it does:
  1. measures a budgeted subset of the corpus with `costmodel.measure` (fresh worker process per
     kernel, warm-up, min/median of repeats, thread count fixed), appending each record to
     `<cache>/costmodel/data/<hardware-id>.jsonl.gz` as it arrives: a rerun skips what is there,
     so an interrupted or budget-limited run resumes, and each run adds kernels. Kernels are taken
     in a spread order (every third name, then the ones between), so a short budget still covers
     different kinds of kernels. The budget stops *starting* kernels; the one running finishes;
  2. trains (`costmodel.learned`) on everything measured on that machine so far, over the features
     known before compiling (what the pipeline can compute): it fine-tunes a shipped model (this
     machine's, else the one made from the most measurements: its trees, then more fitted to what
     it gets wrong here), which knows the whole corpus where a short budget measures a few
     kernels; with enough kernels for grouped cross-validation, the fine-tuned model competes with
     models trained from scratch (residual and regression) on held-out kernels and the best is kept;
  3. stores the model and its report as `<cache>/costmodel/models/<hardware-id>.{txt,md}`, where
     `costmodel.model.find` looks first. When cross-validation says the model ranks worse than the
     analytic model on held-out kernels, nothing is installed (the report says so), so calibrating
     never makes the choice worse than the default.

`<cache>` is `$OPTC_CACHE_DIR`, else `~/.cache/optc`. With `--scheduler`, each kernel is one task
on the Dask cluster (`pip install 'optc[calibrate]'`); workers measure on their own machine and
send records back, and a model is trained for every hardware id that reported, so a lab can
calibrate many machines from one command (share the cache directory to use the models there).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from optcompiler.costmodel import dataset, measure
from optcompiler.costmodel.dataset import Record

DEFAULT_BUDGET_MINUTES = 10.0  # measuring; training adds about a minute on a 2-core machine
FINE_TUNE_ESTIMATORS = 50  # trees added to a shipped model by fine-tuning
MIN_CV_KERNELS = 4  # fewer kernels with timed candidates: no grouped cross-validation
IN_FLIGHT_PER_WORKER = 2


class CalibrateError(Exception):
    """A mistake in the command line or the environment; one line, exit 2."""


@dataclass(frozen=True)
class Trained:
    hardware_id: str
    measurements: int
    kernels: int
    installed: bool
    model_path: Path
    report_path: Path
    summary: str


def cache_dir() -> Path:
    from optcompiler.cache import cache_root

    return cache_root() / "costmodel"


def records_path(hardware_id: str) -> Path:
    return cache_dir() / "data" / f"{hardware_id}.jsonl.gz"


def spread(names: Sequence[str], stride: int = 3) -> list[str]:
    """Every `stride`-th name, then the next offset, ...: a budget cut early still spans the
    alphabetically grouped families (gemm*, stencil*, csr*) instead of the first one only."""
    return [n for offset in range(stride) for n in names[offset::stride]]


def kernel_names(text: str | None) -> list[str]:
    from optcompiler import corpus

    known = corpus.names()
    if not text or text == "all":
        return spread(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CalibrateError(f"--kernels: unknown corpus kernel(s) {', '.join(unknown)}")
    if not names:
        raise CalibrateError("--kernels: no kernel named")
    return names


def size_indices(text: str | None) -> list[int] | None:
    if not text or text == "all":
        return None
    try:
        indices = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CalibrateError(f"--sizes takes indices like 0,1,2,3 or 'all', got {text!r}") from None
    if not indices or any(i < 0 for i in indices):
        raise CalibrateError(f"--sizes takes non-negative indices, got {text!r}")
    return indices


# ---- measuring -------------------------------------------------------------------------------------


def measure_local(
    names: Sequence[str],
    top_k: int,
    settings: measure.Settings,
    sizes: Sequence[int] | None,
    deadline: float,
) -> list[Record]:
    """This machine, kernel after kernel, into its records file (resumable, progress bar)."""
    from optcompiler.costmodel.hardware import detect

    return measure.run(names, records_path(detect().id), top_k, settings, sizes, deadline=deadline)


def measure_kernel(
    name: str, top_k: int, settings: measure.Settings, sizes: Sequence[int] | None, done: set[tuple]
) -> list[Record]:
    """One kernel on whichever machine runs this (a Dask worker): plan, measure into a scratch
    file, return the records. `done`: keys the client already holds (for any machine)."""
    import tempfile

    from optcompiler.errors import Unsupported

    try:
        plan = measure.plan_corpus_kernel(name, top_k, sizes)
    except (Unsupported, ValueError):
        return []
    with tempfile.TemporaryDirectory(prefix="optc-calibrate-") as tmp:
        return measure.measure_plan(plan, Path(tmp) / "records.jsonl", settings, set(done))


def measure_dask(
    address: str,
    names: Sequence[str],
    top_k: int,
    settings: measure.Settings,
    sizes: Sequence[int] | None,
    deadline: float,
    client_factory: Callable[[str], object] | None = None,
) -> list[Record]:
    """Each kernel a task on the cluster at `address`; records are appended to the records file of
    the hardware id they carry as they come back. Only a few tasks per worker are in flight, so
    the budget (which stops submitting) means something."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise CalibrateError(
            "--scheduler needs Dask distributed: pip install 'optc[calibrate]' (or 'dask[distributed]')"
        ) from None
    try:
        client = (client_factory or (lambda a: Client(a, timeout=30)))(address)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CalibrateError(f"--scheduler {address}: cannot connect: {exc}") from None
    known: set[tuple] = set()
    data = cache_dir() / "data"
    if data.exists():
        for path in sorted(data.glob("*.jsonl.gz")):
            known |= dataset.done_keys(path)
    pending = list(names)
    run_id = f"{os.getpid()}-{time.time_ns()}"  # a rerun's tasks never reuse a stale result
    progress = measure.Progress(len(pending))
    written: list[Record] = []
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))  # type: ignore[attr-defined]
        futures = as_completed()
        names_of: dict[object, str] = {}

        def submit() -> None:
            if pending and time.monotonic() < deadline:
                name = pending.pop(0)
                done = {k for k in known if k[0] == name}
                future = client.submit(  # type: ignore[attr-defined]
                    measure_kernel,
                    name,
                    top_k,
                    settings,
                    sizes,
                    done,
                    pure=False,
                    key=f"optc-measure-{name}-{run_id}",
                )
                names_of[future] = name
                futures.add(future)

        for _ in range(workers * IN_FLIGHT_PER_WORKER):
            submit()
        for future in futures:
            name = names_of.pop(future)
            try:
                records = future.result()
            except Exception as exc:  # one kernel's failure must not stop the others
                progress.step(f"{name}: failed on the cluster ({type(exc).__name__}: {exc})")
            else:
                for hardware_id in sorted({r.hardware_id for r in records}):
                    dataset.append(
                        records_path(hardware_id), [r for r in records if r.hardware_id == hardware_id]
                    )
                written.extend(records)
                progress.step(f"{name}: {len(records)} records, {sum(r.timed for r in records)} timed")
            submit()
        if pending:
            progress.show(f"budget spent, {len(pending)} kernels not started; rerun to resume")
    finally:
        progress.close()
        client.close()  # type: ignore[attr-defined]
    return written


# ---- training ----------------------------------------------------------------------------------------


def base_model(hardware_id: str) -> tuple[Path, object] | None:
    """The shipped model to fine-tune for `hardware_id`: its own if the package has one, else the
    one trained on the most measurements; only models the pipeline can rank with (time, no LLVM
    columns) over exactly the columns calibration trains on. None when the package ships none."""
    from optcompiler.costmodel import learned, model

    usable = []
    for path in sorted(model.SHIPPED.glob("*.txt")):
        try:
            base = learned.LearnedCostModel.load(path)
        except (learned.ModelError, ValueError):
            continue
        if base.objective in ("residual", "regression") and base.columns == learned.FEATURE_SETS["no-llvm"]:
            usable.append((path.stem == hardware_id, int(base.info_.get("measurements", 0)), path, base))
    if not usable:
        return None
    _, _, path, base = max(usable, key=lambda u: (u[0], u[1]))
    return path, base


def train(hardware_id: str, estimators: int = 100) -> Trained | None:
    """Train the model of `hardware_id` on all its records, fine-tuning a shipped model where the
    package has one (`base_model`); None when there is nothing to rank (no kernel with two timed
    candidates)."""
    from dataclasses import replace

    from optcompiler.costmodel import learned

    path = records_path(hardware_id)
    if not path.exists():
        return None
    t = learned.table(dataset.read(path))
    kernels = sorted(set(t.kernels))
    if not len(t.y) or learned.score(t.y, t.y, t.groups).groups == 0:
        return None
    columns = learned.FEATURE_SETS["no-llvm"]
    params = {"n_estimators": estimators, "min_child_samples": max(2, min(20, len(t.y) // 10))}
    objective: learned.Objective = "residual"
    found = base_model(hardware_id)
    base: learned.LearnedCostModel | None = found[1] if found else None  # type: ignore[assignment]
    tuned_params = {**params, "n_estimators": min(estimators, FINE_TUNE_ESTIMATORS)}
    tuned_key = f"learned/{base.objective}/no-llvm, fine-tuned {found[0].stem}" if found and base else ""
    fine_tune = base is not None
    install, lines = True, []
    if len(kernels) >= MIN_CV_KERNELS:
        folds = min(5, len(kernels))
        evaluation = learned.evaluate(t, folds, ("residual", "regression"), ("no-llvm",), **params)
        if base is not None:
            predicted = learned.cross_validate(t, base.objective, columns, folds, base, **tuned_params)
            tuned = learned.score(predicted, t.y, t.groups, True, t.noise)
            results = {**evaluation.results, tuned_key: tuned}
            learned_keys = [k for k in results if k.startswith("learned/")]
            best = min(learned_keys, key=lambda k: (results[k].geomean_regret, -results[k].kendall_tau))
            evaluation = replace(evaluation, results=results, best=best)
        fine_tune = evaluation.best == tuned_key
        objective = base.objective if fine_tune and base else evaluation.best.split("/")[1]  # type: ignore[assignment]
        kept, analytic = evaluation.results[evaluation.best], evaluation.results["analytic"]
        install = kept.geomean_regret <= analytic.geomean_regret
        lines.append(evaluation.markdown())
        if not install:
            lines.append(
                "Not installed: on held-out kernels it ranks worse than the analytic model, which "
                "stays in use. Measure more kernels (rerun with a larger budget) and calibrate again.\n"
            )
    else:
        lines.append(
            f"{len(t.y)} measurements of {len(kernels)} kernel(s): too few kernels for grouped "
            f"cross-validation (need {MIN_CV_KERNELS}); trained without evaluation.\n"
        )
    if fine_tune and found is not None and base is not None:
        lines.append(
            f"Fine-tuned `{found[0].name}` (shipped, {base.info_.get('measurements', '?')} measurements of "
            f"{base.info_.get('kernels', '?')} kernels on machine {base.info_.get('hardware_id', found[0].stem)}): "
            f"its {base.num_trees} trees, then {tuned_params['n_estimators']} more per booster fitted to these "
            "records. The shipped model saw the corpus kernels measured on its own machine, so 'held-out' "
            "above means held out of these records only.\n"
        )
        model = learned.LearnedCostModel(objective=base.objective, columns=columns, **tuned_params)  # type: ignore[arg-type]
        model.fit(learned.select(t.X, columns), t.y, list(t.groups), base)
    else:
        model = learned.LearnedCostModel(objective=objective, columns=columns, **params)  # type: ignore[arg-type]
        model.fit(learned.select(t.X, columns), t.y, list(t.groups))
    models = cache_dir() / "models"
    model_path, report_path = models / f"{hardware_id}.txt", models / f"{hardware_id}.md"
    staged = models / f"{hardware_id}.rejected.txt"
    model.save(
        model_path if install else staged,
        {
            "hardware_id": hardware_id,
            "measurements": len(t.y),
            "kernels": len(kernels),
            "by": "optc calibrate",
            "fine_tuned_from": found[0].name if fine_tune and found else None,
        },
    )
    if not install and model_path.exists():
        model_path.unlink()  # an older model that the new data no longer supports
    report = (
        f"# optc calibrate: model of `{hardware_id}`\n\nRecords: `{path}`; objective {objective} over the "
        f"{len(columns)} features known before compiling.\n\n" + "\n".join(lines)
    )
    report_path.write_text(report, encoding="utf-8")
    tuned_from = f", fine-tuned from shipped {found[0].stem}" if fine_tune and found else ""
    summary = f"{objective} model{tuned_from}, {len(t.y)} measurements of {len(kernels)} kernels"
    return Trained(hardware_id, len(t.y), len(kernels), install, model_path, report_path, summary)


# ---- the command line --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CalibrateError(message)  # one line, like every other optc error


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = _Parser(
        prog="optc calibrate",
        description="Measure corpus kernels on this machine (or a Dask cluster's), retrain the learned "
        "cost model and store it per hardware id under the optc cache, where the pipeline finds it.",
    )
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=DEFAULT_BUDGET_MINUTES,
        help=f"stop starting kernels after this many minutes (default {DEFAULT_BUDGET_MINUTES:g})",
    )
    p.add_argument("--kernels", default=None, help="comma-separated corpus kernels (default: all, spread)")
    p.add_argument("--sizes", default=None, help="indices into each kernel's SIZES, e.g. 0,1 (default all)")
    p.add_argument("--top-k", type=int, default=3, help="variants per size by the analytic model (default 3)")
    p.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT", help="a Dask scheduler to farm out to"
    )
    p.add_argument(
        "--repeats", type=int, default=measure.Settings.repeats, help="most timed calls per measurement"
    )
    p.add_argument(
        "--budget", type=float, default=measure.Settings.budget, help="seconds of calls per measurement"
    )
    p.add_argument("--no-train", action="store_true", help="measure only")
    return p.parse_args(list(argv))


def run(args: argparse.Namespace, client_factory: Callable[[str], object] | None = None) -> int:
    if not args.budget_minutes > 0 or not math.isfinite(args.budget_minutes):
        raise CalibrateError(f"--budget-minutes must be positive, got {args.budget_minutes:g}")
    if args.top_k < 1:
        raise CalibrateError("--top-k must be at least 1")
    names = kernel_names(args.kernels)
    sizes = size_indices(args.sizes)
    try:
        settings = measure.Settings(
            repeats=args.repeats, min_repeats=min(3, args.repeats), budget=args.budget
        )
    except ValueError as exc:
        raise CalibrateError(str(exc)) from None
    began = time.monotonic()
    deadline = began + 60 * args.budget_minutes
    if args.scheduler:
        records = measure_dask(args.scheduler, names, args.top_k, settings, sizes, deadline, client_factory)
    else:
        records = measure_local(names, args.top_k, settings, sizes, deadline)
    print(
        f"measured {len(records)} new records ({sum(r.timed for r in records)} timed) in "
        f"{time.monotonic() - began:.0f}s; records in {cache_dir() / 'data'}",
        file=sys.stderr,
    )
    if args.no_train:
        return 0
    for hardware_id in _hardware_ids(records):
        trained = train(hardware_id)
        if trained is None:
            print(
                f"{hardware_id}: no kernel with two timed candidates yet; nothing to train", file=sys.stderr
            )
            continue
        verdict = f"installed {trained.model_path}" if trained.installed else "not installed (see the report)"
        print(f"{hardware_id}: {trained.summary}: {verdict}; report {trained.report_path}", file=sys.stderr)
    return 0


def _hardware_ids(records: Iterable[Record]) -> list[str]:
    """Machines to (re)train: this one, and every one that sent records."""
    from optcompiler.costmodel.hardware import detect

    return sorted({detect().id, *(r.hardware_id for r in records)})


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(parse_args(sys.argv[1:] if argv is None else argv))
    except CalibrateError as exc:
        print(f"optc calibrate: error: {exc}", file=sys.stderr)
        return 2
    except dataset.DatasetError as exc:
        print(f"optc calibrate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optc calibrate: interrupted; what was measured is kept, rerun to resume", file=sys.stderr)
        return 130
