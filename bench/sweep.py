"""Real-world sweep: optc over every `.py` file of the installed standard library, numpy and scipy.

Not a speed benchmark: a robustness check on code optc was never tuned for. What it asserts:

* no exception escapes optc: `optimize_source` raises only `OptcError` (a file-level refusal, e.g.
  a syntax error or undecodable bytes) and no kernel ends `Failed` with an internal error; anything
  else is a crash, recorded with file, line where known, and message;
* every output parses (`ast.parse` of its bytes);
* a file with no emitted kernel comes out byte-identical;
* every optimized file still imports (see `import_check`).

Verifying every kernel of thousands of files would take hours, so the sweep runs in two phases:

1. **Every file**, verification off (`Config(verify=False)`): parse, find kernels, lift, analyze,
   saturate, rank and emit the best-predicted variant unverified. This exercises the frontend,
   lifting, passes and emission on all the code; its output is checked (parses; byte-identical
   when nothing was emitted). A file takes at most `--file-budget` seconds (SIGALRM in the worker);
   one that takes longer is "timed out", reported apart from crashes.
2. **Files with at least one kernel emitted in phase 1** (a liftable kernel with a loop), the whole
   pipeline with verification on, each in its own process group killed after `--verify-budget`
   seconds, at most `--max-verify-files` files (spread evenly over the roots, in path order) and
   `--verify-cap` seconds in all. Each optimized output is checked as above and imported.

Files that do not parse as Python 3.11 are counted "not Python 3.11 syntax: skipped" (the stdlib's
test suite holds deliberately broken files), undecodable ones "not UTF-8" (optc reads UTF-8 only);
neither is a crash. Results go to `bench/results/sweep.md` and `sweep.json`.

    python bench/sweep.py                        # all roots: about 20 minutes on 2 cores
    python bench/sweep.py --roots stdlib --limit 200 --out /tmp/sweep
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# Directories of deliberately broken or non-Python-3 files; they would only add to "skipped".
_BROKEN_DATA = ("lib2to3/tests/data", "test/tokenizedata", "test/test_lib2to3/data")


# ---- what is swept ------------------------------------------------------------------------------------


def roots(names: Sequence[str]) -> list[tuple[str, Path, Path]]:
    """(name, folder to walk, folder module names are relative to) for each root asked for."""
    found = []
    for name in names:
        if name == "stdlib":
            stdlib = Path(sysconfig.get_paths()["stdlib"])
            found.append((name, stdlib, stdlib))
        else:
            module = __import__(name)
            folder = Path(module.__file__).parent
            found.append((name, folder, folder.parent))
    return found


def python_files(folder: Path) -> list[Path]:
    """Every `.py` below `folder` in path order, without installed packages and broken test data."""
    files = []
    for path in folder.rglob("*.py"):
        rel = path.relative_to(folder).as_posix()
        if "site-packages/" in rel or "dist-packages/" in rel or any(rel.startswith(d) for d in _BROKEN_DATA):
            continue
        if path.is_file():
            files.append(path)
    return sorted(files)


def module_name(path: Path, base: Path) -> str:
    """The package-qualified name the file is imported under (`json/decoder.py` -> `json.decoder`)."""
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# ---- one file -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One file's sweep result, as plain data (it crosses process boundaries and goes to JSON)."""

    path: str
    root: str
    module: str
    status: str = "ok"  # ok | skipped | crash | timeout
    reason: str = ""  # why skipped, or the crash
    kernels: int = 0
    emitted: int = 0
    unchanged: list[str] = field(default_factory=list)  # reasons, one per kernel left as written
    problems: list[str] = field(default_factory=list)  # broken checks: output does not parse, ...
    seconds: float = 0.0
    changed: bool = False
    output: str | None = None  # only when changed, for the import check; dropped from the JSON


class _Budget(BaseException):  # not Exception: the pipeline catches those per kernel
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Budget


def sweep_file(path: str, root: str, module: str, verify: bool, budget: float) -> Outcome:
    """optc on one file, through the library entry point, with every check that needs no import."""
    from optcompiler import frontend, pipeline
    from optcompiler.config import Config
    from optcompiler.errors import OptcError

    outcome = Outcome(path, root, module)
    config = Config(verify=verify, threads=1, verify_timeout=min(60.0, budget), max_verify=3)
    start = time.perf_counter()
    armed = budget > 0 and hasattr(signal, "SIGALRM")
    if armed:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        data = Path(path).read_bytes()
        try:
            source = frontend.read_source(path)
            result = pipeline.optimize_source(source, path, config)
        except OptcError as error:
            outcome.status = "skipped"
            outcome.reason = _file_reason(error.message)
            if outcome.reason == "other":
                outcome.reason = f"other: {error}"
            return outcome
        finally:
            if armed:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _Budget:
        outcome.status = "timeout"
        outcome.reason = f"took longer than {budget:g} s"
        return outcome
    except Exception as error:  # any escape is what the sweep looks for
        outcome.status = "crash"
        outcome.reason = _crash_line(error)
        return outcome
    finally:
        outcome.seconds = time.perf_counter() - start
    outcome.kernels = len(result.kernels)
    for kernel in result.kernels:
        if isinstance(kernel, pipeline.Emitted):
            outcome.emitted += 1
        elif isinstance(kernel, pipeline.Failed):
            outcome.status = "crash"
            outcome.problems.append(f"{path}:{kernel.line}: {kernel.kernel}: failed: {kernel.reason}")
        else:
            outcome.unchanged.append(kernel.reason)
    if outcome.status == "crash":
        outcome.reason = outcome.problems[0]
    out_bytes = result.output.encode("utf-8")
    outcome.changed = out_bytes != data
    try:
        ast.parse(out_bytes)
    except (SyntaxError, ValueError) as error:
        outcome.problems.append(f"output does not parse: line {getattr(error, 'lineno', '?')}: {error}")
    if not outcome.emitted and outcome.changed:
        outcome.problems.append("no kernel emitted, yet the output differs from the input")
    if outcome.changed:
        outcome.output = result.output
    return outcome


def _file_reason(message: str) -> str:
    if message.startswith("syntax error"):
        return "not Python 3.11 syntax"
    if message.startswith("not valid UTF-8"):
        return "not UTF-8 (optc reads UTF-8 only)"
    if message.startswith("libcst (optc's parser) cannot parse"):
        return "valid Python libcst cannot parse"
    if "nested" in message and "deep" in message:
        return "nested too deeply for optc's parser"
    return "other"


def _crash_line(error: BaseException) -> str:
    """`file:line: Type: message` of the innermost frame in optc, one line."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "optcompiler" in f.filename] or frames
    where = f"{ours[-1].filename}:{ours[-1].lineno}" if ours else "?"
    message = " ".join(str(error).split())[:300]
    return f"{where}: {type(error).__name__}: {message}"


def _phase1(args: tuple[str, str, str, bool, float]) -> Outcome:
    return sweep_file(*args)


# ---- does the optimized file still import? ------------------------------------------------------------

# numba and numpy are imported first: optimized files import them, and for a stdlib module they
# depend on themselves (numba imports `base64`), importing them from inside it would be circular.
_IMPORTER = """
import importlib, importlib.util, sys
import numpy, numba
name, path, package_dir = sys.argv[1], sys.argv[2], sys.argv[3]
parent = name.rpartition(".")[0]
if parent:
    importlib.import_module(parent)
locations = [package_dir] if package_dir else None
spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
"""


def import_check(outcome: Outcome, timeout: float = 60.0) -> str | None:
    """None when the optimized file imports, `NOT_CHECKABLE` when the original does not import
    here either, else the optimized file's import error (its last line).

    "Still imports" means: executed as the module it is, under its package-qualified name, with its
    package (the real, installed one) imported first so its relative and absolute imports resolve
    to its real siblings, from a copy in a temporary folder. The original is imported the same way
    from its own copy; an original that does not import here (platform modules, missing optional
    dependencies, scripts) is not held against the output."""
    assert outcome.output is not None
    original = Path(outcome.path)
    package_dir = str(original.parent) if original.name == "__init__.py" else ""
    errors: list[str | None] = []
    with tempfile.TemporaryDirectory(prefix="optc-sweep-") as folder:
        for label, data in (
            ("original", original.read_bytes()),
            ("optimized", outcome.output.encode("utf-8")),
        ):
            copy = Path(folder) / label / original.name
            copy.parent.mkdir()
            copy.write_bytes(data)
            try:
                done = subprocess.run(
                    [sys.executable, "-c", _IMPORTER, outcome.module, str(copy), package_dir],
                    cwd=folder,  # not the copy's: `-c` puts the cwd on sys.path
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    env={**os.environ, "NUMBA_NUM_THREADS": "1"},
                )
            except subprocess.TimeoutExpired:
                errors.append(f"did not finish importing in {timeout:g} s")
                continue
            tail = " ".join(done.stderr.strip().splitlines()[-1:]) or f"exit status {done.returncode}"
            errors.append(tail if done.returncode else None)
            if label == "original" and done.returncode:
                return NOT_CHECKABLE
    return errors[-1]


NOT_CHECKABLE = "not checked: the original does not import here either"


# ---- phase 2: one file with verification, in a process group of its own --------------------------------


def verify_file(outcome: Outcome, budget: float) -> Outcome:
    """The whole pipeline on one file in a child process (this script's `--one`), killed with all its
    verification workers when `budget` seconds pass."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        outcome.path,
        outcome.root,
        outcome.module,
    ]
    command += ["--verify-budget", str(budget)]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=budget + 30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return Outcome(
            outcome.path,
            outcome.root,
            outcome.module,
            status="timeout",
            reason=f"verification took longer than {budget:g} s",
            seconds=time.perf_counter() - start,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # verification workers it may have left
    try:
        data = json.loads(out.decode("utf-8").strip().splitlines()[-1])
        return Outcome(**data)
    except (ValueError, IndexError, TypeError):
        tail = " ".join(err.decode("utf-8", "replace").strip().splitlines()[-1:])
        return Outcome(
            outcome.path,
            outcome.root,
            outcome.module,
            status="crash",
            reason=f"the sweep's child exited {process.returncode}: {tail}"[:400],
            seconds=time.perf_counter() - start,
        )


def pick_for_verification(candidates: Sequence[Outcome], limit: int) -> list[Outcome]:
    """At most `limit` files, taken in turn from each root (in path order), so no root is left out."""
    by_root: dict[str, list[Outcome]] = collections.defaultdict(list)
    for outcome in sorted(candidates, key=lambda o: o.path):
        by_root[outcome.root].append(outcome)
    picked: list[Outcome] = []
    queues = list(by_root.values())
    while len(picked) < limit and any(queues):
        for queue_ in queues:
            if queue_ and len(picked) < limit:
                picked.append(queue_.pop(0))
    return picked


# ---- the sweep ------------------------------------------------------------------------------------------


@dataclass
class Sweep:
    files: list[Outcome]
    verified: list[Outcome]
    imports: dict[str, str | None]  # path -> None (imports) or the error; absent: not checked
    imports_unverified: dict[str, str | None]  # the same for phase 1's (unverified) outputs
    seconds: dict[str, float]
    settings: dict[str, object]


def run_phase1(jobs: Sequence[tuple[str, str, str]], workers: int, budget: float) -> list[Outcome]:
    tasks = [(path, root, module, False, budget) for path, root, module in jobs]
    if workers <= 1:
        return [_phase1(t) for t in tasks]
    context = multiprocessing.get_context("forkserver")
    with context.Pool(workers, maxtasksperchild=200) as pool:
        return list(pool.imap_unordered(_phase1, tasks, chunksize=4))


def sweep(
    jobs: Sequence[tuple[str, str, str]],
    workers: int = 2,
    file_budget: float = 60.0,
    verify: bool = True,
    verify_budget: float = 240.0,
    max_verify_files: int = 30,
    verify_cap: float = 1200.0,
    progress: bool = False,
) -> Sweep:
    """Both phases over `jobs` ((path, root name, module name) each)."""
    clock = time.perf_counter()
    files = sorted(run_phase1(jobs, workers, file_budget), key=lambda o: o.path)
    seconds = {"phase 1 (every file, no verification)": time.perf_counter() - clock}
    if progress:
        print(
            f"phase 1: {len(files)} files in {seconds['phase 1 (every file, no verification)']:.0f} s",
            flush=True,
        )
    clock = time.perf_counter()
    imports_unverified = {o.path: import_check(o) for o in files if o.status == "ok" and o.output is not None}
    seconds["import checks (phase 1 outputs)"] = time.perf_counter() - clock
    verified: list[Outcome] = []
    imports: dict[str, str | None] = {}
    if verify:
        clock = time.perf_counter()
        picked = pick_for_verification([o for o in files if o.status == "ok" and o.emitted], max_verify_files)
        for outcome in picked:
            left = verify_cap - (time.perf_counter() - clock)
            if left <= 0:
                break
            verified.append(verify_file(outcome, min(verify_budget, left)))
            if progress:
                last = verified[-1]
                print(f"  {last.path}: {last.status} {last.emitted} emitted {last.seconds:.0f} s", flush=True)
        seconds["phase 2 (verification)"] = time.perf_counter() - clock
        clock = time.perf_counter()
        for outcome in verified:
            if outcome.status == "ok" and outcome.changed and outcome.output is not None:
                imports[outcome.path] = import_check(outcome)
        seconds["import checks"] = time.perf_counter() - clock
    settings = {
        "workers": workers,
        "file budget (s)": file_budget,
        "verify budget per file (s)": verify_budget,
        "max files verified": max_verify_files,
        "verification cap (s)": verify_cap,
    }
    return Sweep(files, verified, imports, imports_unverified, seconds, settings)


def normalize_reason(reason: str) -> str:
    """A kernel's reason without names, lines and numbers, so like reasons count together."""
    text = reason.split(";")[0]
    text = re.sub(r"\(line \d+\)", "", text)
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\d+", "N", text)
    return " ".join(text.split())[:120]


def summarize(result: Sweep) -> dict[str, object]:
    files = result.files
    status = collections.Counter(o.status for o in files)
    skipped = collections.Counter(o.reason for o in files if o.status == "skipped")
    kernel_reasons = collections.Counter(normalize_reason(r) for o in files for r in o.unchanged)
    crashes = [o.reason for o in files + result.verified if o.status == "crash"]
    crashes += [p for o in files + result.verified for p in o.problems if o.status != "crash"]
    timeouts = [f"{o.path}: {o.reason}" for o in files + result.verified if o.status == "timeout"]
    by_root = {}
    for name in sorted({o.root for o in files}):
        mine = [o for o in files if o.root == name]
        by_root[name] = {
            "files": len(mine),
            "parsed": sum(o.status in ("ok", "crash") for o in mine),
            "kernels": sum(o.kernels for o in mine),
            "emitted unverified": sum(o.emitted for o in mine),
            "files with an emitted kernel": sum(bool(o.emitted) for o in mine),
        }
    verified_ok = [o for o in result.verified if o.status == "ok"]
    return {
        "files": len(files),
        "by root": by_root,
        "status": dict(status),
        "skipped files by reason": dict(skipped.most_common()),
        "kernels": sum(o.kernels for o in files),
        "kernels emitted without verification": sum(o.emitted for o in files),
        "unchanged kernels by reason": dict(kernel_reasons.most_common(25)),
        "unchanged kernel reasons (distinct)": len(kernel_reasons),
        "byte-identical files without an emitted kernel": sum(
            1 for o in files if o.status == "ok" and not o.emitted and not o.changed
        ),
        "files without an emitted kernel": sum(1 for o in files if o.status == "ok" and not o.emitted),
        "verified files": len(result.verified),
        "verified files ok": len(verified_ok),
        "kernels optimized (verified)": sum(o.emitted for o in verified_ok),
        "verified files changed": sum(o.changed for o in verified_ok),
        "verified kernels left unchanged by reason": dict(
            collections.Counter(normalize_reason(r) for o in verified_ok for r in o.unchanged).most_common(15)
        ),
        "import checks": {
            "checked": len(result.imports),
            "import": sum(v is None for v in result.imports.values()),
            "original does not import": sum(v == NOT_CHECKABLE for v in result.imports.values()),
            "fail": {k: v for k, v in result.imports.items() if v not in (None, NOT_CHECKABLE)},
        },
        "import checks of unverified outputs (phase 1)": {
            "checked": len(result.imports_unverified),
            "import": sum(v is None for v in result.imports_unverified.values()),
            "original does not import": sum(v == NOT_CHECKABLE for v in result.imports_unverified.values()),
            "fail": {k: v for k, v in result.imports_unverified.items() if v not in (None, NOT_CHECKABLE)},
        },
        "crashes and broken checks": crashes,
        "timeouts": timeouts,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "settings": result.settings,
    }


def markdown(summary: dict, command: str) -> str:
    lines = ["# Real-world sweep: optc over the standard library, numpy and scipy", ""]
    lines += [f"`{command}` (Python {sys.version.split()[0]}; see `bench/sweep.py` for what is checked)", ""]
    lines += ["| root | files | parsed | kernels (top-level defs) | emitted unverified | files with one |"]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    for name, row in summary["by root"].items():
        lines.append(
            f"| {name} | {row['files']} | {row['parsed']} | {row['kernels']} | {row['emitted unverified']} "
            f"| {row['files with an emitted kernel']} |"
        )
    crashes = summary["crashes and broken checks"]
    imports = summary["import checks"]
    imports1 = summary["import checks of unverified outputs (phase 1)"]
    lines += [
        "",
        f"- files: {summary['files']}; by status: {summary['status']}",
        f"- **crashes and broken checks: {len(crashes)}**",
        f"- files without an emitted kernel that came out byte-identical: "
        f"{summary['byte-identical files without an emitted kernel']} of {summary['files without an emitted kernel']}",
        f"- verified (phase 2): {summary['verified files']} files, {summary['verified files ok']} finished, "
        f"{summary['kernels optimized (verified)']} kernels optimized, {summary['verified files changed']} files changed",
        f"- optimized files that still import: {imports['import']} of {imports['checked']} "
        f"({imports['original does not import']} not checkable: the original does not import here)",
        f"- unverified outputs of phase 1 that still import: {imports1['import']} of {imports1['checked']} "
        f"({imports1['original does not import']} not checkable)",
        f"- timeouts: {len(summary['timeouts'])}",
        f"- seconds: {summary['seconds']}",
        f"- settings: {summary['settings']}",
        "",
        "## Files skipped",
        "",
    ]
    lines += [f"- {reason}: {count}" for reason, count in summary["skipped files by reason"].items()] or [
        "- none"
    ]
    lines += ["", "## Kernels left as written, top reasons (phase 1)", ""]
    lines += [f"| {count} | {reason} |" for reason, count in summary["unchanged kernels by reason"].items()]
    lines += ["", "## Kernels left as written after verification (phase 2)", ""]
    lines += [
        f"- {count}: {reason}"
        for reason, count in summary["verified kernels left unchanged by reason"].items()
    ]
    lines += ["", "## Crashes and broken checks", ""]
    lines += [f"- {c}" for c in crashes] or ["- none"]
    lines += ["", "## Imports that failed", ""]
    failed = {**imports1["fail"], **imports["fail"]}
    lines += [f"- {path}: {why}" for path, why in failed.items()] or ["- none"]
    lines += ["", "## Timeouts", ""]
    lines += [f"- {t}" for t in summary["timeouts"]] or ["- none"]
    return "\n".join(lines) + "\n"


def jobs_for(names: Iterable[str], limit: int | None = None) -> list[tuple[str, str, str]]:
    jobs = []
    for name, folder, base in roots(list(names)):
        files = python_files(folder)
        if limit is not None:
            files = files[:limit]
        jobs += [(str(p), name, module_name(p, base)) for p in files]
    return jobs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--roots", default="stdlib,numpy,scipy", help="comma-separated: stdlib and package names"
    )
    parser.add_argument("--limit", type=int, help="at most this many files per root (in path order)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--file-budget", type=float, default=60.0, help="seconds per file in phase 1")
    parser.add_argument("--verify-budget", type=float, default=240.0, help="seconds per file in phase 2")
    parser.add_argument("--max-verify-files", type=int, default=30)
    parser.add_argument("--verify-cap", type=float, default=1200.0, help="seconds for all of phase 2")
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="phase 1 only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one", nargs=3, metavar=("PATH", "ROOT", "MODULE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        outcome = sweep_file(*args.one, verify=True, budget=args.verify_budget)
        print(json.dumps(asdict(outcome)))
        return 0
    jobs = jobs_for(args.roots.split(","), args.limit)
    result = sweep(
        jobs,
        workers=args.workers,
        file_budget=args.file_budget,
        verify=args.verify,
        verify_budget=args.verify_budget,
        max_verify_files=args.max_verify_files,
        verify_cap=args.verify_cap,
        progress=True,
    )
    summary = summarize(result)
    command = "python bench/sweep.py" + ("" if argv is None else " " + " ".join(argv))
    if argv is None and len(sys.argv) > 1:
        command += " " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.md").write_text(markdown(summary, command), encoding="utf-8")
    details = {
        "summary": summary,
        "files": [{k: v for k, v in asdict(o).items() if k != "output"} for o in result.files],
        "verified": [{k: v for k, v in asdict(o).items() if k != "output"} for o in result.verified],
    }
    (args.out / "sweep.json").write_text(json.dumps(details, indent=1) + "\n", encoding="utf-8")
    print(markdown(summary, command))
    broken = (
        summary["import checks"]["fail"] or summary["import checks of unverified outputs (phase 1)"]["fail"]
    )
    return 1 if summary["crashes and broken checks"] or broken else 0


if __name__ == "__main__":
    sys.exit(main())
