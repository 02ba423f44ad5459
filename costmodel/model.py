"""The learned cost model as the pipeline uses it: found per hardware id, read without LightGBM.

Why a reader of its own: `import lightgbm` costs about a second, more than ranking a whole file,
and the pipeline only needs the trees' decisions. A saved model (`learned.LearnedCostModel.save`:
one header line, then LightGBM's text format) is a sum of small regression trees; this module
parses that text and walks the trees in plain Python, with LightGBM's own rules for each split
(`<=` on the threshold, NaN and zero handled by the node's missing type), so it predicts what
`lightgbm.Booster.predict` does (the tests compare them). Models it cannot read exactly
(categorical splits, linear trees, several classes) raise `ModelError`; `learned.LearnedCostModel`
still loads those with lightgbm.

Where models come from (`find`), first match wins:
  1. `<cache>/costmodel/models/<hardware-id>.txt`: made on this machine by `optc calibrate`;
  2. `optcompiler/costmodel/models/<hardware-id>.txt`: shipped with the package.
Only a model of this exact machine is used (the id hashes every hardware field): a model of another
machine says nothing reliable about this one, and then the analytic model ranks, as before.
`OPTC_COST_MODEL=analytic` turns the learned model off.

Only models whose columns are known before compiling are used for ranking (no `llvm_*` columns:
the pipeline ranks candidates nobody has compiled yet), and only models that predict time (not
lambdarank's order keys: predicted seconds also feed speed-up estimates and the GPU decision).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from optcompiler.costmodel.features import COLUMNS, FEATURE_VERSION, LLVM_COLUMNS, features
from optcompiler.costmodel.hardware import Hardware
from optcompiler.ir import ArgType, Target, Term

HEADER = "# optc learned cost model "  # learned.HEADER (not imported: learned pulls in scipy users)
SHIPPED = Path(__file__).parent / "models"
ZERO = 1e-35  # LightGBM's kZeroThreshold
_DEFAULT_LEFT = 2  # decision_type bits: 1 categorical, 2 default left, 4-8 missing type
_MISSING_ZERO, _MISSING_NAN = 1, 2


class ModelError(ValueError):
    """A saved model that cannot be used here: another feature version, columns or format."""


@dataclass(frozen=True)
class Tree:
    """One LightGBM tree: node i splits on `feature[i]` at `threshold[i]`; a child < 0 is leaf ~c."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    decision: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    leaf: tuple[float, ...]

    def __post_init__(self) -> None:
        # Per node, what a split reads, decoded once: (feature, threshold, left, right, missing type,
        # the child a missing value takes). Walking these tuples is twice as fast as indexing six
        # fields and decoding the decision type at every node, and the pipeline walks every tree
        # for every candidate.
        nodes = tuple(
            (f, t, lc, rc, (d >> 2) & 3, lc if d & _DEFAULT_LEFT else rc)
            for f, t, d, lc, rc in zip(
                self.feature, self.threshold, self.decision, self.left, self.right, strict=False
            )
        )
        object.__setattr__(self, "_nodes", nodes)
        # A tree whose splits all have missing type None (what LightGBM writes for features that had
        # no NaN in training) reads a NaN as 0.0 and compares every value with `<=`: it is walked on
        # the row with its NaNs made 0.0 (`TreeModel.predict_row`), (feature, threshold, left, right)
        # a node.
        plain = all(n[4] == 0 for n in nodes)
        object.__setattr__(self, "_plain", tuple(n[:4] for n in nodes) if plain else None)

    def value(self, row: Sequence[float]) -> float:
        """LightGBM's rules: a NaN goes the missing way when the node's missing type is NaN, else
        it is 0.0; a zero goes the missing way when the missing type is zero; else `x <= threshold`."""
        nodes = self._nodes  # type: ignore[attr-defined]
        if not nodes:
            return self.leaf[0]
        node = 0
        while node >= 0:
            feature, threshold, left, right, missing, default = nodes[node]
            x = row[feature]
            if x != x:  # NaN
                if missing == _MISSING_NAN:
                    node = default
                    continue
                x = 0.0
            if missing == _MISSING_ZERO and -ZERO <= x <= ZERO:
                node = default
            else:
                node = left if x <= threshold else right
        return self.leaf[~node]


@dataclass(frozen=True)
class TreeModel:
    """A saved learned cost model: its header and trees. `predict` returns what
    `LearnedCostModel.predict` does: log-seconds (lambdarank: an order key, lower is better)."""

    columns: tuple[str, ...]
    objective: str
    trees: tuple[Tree, ...]
    info: Mapping[str, object]
    path: Path | None = None
    scale: float = 1.0  # the trees' sum times this: the mean of several boosters, a residual's weight

    @property
    def predicts_time(self) -> bool:
        return self.objective != "lambdarank"

    @property
    def needs_llvm(self) -> bool:
        return any(c in LLVM_COLUMNS for c in self.columns)

    def predict_row(self, row: Sequence[float]) -> float:
        """`row` in `self.columns` order. The trees' values are summed in their order, as before: the
        walk of each is inlined here, on the row with NaN as 0.0 where the tree's splits allow it."""
        zeroed = [0.0 if x != x else x for x in row]
        values = []
        for tree in self.trees:
            nodes = tree._plain  # type: ignore[attr-defined]
            if nodes is None:
                values.append(tree.value(row))
                continue
            if not nodes:
                values.append(tree.leaf[0])
                continue
            node = 0
            while node >= 0:
                feature, threshold, left, right = nodes[node]
                node = left if zeroed[feature] <= threshold else right
            values.append(tree.leaf[~node])
        raw = self.scale * sum(values)
        if self.objective == "residual":
            analytic = row[self.columns.index("analytic_log_seconds")]
            return raw + (analytic if math.isfinite(analytic) else 0.0)
        return -raw if self.objective == "lambdarank" else raw

    def predict_features(self, values: Mapping[str, float]) -> float:
        return self.predict_row([float(values.get(c, math.nan)) for c in self.columns])

    def predict(self, X: object) -> list[float]:
        """Rows of a 2-D array (or sequences) in `self.columns` order."""
        return [self.predict_row([float(v) for v in row]) for row in X]  # type: ignore[attr-defined]


def parse(text: str, where: str = "<model>") -> TreeModel:
    """A saved model's text; `ModelError` (naming `where`) when it is not one this reader handles."""
    first, _, body = text.partition("\n")
    if not first.startswith(HEADER):
        raise ModelError(f"{where}:1: not an optc learned cost model (no header line)")
    try:
        header = json.loads(first[len(HEADER) :])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{where}:1: unreadable header: {exc}") from exc
    columns = tuple(header.get("columns", ()))
    if header.get("feature_version") != FEATURE_VERSION or not columns or not set(columns) <= set(COLUMNS):
        raise ModelError(
            f"{where}:1: trained on feature version {header.get('feature_version')!r}, this optc computes "
            f"version {FEATURE_VERSION}; retrain it (optc calibrate)"
        )
    trees: list[Tree] = []
    block: dict[str, str] = {}
    line_no = 1

    def finish() -> None:
        if block:
            trees.append(_tree(block, f"{where}:{line_no}"))
            block.clear()

    for line_no, line in enumerate(body.splitlines(), start=2):
        if line.startswith("Tree="):
            finish()
            block["Tree"] = line[5:]
        elif line.startswith("end of trees"):  # another booster's trees may follow (a bagged model)
            finish()
        elif block and "=" in line:
            key, _, value = line.partition("=")
            block[key] = value
        elif not block and line.startswith(("num_class=", "num_tree_per_iteration=")):
            if line.split("=", 1)[1].strip() != "1":
                raise ModelError(f"{where}:{line_no}: several outputs per iteration; only one is read")
    finish()
    if not trees:
        raise ModelError(f"{where}: no trees in the model")
    objective = str(header.get("objective", "regression"))
    return TreeModel(columns, objective, tuple(trees), header, scale=float(header.get("scale", 1.0)))


def _tree(block: Mapping[str, str], where: str) -> Tree:
    if block.get("num_cat", "0").strip() != "0" or block.get("is_linear", "0").strip() != "0":
        raise ModelError(f"{where}: categorical or linear trees are not read here (load with lightgbm)")

    def ints(key: str) -> tuple[int, ...]:
        return tuple(int(v) for v in block.get(key, "").split())

    def floats(key: str) -> tuple[float, ...]:
        return tuple(float(v) for v in block.get(key, "").split())

    try:
        tree = Tree(
            ints("split_feature"),
            floats("threshold"),
            ints("decision_type"),
            ints("left_child"),
            ints("right_child"),
            floats("leaf_value"),
        )
    except ValueError as exc:
        raise ModelError(f"{where}: malformed tree: {exc}") from exc
    n = len(tree.feature)
    if not tree.leaf or any(len(f) != n for f in (tree.threshold, tree.decision, tree.left, tree.right)):
        raise ModelError(f"{where}: malformed tree (field lengths differ)")
    if any(d & 1 for d in tree.decision):
        raise ModelError(f"{where}: categorical splits are not read here (load with lightgbm)")
    return tree


def load(path: Path) -> TreeModel:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model: {exc}") from exc
    model = parse(text, str(path))
    return dataclasses.replace(model, path=path)


# ---- which model -----------------------------------------------------------------------------------


def user_models_dir() -> Path:
    """Where `optc calibrate` stores models: under optc's cache root (`$OPTC_CACHE_DIR`, ...)."""
    from optcompiler.cache import cache_root

    return cache_root() / "costmodel" / "models"


def model_paths(hardware_id: str) -> list[Path]:
    """Candidate model files for a hardware id, the calibrated one first (`cache.cost_model_paths`:
    the result caches key their decisions by these files' contents)."""
    from optcompiler import cache

    # The pipeline asks once per candidate: remembered per hardware id, the variables that place the
    # cache directory (`cache.cache_root`) and the function itself (tests replace it).
    where = (os.environ.get("OPTC_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME"))
    return list(_model_paths(cache.cost_model_paths, hardware_id, where))


@functools.lru_cache(maxsize=16)
def _model_paths(
    cost_model_paths: Callable[[str, Path], list[Path]], hardware_id: str, where: tuple[str | None, ...]
) -> tuple[Path, ...]:
    return tuple(cost_model_paths(hardware_id, SHIPPED))


@functools.lru_cache(maxsize=16)
def _hardware_id(hardware: Hardware) -> str:
    """`hardware.id`, a hash of every field, once per machine: the pipeline asks per candidate."""
    return hardware.id


def find(hardware: Hardware) -> TreeModel | None:
    """The learned model the pipeline ranks with on `hardware`, or None (then: the analytic model).
    A file that exists but cannot be used is skipped, the next tried."""
    if os.environ.get("OPTC_COST_MODEL", "").strip().lower() == "analytic":
        return None
    for path in model_paths(_hardware_id(hardware)):
        try:
            stat = path.stat()
        except OSError:
            continue
        model = _load_cached(path, stat.st_mtime_ns, stat.st_size)
        if model is not None:
            return model
    return None


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int, size: int) -> TreeModel | None:
    """Keyed by the file's mtime and size, so a model `optc calibrate` just rewrote is read again."""
    try:
        model = load(path)
    except ModelError:
        return None
    return model if model.predicts_time and not model.needs_llvm else None


def predict_log_seconds(
    model: TreeModel,
    body: Term,
    target: Target,
    derivation: tuple[str, ...],
    arg_types: Mapping[str, ArgType],
    sizes: Mapping[str, int],
    hardware: Hardware,
    default_size: int = 1000,
) -> float:
    """The model's prediction for one candidate before it is compiled (no LLVM features), with
    every usable core, as the emitted code runs."""
    values = features(
        body, target, derivation, arg_types, sizes, hardware, hardware.cores, None, default_size
    )
    return model.predict_features(values)
