"""Measurement records: one JSON object a line, gzip-compressed, appended as they are taken.

Why JSONL and not a table format: a run appends one record per (candidate, size) as soon as it is
measured, so a run that is interrupted (or killed with its machine) keeps everything measured so
far, and `measure` resumes by skipping the keys already present. Gzip members can be appended to
one file, so appending never rewrites what is there. Every record carries the schema version; a
reader refuses records of a version it does not know, with the line that holds them.

A record is self-contained: it names the kernel, the candidate (id, target, derivation, and the
candidate's source, so features can be recomputed after the feature code changes), the sizes, the
hardware and package versions, the thread count and the machine's load while it was measured.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1

# ok: timed; too_slow: one call (the warm-up) took longer than the per-call ceiling, so it is the
# only timing; skipped: not run at this size because it was too slow or timed out at a smaller one;
# compile_error / runtime_error / timeout: no time (error says why).
Status = Literal["ok", "too_slow", "skipped", "compile_error", "runtime_error", "timeout"]
TIMED = ("ok", "too_slow")


class DatasetError(ValueError):
    """A records file that cannot be read: names the file and line."""


@dataclass(frozen=True)
class Record:
    """One candidate of one kernel measured at one size on one machine."""

    kernel: str
    candidate_id: str  # stable hash of the variant's body and the target
    target: str  # "njit" | "njit-parallel" | ...
    derivation: tuple[str, ...]  # rule names that produced the variant, () for the original
    size: int  # the corpus size the inputs were built at (`inputs(size)`)
    sizes: Mapping[str, int]  # size symbol -> value, read off the real arguments
    status: Status
    seconds_min: float | None = None
    seconds_median: float | None = None
    times: tuple[float, ...] = ()  # every timed call, in order
    warmup_seconds: float | None = None  # the first call at this size (page faults, lazy init)
    compile_seconds: float | None = None  # Numba compilation for the first size's argument types
    agrees: bool | None = None  # result matched the original compiled with plain njit (None: not compared)
    error: str = ""
    threads: int = 0  # NUMBA_NUM_THREADS the worker ran with
    loadavg: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after this size
    hardware_id: str = ""
    hardware: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    kernel_hash: str = ""  # hash of the kernel's source: a re-written kernel is a new kernel
    source: str = ""  # the candidate's `def`, as measured
    arg_types: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # name -> (kind, dtype, ndim, dims)
    llvm: Mapping[str, float] = field(default_factory=dict)  # LLVM IR counts (features.llvm_counts)
    analytic_seconds: float | None = None  # the analytic model's prediction when measured
    batch: str = ""  # one id per worker run
    measured_at: str = ""  # UTC timestamp
    schema: int = SCHEMA_VERSION

    @property
    def key(self) -> tuple[str, str, int, int, str]:
        """What a resumed run skips: this candidate at this size, threads and machine."""
        return (self.kernel, self.candidate_id, self.size, self.threads, self.hardware_id)

    @property
    def timed(self) -> bool:
        return self.status in TIMED and self.seconds_min is not None

    @property
    def is_original(self) -> bool:
        """The kernel as written under plain njit: the baseline every candidate is judged against."""
        return not self.derivation and self.target == "njit"

    @property
    def noise(self) -> float | None:
        """(median - min) / min: how far a typical run is from the best one; None without repeats."""
        return noise_of(self.times)

    @property
    def spread(self) -> float | None:
        """Interquartile range / median of the repeats: the run-to-run scatter."""
        return spread_of(self.times)


def noise_of(times: Sequence[float]) -> float | None:
    if len(times) < 2 or min(times) <= 0:
        return None
    return (statistics.median(times) - min(times)) / min(times)


def spread_of(times: Sequence[float]) -> float | None:
    if len(times) < 4:
        return None
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    median = statistics.median(times)
    return (q3 - q1) / median if median > 0 else None


def to_json(record: Record) -> dict[str, Any]:
    data = asdict(record)
    data["noise"] = record.noise
    data["spread"] = record.spread
    return data


def from_json(data: Mapping[str, Any], where: str = "") -> Record:
    """A record from its JSON object; DatasetError names `where` when the object is not one."""
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise DatasetError(
            f"{where}: record schema {schema!r}, this optc reads schema {SCHEMA_VERSION}; "
            "re-measure or use the optc version that wrote it"
        )
    names = {f.name for f in fields(Record)}
    missing = {"kernel", "candidate_id", "target", "size", "status"} - set(data)
    if missing:
        raise DatasetError(f"{where}: record lacks {', '.join(sorted(missing))}")
    values = {k: v for k, v in data.items() if k in names}
    for name in ("derivation", "times"):
        values[name] = tuple(values.get(name, ()))
    values["loadavg"] = tuple(values.get("loadavg", (0.0, 0.0)))
    values["arg_types"] = {
        name: (kind, dtype, ndim, tuple(dims))
        for name, (kind, dtype, ndim, dims) in (values.get("arg_types") or {}).items()
    }
    return Record(**values)


def append(path: Path, records: Iterable[Record]) -> int:
    """Append records to a JSONL file (gzip when the name ends in .gz), one flush per call."""
    lines = [json.dumps(to_json(r), sort_keys=True, allow_nan=False, default=_finite) for r in records]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    if path.suffix == ".gz":
        # A new gzip member per call: readers see one stream, nothing already written is rewritten.
        with path.open("ab") as f:
            f.write(gzip.compress(text, mtime=0))
    else:
        with path.open("ab") as f:
            f.write(text)
    return len(lines)


def _finite(value: object) -> object:
    raise TypeError(f"cannot store {type(value).__name__} in a record")


def read(path: Path) -> Iterator[Record]:
    """Every record of a file, in order. A torn last line (a run killed mid-write) is skipped; any
    other bad line raises DatasetError with the file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
            lines = f.read().splitlines()
    except EOFError:  # a gzip member cut short: read what decompresses
        lines = _salvage_gzip(path)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read measurement records: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                return  # torn last line
            raise DatasetError(f"{path}:{number}: not a JSON record: {exc}") from exc
        if not isinstance(data, dict):
            raise DatasetError(f"{path}:{number}: expected a JSON object")
        yield from_json(data, f"{path}:{number}")


def _salvage_gzip(path: Path) -> list[str]:
    import zlib

    raw = path.read_bytes()
    out = bytearray()
    while raw:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(raw)
        except zlib.error:
            break
        if not d.eof:
            break
        raw = d.unused_data
    return out.decode("utf-8", errors="replace").splitlines()


def read_all(paths: Iterable[Path]) -> list[Record]:
    return [r for p in paths for r in read(p)]


def done_keys(path: Path, retry_failed: bool = False) -> set[tuple[str, str, int, int, str]]:
    """Keys already measured in `path` (missing file: none). With `retry_failed`, only timed ones
    count, so failures are measured again."""
    if not path.exists():
        return set()
    return {r.key for r in read(path) if not retry_failed or r.timed}


def latest(records: Iterable[Record]) -> list[Record]:
    """One record per key, the last one written (a re-measurement supersedes the first)."""
    by_key: dict[tuple[str, str, int, int, str], Record] = {}
    for r in records:
        by_key[r.key] = r
    return list(by_key.values())


_DEF = re.compile(r"^def \w+\(", re.MULTILINE)
_PRANGE = re.compile(r"\b(?:numba\.)?prange\(")


def program_key(record: Record) -> str:
    """The program a record timed, as Numba ran it (`program_text` of its source). Two candidates
    with one key are one program measured twice (a prange variant under plain njit is its serial
    twin); their order is noise, not something a model can be judged on."""
    return program_text(record.source)


def program_text(source: str) -> str:
    """A candidate's source (decorator included) as Numba runs it: the function's name taken out
    and, unless compiled with parallel=True, every `prange` read as the `range` it runs as. The
    decorator line says the rest (parallel, fastmath, the other flags)."""
    text = _DEF.sub("def _(", source, count=1)
    if "parallel=True" not in text:
        text = _PRANGE.sub("range(", text)
    return text


def distinct(records: Iterable[Record]) -> list[Record]:
    """`latest`, then one record per program in each (kernel, size, hardware, threads) group: the
    original where it is one of the twins, else the first written. Without source (old records)
    every record is its own program."""
    kept: dict[tuple[object, ...], Record] = {}
    for r in latest(records):
        key = (r.kernel, r.size, r.hardware_id, r.threads, program_key(r) if r.source else r.candidate_id)
        first = kept.get(key)
        if first is None or (r.is_original and not first.is_original):
            kept[key] = r
    return list(kept.values())


def groups(records: Iterable[Record]) -> dict[tuple[str, int, str, int], list[Record]]:
    """Timed records grouped by (kernel, size, hardware, threads): the sets a ranking is judged on."""
    out: dict[tuple[str, int, str, int], list[Record]] = {}
    for r in latest(records):
        if r.timed and r.seconds_min is not None and math.isfinite(r.seconds_min):
            out.setdefault((r.kernel, r.size, r.hardware_id, r.threads), []).append(r)
    return out


def kernel_folds(kernels: Iterable[str], k: int) -> list[tuple[frozenset[str], frozenset[str]]]:
    """(train, test) kernel sets for grouped k-fold: every kernel is held out exactly once and a
    fold never sees its test kernels in training. Deterministic: contiguous runs of the sorted
    names, so kernels named alike (gemm, gemm_nt, gemm_tn: near-duplicates) are held out together
    rather than leaking into each other's training set."""
    names = sorted(set(kernels))
    if k < 2 or k > len(names):
        raise ValueError(f"need 2 <= k <= {len(names)} kernels, got k={k}")
    bounds = [round(i * len(names) / k) for i in range(k + 1)]
    folds = [frozenset(names[bounds[i] : bounds[i + 1]]) for i in range(k)]
    everything = frozenset(names)
    return [(everything - test, test) for test in folds]
