"""The learned cost model: LightGBM on measured candidates, judged on kernels it never saw.

    python -m optcompiler.costmodel.learned --data costmodel/data/<hardware-id>.jsonl.gz \\
        --folds 5 --out costmodel/models/<hardware-id>.txt

Why: the analytic model ranks from first principles and misses what a machine actually does
(which loops LLVM vectorizes, what a parallel region costs here, how the prefetchers treat a
stride). A model trained on measurements of this machine corrects it; the analytic prediction is
one of its features, so it learns the correction rather than starting from nothing.

Objectives compared (DESIGN.md, "Ranking labels"):
  regression   log-seconds of each candidate; ranks by predicted time, and also answers "how long"
               (CPU vs GPU, worth rewriting at all).
  residual     the same, learned as log(measured) - log(analytic): trees then model what the
               analytic model misses, and extrapolate to unseen sizes through it.
  lambdarank   LightGBM's ranker within (kernel, size) groups, relevance = speed binned in ~19%
               steps below the group's fastest (labels 0..30, as lambdarank wants). Gives an order,
               not seconds: `predict` returns -score, so lower is still better.

Evaluation is grouped k-fold over kernels (`dataset.kernel_folds`): a fold's test kernels are never
in its training set, and near-duplicates (alike names) are held out together. Metrics per
(kernel, size) group with at least two timed candidates: top-1 (the pick is within 5% of the
fastest: the pipeline's own tie rule), strict top-1, regret (time of the pick / time of the
fastest; mean and geometric mean), Kendall tau between predicted and measured order, and MAPE of
predicted time where the model predicts time. Baselines on the same groups: the analytic model,
"always njit of the original", and the oracle.

`LearnedCostModel` follows scikit-learn: parameters in `__init__`, learned state in attributes
ending in `_`, `fit/predict`, `save/load`; a saved model names its feature version and columns and
refuses to load against others.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from optcompiler.costmodel import dataset
from optcompiler.costmodel.dataset import Record
from optcompiler.costmodel.features import COLUMNS, FEATURE_VERSION, LLVM_COLUMNS

Objective = Literal["regression", "residual", "lambdarank"]
OBJECTIVES: tuple[Objective, ...] = ("regression", "residual", "lambdarank")
HEADER = "# optc learned cost model "
TIE = 0.05  # measured times within 5% count as equal (pipeline.NOISE)
MAX_LABEL = 30
LABEL_STEP = 0.25  # log2 units: one relevance level per ~19% slower than the fastest


class ModelError(ValueError):
    """A saved model that cannot be used here: another feature version, columns or format."""


class LearnedCostModel:
    """LightGBM over `features.COLUMNS`; predicts log-seconds (lambdarank: an order key)."""

    def __init__(
        self,
        objective: Objective = "regression",
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 50,
        columns: Sequence[str] = COLUMNS,
        random_state: int = 0,
        bags: int = 1,
        residual_weight: float = 0.5,
    ) -> None:
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.columns = tuple(columns)
        self.random_state = random_state
        # A residual model applies `residual_weight` of its correction to the analytic estimate
        # (shrinks towards the prior: a full correction fitted to ~120 kernels cost regret on held-out
        # ones). `bags` > 1 averages boosters on 80% row and column samples (seeds random_state, +1,
        # ...): it helped on the first records, not on the re-measured ones, and costs `bags` times
        # the prediction time, so one. Chosen by grouped cross-validation (costmodel/models/README.md).
        self.bags = bags
        self.residual_weight = residual_weight

    def _params(self, bag: int = 0) -> dict[str, object]:
        params: dict[str, object] = {
            "objective": "lambdarank" if self.objective == "lambdarank" else "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "min_data_in_bin": 1,
            "feature_pre_filter": False,
            "seed": self.random_state + bag,
            "deterministic": True,
            "num_threads": 1,
            "verbosity": -1,
        }
        if self.bags > 1:
            params.update(bagging_fraction=0.8, bagging_freq=1, feature_fraction=0.8)
        if self.objective == "lambdarank":
            params["lambdarank_truncation_level"] = 10
        return params

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: Sequence[object] | None = None,
        init_model: LearnedCostModel | None = None,
    ) -> LearnedCostModel:
        """X: rows of `features.vector` restricted to `columns` order (see `select`); y: measured
        log-seconds; groups: one key per row (kernel, size, ...), needed by lambdarank.
        `init_model`: fine-tune it (its trees, then `n_estimators` more fitted to what it still
        gets wrong on X) instead of starting from nothing; same objective and columns."""
        import lightgbm as lgb

        if init_model is not None and (
            init_model.objective != self.objective or tuple(init_model.columns) != self.columns
        ):
            raise ValueError(
                f"cannot fine-tune a {init_model.objective} model over {len(init_model.columns)} columns "
                f"as a {self.objective} model over {len(self.columns)}"
            )

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.columns) or len(y) != len(X):
            raise ValueError(f"X must be (n, {len(self.columns)}) and y (n,), got {X.shape} and {y.shape}")
        if self.objective == "residual":
            y = y - self._analytic(X)
        if self.objective == "lambdarank":
            if groups is None:
                raise ValueError("lambdarank needs groups")
            order, sizes, labels = _rank_layout(list(groups), y)
            rows, target, group = X[order], labels, sizes
        else:
            rows, target, group = X, y, None
        bases = init_model.boosters_ if init_model is not None else [None]
        self.boosters_ = [  # a Dataset a booster: LightGBM binds one to the model it continues
            lgb.train(
                self._params(bag),
                lgb.Dataset(rows, target, group=group, feature_name=list(self.columns)),
                num_boost_round=self.n_estimators,
                init_model=bases[bag % len(bases)],
            )
            for bag in range(max(self.bags, 1))
        ]
        self.feature_version_ = FEATURE_VERSION
        return self

    @property
    def num_trees(self) -> int:
        return sum(b.num_trees() for b in self.boosters_)

    @property
    def scale(self) -> float:
        """What the boosters' summed outputs are multiplied by: their mean, and for a residual
        model the weight of its correction."""
        weight = self.residual_weight if self.objective == "residual" else 1.0
        return weight / len(self.boosters_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted log-seconds per row (lambdarank: minus its score, an order key only)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.columns):
            raise ValueError(f"X must have {len(self.columns)} columns, got shape {X.shape}")
        raw = self.scale * sum(b.predict(X, num_threads=1) for b in self.boosters_)
        if self.objective == "residual":
            return raw + self._analytic(X)
        return -raw if self.objective == "lambdarank" else raw

    def _analytic(self, X: np.ndarray) -> np.ndarray:
        column = X[:, self.columns.index("analytic_log_seconds")]
        return np.where(np.isfinite(column), column, 0.0)

    @property
    def predicts_time(self) -> bool:
        return self.objective != "lambdarank"

    def save(self, path: Path, info: Mapping[str, object] | None = None) -> None:
        """LightGBM's text format after one header line with the feature version and columns."""
        header = {
            "feature_version": self.feature_version_,
            "columns": list(self.columns),
            "objective": self.objective,
            "params": {
                k: getattr(self, k)
                for k in (
                    "n_estimators",
                    "learning_rate",
                    "num_leaves",
                    "min_child_samples",
                    "bags",
                    "residual_weight",
                )
            },
            "scale": self.scale,  # optc's own reader (`model.py`) sums every tree times this
            **(info or {}),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        boosters = "".join(b.model_to_string() for b in self.boosters_)  # one after the other
        text = HEADER + json.dumps(header, sort_keys=True) + "\n" + boosters
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LearnedCostModel:
        import lightgbm as lgb

        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"{path}: cannot read the model: {exc}") from exc
        first, _, body = text.partition("\n")
        if not first.startswith(HEADER):
            raise ModelError(f"{path}:1: not an optc learned cost model (no header line)")
        try:
            header = json.loads(first[len(HEADER) :])
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}:1: unreadable header: {exc}") from exc
        columns = header.get("columns", [])
        if header.get("feature_version") != FEATURE_VERSION or not set(columns) <= set(COLUMNS):
            raise ModelError(
                f"{path}:1: trained on feature version {header.get('feature_version')!r}, this optc computes "
                f"version {FEATURE_VERSION}; retrain it (python -m optcompiler.costmodel.learned)"
            )
        model = cls(objective=header["objective"], columns=header["columns"], **header.get("params", {}))
        model.boosters_ = [lgb.Booster(model_str=part) for part in _boosters(body)]
        model.feature_version_ = header["feature_version"]
        model.info_ = header
        return model


def _boosters(body: str) -> list[str]:
    """The LightGBM model texts saved one after the other (`save`): each starts with a `tree` line."""
    parts: list[list[str]] = []
    for line in body.splitlines(keepends=True):
        if line.strip() == "tree" or not parts:
            parts.append([])
        parts[-1].append(line)
    return ["".join(p) for p in parts]


def _rank_layout(groups: list[object], y: np.ndarray) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Rows ordered by group (lambdarank wants each query contiguous), group sizes, and relevance
    labels: MAX_LABEL for a group's fastest, one less per LABEL_STEP of log2 slowdown."""
    keys = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    order = np.array(sorted(range(len(groups)), key=lambda i: (keys[groups[i]], i)))
    sizes: list[int] = []
    labels = np.empty(len(order), dtype=np.int64)
    start = 0
    while start < len(order):
        end = start
        key = groups[order[start]]
        while end < len(order) and groups[order[end]] == key:
            end += 1
        ys = y[order[start:end]]
        slow = (ys - ys.min()) / math.log(2)  # log2(t / t_fastest); y is natural log
        labels[start:end] = np.clip(MAX_LABEL - np.round(slow / LABEL_STEP), 0, MAX_LABEL)
        sizes.append(end - start)
        start = end
    return order, sizes, labels


# ---- data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Timed, agreeing records as a feature matrix with their group keys."""

    X: np.ndarray
    y: np.ndarray  # log seconds_min
    kernels: tuple[str, ...]
    groups: tuple[tuple[str, int, str, int], ...]  # (kernel, size, hardware, threads)
    original: np.ndarray  # bool: the original under plain njit
    records: tuple[Record, ...]

    @property
    def noise(self) -> np.ndarray:
        """Each measurement's (median - min) / min (0 where it was timed once, or no record is kept)."""
        if len(self.records) != len(self.y):
            return np.zeros(len(self.y))
        return np.array([r.noise or 0.0 for r in self.records], dtype=np.float64)


def table(records: Iterable[Record]) -> Table:
    """Features for every timed record whose result agreed with the original's (a candidate that
    computes something else is never a contender, so it is no training example), one record per
    program in a group (`dataset.distinct`: twins would be trained and judged on noise)."""
    from optcompiler.costmodel.features import record_features, vector

    rows, ys, kernels, groups, original, kept = [], [], [], [], [], []
    contenders = [
        r
        for r in dataset.latest(records)
        if r.timed and r.agrees is not False and r.seconds_min and r.seconds_min > 0
    ]
    for r in dataset.distinct(contenders):
        rows.append(vector(record_features(r)))
        ys.append(math.log(r.seconds_min))
        kernels.append(r.kernel)
        groups.append((r.kernel, r.size, r.hardware_id, r.threads))
        original.append(r.is_original)
        kept.append(r)
    X = np.vstack(rows) if rows else np.empty((0, len(COLUMNS)))
    return Table(X, np.array(ys), tuple(kernels), tuple(groups), np.array(original, dtype=bool), tuple(kept))


def select(X: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    return X[:, [COLUMNS.index(c) for c in columns]]


FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all": COLUMNS,
    "no-llvm": tuple(c for c in COLUMNS if c not in LLVM_COLUMNS),  # what is known before compiling
}


# ---- metrics ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    groups: int
    top1: float  # pick within TIE of the fastest
    top1_strict: float
    mean_regret: float
    geomean_regret: float
    max_regret: float
    kendall_tau: float  # tau-b, mean over the groups where it is defined
    mape: float | None  # of predicted time, where the predictor predicts time
    tau_groups: int = (
        0  # groups where tau-b is defined (neither the prediction nor the measurement all equal)
    )
    # Kendall tau over the pairs whose measured times differ by more than the noise of both
    # measurements and the 5% tie (`separated`): the order a re-measurement would keep. NaN without noise.
    kendall_tau_separated: float = math.nan
    separated_pairs: int = 0
    pairs: int = 0


def separated(m_i: float, m_j: float, noise_i: float, noise_j: float) -> bool:
    """Whether two measured log-times are ordered beyond their noise: they differ by more than
    either measurement's (median - min) / min and more than the 5% tie. Closer pairs swap order
    between two measurements of the same candidates (tests/costmodel: the split-half check)."""
    return abs(m_i - m_j) > max(math.log1p(max(noise_i, 0.0)), math.log1p(max(noise_j, 0.0)), math.log1p(TIE))


def score(
    predicted: np.ndarray,
    measured: np.ndarray,
    groups: Sequence[object],
    predicts_time: bool = True,
    noise: np.ndarray | None = None,
) -> Scores:
    """Ranking quality of `predicted` (log-seconds or an order key) against `measured` log-seconds
    within each group of at least two candidates. `noise`: each measurement's (median - min) / min,
    for the tau over separated pairs (plain tau-b is computed the same either way)."""
    from scipy.stats import kendalltau

    by: dict[object, list[int]] = {}
    for i, g in enumerate(groups):
        by.setdefault(g, []).append(i)
    regrets, top1, strict, taus, taus_separated = [], [], [], [], []
    n_pairs = n_separated = 0
    for rows in by.values():
        if len(rows) < 2:
            continue
        p, m = predicted[rows], measured[rows]
        if noise is not None:
            concordant = discordant = count = 0
            for a in range(len(rows)):
                for b in range(a + 1, len(rows)):
                    n_pairs += 1
                    if not separated(m[a], m[b], noise[rows[a]], noise[rows[b]]):
                        continue
                    count += 1
                    sign = np.sign(p[a] - p[b]) * np.sign(m[a] - m[b])
                    concordant += int(sign > 0)
                    discordant += int(sign < 0)
            n_separated += count
            if count:  # tau-a over the separated pairs: a predicted tie counts as neither, but counts
                taus_separated.append((concordant - discordant) / count)
        pick = int(np.argmin(p))  # ties: the first, i.e. no credit for predicting equal times
        best = float(m.min())
        regret = math.exp(float(m[pick]) - best)
        regrets.append(regret)
        top1.append(regret <= 1 + TIE)
        strict.append(int(np.argmin(m)) == pick)
        if np.ptp(p) > 0 and np.ptp(m) > 0:
            tau = kendalltau(p, m).statistic
            if math.isfinite(tau):
                taus.append(float(tau))
    mape = None
    if predicts_time and len(predicted):
        mape = float(np.mean(np.abs(np.exp(predicted - measured) - 1.0)))
    if not regrets:
        return Scores(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, mape)
    return Scores(
        groups=len(regrets),
        top1=float(np.mean(top1)),
        top1_strict=float(np.mean(strict)),
        mean_regret=float(np.mean(regrets)),
        geomean_regret=float(math.exp(np.mean(np.log(regrets)))),
        max_regret=float(max(regrets)),
        kendall_tau=float(np.mean(taus)) if taus else math.nan,
        mape=mape,
        tau_groups=len(taus),
        kendall_tau_separated=float(np.mean(taus_separated)) if taus_separated else math.nan,
        separated_pairs=n_separated,
        pairs=n_pairs,
    )


def baseline_predictions(t: Table) -> dict[str, tuple[np.ndarray, bool]]:
    """What the learned model is compared with, as predictions over the same rows."""
    analytic = t.X[:, COLUMNS.index("analytic_log_seconds")]
    return {
        "analytic": (np.where(np.isfinite(analytic), analytic, np.inf), True),
        # the original under njit first, everything else after it, in no particular order
        "always-njit": (np.where(t.original, 0.0, 1.0), False),
        "oracle": (t.y.copy(), True),
    }


def split_half(t: Table) -> tuple[np.ndarray, np.ndarray]:
    """Each measurement's log min-time over its even-numbered and over its odd-numbered timed calls
    (the calls were interleaved rounds): scoring one half against the other says how reproducible
    the measured order itself is, a ceiling no model of these records can be judged above."""
    if len(t.records) != len(t.y):  # no timed calls kept: both halves are the measurement
        return t.y.copy(), t.y.copy()
    even, odd = [], []
    for r in t.records:
        times = [x for x in r.times if x > 0] or [float(r.seconds_min or 1.0)]
        even.append(math.log(min(times[0::2])))
        odd.append(math.log(min(times[1::2] or times)))
    return np.array(even), np.array(odd)


def cross_validate(
    t: Table,
    objective: Objective,
    columns: Sequence[str],
    folds: int,
    init_model: LearnedCostModel | None = None,
    **params: object,
) -> np.ndarray:
    """Out-of-fold predictions: each row predicted by a model that never saw its kernel in these
    records (`init_model`, fine-tuned per fold, was trained elsewhere: on another machine's records)."""
    out = np.full(len(t.y), np.nan)
    for train_kernels, test_kernels in dataset.kernel_folds(t.kernels, folds):
        train = np.array([k in train_kernels for k in t.kernels])
        test = np.array([k in test_kernels for k in t.kernels])
        if not train.any() or not test.any():
            continue
        model = LearnedCostModel(objective=objective, columns=columns, **params)  # type: ignore[arg-type]
        model.fit(
            select(t.X[train], columns),
            t.y[train],
            [g for g, m in zip(t.groups, train, strict=True) if m],
            init_model,
        )
        out[test] = model.predict(select(t.X[test], columns))
    return out


@dataclass(frozen=True)
class Evaluation:
    rows: int
    kernels: int
    groups: int  # with >= 2 candidates
    folds: int
    results: dict[str, Scores]  # "learned/<objective>/<features>", "analytic", "always-njit", "oracle"
    best: str

    def markdown(self) -> str:
        lines = [
            f"Grouped {self.folds}-fold cross-validation by kernel: {self.rows} measurements, "
            f"{self.kernels} kernels, {self.groups} (kernel, size) groups with at least two candidates.",
            "",
            "| predictor | top-1 (within 5%) | top-1 strict | mean regret | geomean regret | max regret "
            "| Kendall tau | tau, separated pairs | MAPE |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, s in self.results.items():
            mape = f"{s.mape:.2f}" if s.mape is not None else ""
            lines.append(
                f"| {name}{' (kept)' if name == self.best else ''} | {s.top1:.1%} | {s.top1_strict:.1%} | "
                f"{s.mean_regret:.3f} | {s.geomean_regret:.3f} | {s.max_regret:.2f} | {s.kendall_tau:.3f} | "
                f"{s.kendall_tau_separated:.3f} | {mape} |"
            )
        analytic = self.results["analytic"]
        lines += [
            "",
            "Kendall tau: tau-b within each group, averaged over the groups where it is defined. Tau, "
            f"separated pairs: the same order judged only on the {analytic.separated_pairs} of "
            f"{analytic.pairs} pairs whose measured times differ by more than both measurements' noise "
            "((median - min) / min) and 5%; a predicted tie counts against it. 'split-half' scores each "
            "candidate's best even-numbered timed call against its best odd-numbered one: how well the "
            "measured order reproduces itself, which bounds what any model can be judged to reach.",
        ]
        kept = self.results[self.best]
        # "Better" needs a margin on regret (1% of the time of the pick) and no loss on top-1:
        # smaller differences are within what re-measuring the same candidates moves.
        better = kept.geomean_regret < analytic.geomean_regret - 0.01 and kept.top1 >= analytic.top1
        verdict = "better than" if better else "not clearly better than"
        lines += [
            "",
            f"Kept: {self.best}, {verdict} the analytic model on held-out kernels (geomean regret "
            f"{kept.geomean_regret:.3f} vs {analytic.geomean_regret:.3f}, top-1 {kept.top1:.1%} vs "
            f"{analytic.top1:.1%}, Kendall tau {kept.kendall_tau:.3f} vs {analytic.kendall_tau:.3f}, over "
            f"separated pairs {kept.kendall_tau_separated:.3f} vs {analytic.kendall_tau_separated:.3f}).",
        ]
        return "\n".join(lines) + "\n"


def evaluate(
    t: Table,
    folds: int = 5,
    objectives: Sequence[Objective] = OBJECTIVES,
    feature_sets: Sequence[str] = tuple(FEATURE_SETS),
    **params: object,
) -> Evaluation:
    results: dict[str, Scores] = {}
    noise = t.noise
    for name, (predicted, predicts_time) in baseline_predictions(t).items():
        results[name] = score(predicted, t.y, t.groups, predicts_time, noise)
    even, odd = split_half(t)
    results["split-half"] = score(even, odd, t.groups, True, noise)
    learned: list[str] = []
    for objective in objectives:
        for set_name in feature_sets:
            columns = FEATURE_SETS[set_name]
            predicted = cross_validate(t, objective, columns, folds, **params)
            key = f"learned/{objective}/{set_name}"
            results[key] = score(predicted, t.y, t.groups, objective != "lambdarank", noise)
            learned.append(key)
    # The pipeline needs seconds (payback, the GPU threshold) and reads only models that predict
    # time (`model.find`): lambdarank is compared, and kept only when nothing else was trained.
    timed = [k for k in learned if not k.startswith("learned/lambdarank/")] or learned
    best = min(timed, key=lambda k: (results[k].geomean_regret, -results[k].kendall_tau))
    n_groups = results["oracle"].groups
    return Evaluation(len(t.y), len(set(t.kernels)), n_groups, folds, results, best)


def importances(model: LearnedCostModel, top: int = 12) -> str:
    """The features the model splits on most, by total gain, as a markdown list."""
    gains = sum(b.feature_importance(importance_type="gain") for b in model.boosters_)
    total = float(gains.sum()) or 1.0
    ranked = sorted(zip(model.columns, gains, strict=True), key=lambda cg: -cg[1])[:top]
    return "".join(f"- {c}: {g / total:.1%}\n" for c, g in ranked if g > 0)


# ---- the command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m optcompiler.costmodel.learned",
        description="Train and evaluate the learned cost model on measurement records.",
    )
    p.add_argument("--data", type=Path, nargs="+", required=True, help="records files (.jsonl[.gz])")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="where to save the model trained on all data")
    p.add_argument("--report", type=Path, default=None, help="markdown report of the evaluation")
    p.add_argument("--estimators", type=int, default=100)
    p.add_argument(
        "--features",
        choices=[*FEATURE_SETS, "any"],
        default="any",
        help="feature set(s) to compare (no-llvm: what the pipeline knows before compiling; default any)",
    )
    args = p.parse_args(argv)
    try:
        records = dataset.read_all(args.data)
    except dataset.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    t = table(records)
    hardware = sorted({g[2] for g in t.groups})
    if len(hardware) > 1:
        print(
            f"error: records of several machines ({', '.join(hardware)}); train one model per machine",
            file=sys.stderr,
        )
        return 2
    kernels = len(set(t.kernels))
    if kernels < max(2, args.folds):
        print(
            f"error: {kernels} kernels with timed records; need at least {max(2, args.folds)}",
            file=sys.stderr,
        )
        return 2
    print(f"features for {len(t.y)} measurements in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    sets = tuple(FEATURE_SETS) if args.features == "any" else (args.features,)
    evaluation = evaluate(t, args.folds, feature_sets=sets, n_estimators=args.estimators)
    text = evaluation.markdown()
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        command = "python -m optcompiler.costmodel.learned " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        args.report.write_text(
            f"# Learned cost model: training report\n\nMade by `{command}`.\n\n{text}", encoding="utf-8"
        )
    if args.out:
        _, objective, set_name = evaluation.best.split("/")
        columns = FEATURE_SETS[set_name]
        model = LearnedCostModel(objective=objective, columns=columns, n_estimators=args.estimators)  # type: ignore[arg-type]
        model.fit(select(t.X, columns), t.y, list(t.groups))
        model.save(
            args.out,
            {
                "hardware_id": hardware[0] if hardware else "",
                "measurements": len(t.y),
                "kernels": kernels,
                "evaluation": {k: asdict(v) for k, v in evaluation.results.items()},
            },
        )
        if args.report:
            with args.report.open("a", encoding="utf-8") as f:
                f.write(f"\nMost used features of the saved model (split gain):\n\n{importances(model)}")
        print(f"saved {evaluation.best} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
