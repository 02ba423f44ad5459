"""`optc`: optimize Python files from the command line, in the conventions of ruff and black.

Exit codes: 0 ok, 1 some file would change (`--check`; with a threshold, some kernel is predicted
faster than it) or an output of `--outputs` was regenerated, 2 an error, 130 interrupted. Each error is
one line on stderr, `path:line: message`; a file that fails never stops the others, and no output file
is ever left half-written (`emit.write_atomic`). Inputs are only rewritten with `--in-place`.

The pre-commit hooks (.pre-commit-hooks.yaml) are two modes of this command. `optc --outputs`
regenerates the files `[tool.optc] outputs` names, like a formatter: each output ends with a stamp
line (`cache.stamp_line`) of its input, the settings and its own text, so an unchanged input costs no
pipeline run, on any machine. `optc --check` is the linter: it remembers its results per file
content, settings and machine in optc's cache, so rerunning it on unchanged files is fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from optcompiler import __version__
from optcompiler.config import (
    DEFAULT_CALLS,
    Config,
    excluded_by,
    find_config_file,
    load_config,
    parse_calls,
    parse_sizes,
)
from optcompiler.errors import PARTLY_COMPILED, OptcError

if TYPE_CHECKING:
    from optcompiler.pipeline import FileResult

EXIT_OK = 0
EXIT_CHANGED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
STDOUT = "-"

_NO_OUTPUT_HINT = "nothing would be written: give -o OUT (-o - for stdout), --in-place, --check or --diff"


class UsageError(Exception):
    """A mistake in the command line itself; reported as one `optc: error: ...` line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="optc",
        description="Optimize the numeric kernels of Python files; emit verified, Numba-compiled code.",
        epilog="Settings come from [tool.optc] in the nearest pyproject.toml; flags override them. "
        "Exit codes: 0 ok, 1 would change (--check), 2 error.",
    )
    # nargs="*": `--report k.py` may have taken the only input, which _options gives back
    parser.add_argument("files", nargs="*", metavar="FILE", help="Python files to optimize")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file for one input (- for stdout), or a directory for several",
    )
    where.add_argument("--in-place", action="store_true", help="rewrite the input files")
    where.add_argument(
        "--outputs",
        action="store_true",
        help="regenerate the files [tool.optc] outputs names whose input, settings or optc changed "
        "(only those of FILE, when given); exit 1 if one was rewritten (the `optc` pre-commit hook)",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file would change")
    parser.add_argument("--diff", action="store_true", help="write nothing; print a unified diff to stdout")
    parser.add_argument(
        "--threshold",
        type=_threshold_argument,
        metavar="X",
        help="with --check: exit 1 only for a kernel predicted more than X times faster than plain njit "
        "([tool.optc] check-threshold; the `optc-check` pre-commit hook)",
    )
    parser.add_argument(
        "--report",
        nargs="?",
        const=STDOUT,
        metavar="PATH",
        help="write a markdown report to PATH (default: stdout); use --report=PATH before the inputs",
    )
    parser.add_argument("--target", choices=("auto", "cpu", "gpu"), help="hardware to optimize for")
    parser.add_argument(
        "--sizes",
        type=_sizes_argument,
        metavar="n=1000,m=500",
        help="size profile to optimize for, e.g. n=1000,m=500 or gemm.n=400 for one kernel (merged with [tool.optc] sizes)",
    )
    parser.add_argument(
        "--calls",
        type=_calls_argument,
        metavar="1000,smooth=3",
        help="expected calls of each kernel in one run, or kernel=N for one kernel: a kernel whose compile "
        f"time would not pay back in that many calls is left as written (default {DEFAULT_CALLS})",
    )
    fp = parser.add_mutually_exclusive_group()
    fp.add_argument(
        "--strict-fp", action="store_true", default=None, help="no reassociation: bit-identical results"
    )
    fp.add_argument(
        "--fastmath", action="store_true", default=None, help="allow fast-math rewrites and flags (opt-in)"
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        default=None,
        help="emit the best-predicted variant without differential testing",
    )
    parser.add_argument(
        "--threads",
        type=_threads_argument,
        metavar="N",
        help="NUMBA_NUM_THREADS for verification subprocesses",
    )
    parser.add_argument(
        "--llm",
        action="store_true",
        default=None,
        help="ask the model of [tool.optc.llm] for rewrites (verified before use) and apply learned rules",
    )
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument(
        "-v", "--verbose", action="count", default=0, help="per-kernel lines; twice: tracebacks too"
    )
    talk.add_argument("-q", "--quiet", action="store_true", help="errors only, no summary")
    parser.add_argument(
        "--config", type=Path, metavar="PATH", help="read settings from this file instead of pyproject.toml"
    )
    parser.add_argument("--version", action="version", version=f"optc {__version__}")
    return parser


def _sizes_argument(text: str) -> tuple[tuple[str, int], ...]:
    try:
        return parse_sizes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _calls_argument(text: str) -> tuple[tuple[str, int], ...]:
    try:
        return parse_calls(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _threshold_argument(text: str) -> float:
    try:
        threshold = float(text)
    except ValueError:
        threshold = 0.0
    if not 1 <= threshold < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a speed-up of at least 1, like 1.5, got {text!r}")
    return threshold


def _threads_argument(text: str) -> int:
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return threads


# ---- entry point ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run `optc` with `argv` (default: sys.argv[1:]); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["trace"]:
        from optcompiler import trace

        return trace.main(argv[1:])
    if argv[:1] == ["warm"]:
        from optcompiler import warm

        return warm.main(argv[1:])
    if argv[:1] == ["calibrate"]:
        from optcompiler import calibrate

        return calibrate.main(argv[1:])
    try:
        try:
            args = build_parser().parse_args(argv)
            options = _options(args)
        except SystemExit as done:  # --help, --version
            return done.code if isinstance(done.code, int) else EXIT_OK
        except UsageError as error:
            print(f"optc: error: {error}", file=sys.stderr)
            return EXIT_ERROR
        return Run(options).run()
    except KeyboardInterrupt:
        print("optc: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`optc --diff f.py | head`); keep Python from complaining again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


@dataclass(frozen=True)
class Options:
    """The command line, checked: what to read, where results go, and the flags that override settings."""

    inputs: tuple[Path, ...]
    output: str | None  # -o as given
    in_place: bool
    check: bool
    diff: bool
    report: str | None  # path, STDOUT, or None
    config_path: Path | None
    overrides: dict[str, object]
    verbose: int
    quiet: bool
    outputs: bool = False  # --outputs: the inputs are [tool.optc] outputs' (FILE only narrows them)

    @property
    def writes(self) -> bool:
        """Whether optimized files are written; --check and --diff only look."""
        return not (self.check or self.diff) and (self.output is not None or self.in_place or self.outputs)


def _options(args: argparse.Namespace) -> Options:
    files = list(args.files)
    report = args.report
    if report not in (None, STDOUT) and report.endswith(".py"):
        # `optc --report k.py ...`: argparse took the input for the report's path; a report is markdown.
        files.insert(0, report)
        report = STDOUT
    if not files and not args.outputs:
        raise UsageError("the following arguments are required: FILE")
    if args.threshold is not None and not args.check:
        raise UsageError("--threshold applies to --check: it sets which predicted speed-ups fail the check")
    if args.output is None and not (args.in_place or args.outputs or args.check or args.diff or report):
        raise UsageError(_NO_OUTPUT_HINT)
    if args.output == "":
        raise UsageError("-o needs a path (or - for stdout)")
    if report == STDOUT and (args.diff or (args.output == STDOUT and not args.check)):
        raise UsageError("--report and the optimized code would both go to stdout; give --report=PATH")
    overrides: dict[str, object] = {
        "target": args.target,
        "sizes": args.sizes,
        "calls": args.calls,
        "strict_fp": args.strict_fp,
        "fastmath": args.fastmath,
        "verify": args.verify,
        "threads": args.threads,
        "verbose": args.verbose,
        "quiet": args.quiet,
        "check_threshold": args.threshold,
        "llm": args.llm,
    }
    return Options(
        inputs=_unique([Path(f) for f in files]),
        output=args.output,
        in_place=args.in_place,
        check=args.check,
        diff=args.diff,
        report=report,
        config_path=args.config,
        overrides=overrides,
        verbose=args.verbose,
        quiet=args.quiet,
        outputs=args.outputs,
    )


def _unique(paths: list[Path]) -> tuple[Path, ...]:
    """Inputs in the order given, each file once (`a.py ./a.py` is one file)."""
    seen: set[str] = set()
    unique = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return tuple(unique)


# ---- one run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One input and where its output goes: a path, STDOUT, or nowhere (None)."""

    source: Path
    target: Path | str | None

    @property
    def name(self) -> str:
        return str(self.source)


class Run:
    """One invocation: owns the counters that decide the exit code and the summary line."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.err = sys.stderr
        self.out = sys.stdout
        self.errors = 0
        self.excluded = 0
        self.results: list[FileResult] = []
        self.checked: list[Checked] = []  # every file's kernels, from the pipeline or --check's cache
        self.failing = 0  # files that fail --check (for the threshold: kernels above it)
        self.thresholds: set[float] = set()
        self.above = 0
        self._found: dict[Path, Path | None] = {}  # config file by input folder
        self._configs: dict[Path | None, Config | OptcError] = {}  # by config file

    def run(self) -> int:
        if self.options.outputs:
            return self.run_outputs()
        try:
            jobs = self.plan()
        except OptcError as error:
            self.error(error)
            return EXIT_ERROR
        for job in jobs:
            self.process(job)
        if self.options.report is not None and self.results:
            self.write_report()
        if not self.options.quiet:
            self.say(self.summary())
        if self.errors:
            return EXIT_ERROR
        if self.options.check and self.failing:
            return EXIT_CHANGED
        return EXIT_OK

    # -- where each output goes

    def plan(self) -> list[Job]:
        """Targets for every input, refusing before any work what could only end badly."""
        options = self.options
        jobs = self._targets()
        if not options.in_place:
            for job in jobs:
                if isinstance(job.target, Path) and any(_same_file(job.target, p) for p in options.inputs):
                    raise OptcError("refusing to overwrite the input; use --in-place", str(job.target))
        report = options.report
        if report not in (None, STDOUT):
            taken = [j.source for j in jobs] + [j.target for j in jobs if isinstance(j.target, Path)]
            if any(_same_file(Path(report), path) for path in taken):
                raise OptcError("refusing to write the report over an input or output file", report)
        return jobs

    def _targets(self) -> list[Job]:
        options = self.options
        inputs = options.inputs
        if not options.writes:
            return [Job(path, None) for path in inputs]
        if options.in_place:
            return [Job(path, path) for path in inputs]
        out = options.output
        assert out is not None
        if out == STDOUT:
            if len(inputs) > 1:
                raise OptcError("-o - writes one file to stdout; for several inputs give -o DIR", "optc")
            return [Job(inputs[0], STDOUT)]
        out_path = Path(out)
        as_directory = out_path.is_dir() or out.endswith(("/", os.sep))
        if len(inputs) == 1 and not as_directory:
            return [Job(inputs[0], out_path)]
        if out_path.exists() and not out_path.is_dir():
            raise OptcError("not a directory; with several inputs, -o names a directory", out)
        jobs: list[Job] = []
        by_name: dict[str, Path] = {}
        for path in inputs:
            other = by_name.setdefault(path.name, path)
            if other is not path:
                raise OptcError(f"{other} and {path} would both be written to {out_path / path.name}", out)
            jobs.append(Job(path, out_path / path.name))
        try:
            out_path.mkdir(exist_ok=True)
        except OSError as error:
            raise OptcError(f"cannot create the output directory: {error.strerror or error}", out) from None
        return jobs

    # -- one file

    def process(self, job: Job) -> None:
        settings = self.config_for(job.source)
        if settings is None:
            return
        config, root = settings
        pattern = excluded_by(job.source, config.exclude, root)
        if pattern is not None:
            self.excluded += 1
            self.detail(f"{job.name}: skipped: excluded by [tool.optc] exclude ({pattern!r})")
            return
        if self.options.check and not self.options.diff and self.options.report is None:
            self.check(job, config, root)
            return
        optimized = self.optimize(job, config)
        if optimized is None:
            return
        result, checked = optimized
        if self.options.check:
            self.judge(checked, config)
        if self.options.diff and result.changed:
            self.out.write(unified_diff(result.source, result.output, job.name))
            self.out.flush()
        if job.target is not None:
            self.write(job, result)

    def optimize(self, job: Job, config: Config) -> tuple[FileResult, Checked] | None:
        """The pipeline on one file, its kernels told; None when the file failed (reported)."""
        frontend = importlib.import_module("optcompiler.frontend")
        try:
            source = frontend.read_source(job.source)
            pipeline = _pipeline()
            result = pipeline.optimize_source(source, job.name, config)
        except OptcError as error:
            if error.path is None:
                error.path = job.name
            self.error(error)
            return None
        except Exception as error:  # a bug in optc must cost one file, not the run
            self.internal_error(job.name, error)
            return None
        self.results.append(result)
        self.tell_kernels(result, pipeline)
        checked = Checked.of(result, pipeline)
        self.checked.append(checked)
        return result, checked

    # -- --check alone: the linter, remembered per file content

    def check(self, job: Job, config: Config, root: Path | None) -> None:
        """`--check` without --diff or --report: the file's verdicts, from optc's cache when this
        content was checked with these settings on this machine before, else from the pipeline."""
        if root is not None and any(_same_file(job.source, root / source) for source, _ in config.outputs):
            self.excluded += 1
            self.detail(f"{job.name}: skipped: `optc --outputs` keeps its optimized output in step")
            return
        cache = importlib.import_module("optcompiler.cache")
        try:
            data = job.source.read_bytes()
        except OSError:
            data = None  # the pipeline's reader reports it, in its words
        key = ""
        if data is not None:
            key = cache.result_key(data, cache.settings_text(config))
            remembered = Checked.from_json(cache.load_result(cache.cache_root(), key), job.name)
            if remembered is not None:
                self.detail(f"{job.name}: checked before with these settings on this machine (optc's cache)")
                self.tell_verdicts(remembered)
                self.checked.append(remembered)
                self.judge(remembered, config)
                return
        optimized = self.optimize(job, config)
        if optimized is None:
            return
        checked = optimized[1]
        if key and not any(k.outcome == "failed" for k in checked.kernels):  # a failure may not recur
            cache.store_result(cache.cache_root(), key, checked.to_json())
        self.judge(checked, config)

    def judge(self, checked: Checked, config: Config) -> None:
        """Whether the file fails --check, said in one line per kernel worth saying it about."""
        threshold = config.check_threshold
        if threshold is None:
            if checked.changed:
                self.failing += 1
                if not self.options.quiet:
                    emitted = sum(k.outcome == "optimized" for k in checked.kernels)
                    self.say(f"would optimize {checked.path} ({_plural(emitted, 'kernel')})")
            return
        self.thresholds.add(threshold)
        above = 0
        for kernel in checked.kernels:
            if kernel.outcome != "optimized":
                continue
            speedup = kernel.speedup
            over = speedup is not None and speedup > threshold
            above += over
            if self.options.quiet:
                continue
            figure = f"could be {speedup:.1f}x faster" if speedup is not None else "could be optimized"
            kind = "predicted" if kernel.predicted is not None else "measured"
            verdict = (
                f"above the {threshold:g}x threshold" if over else f"within the {threshold:g}x threshold"
            )
            self.say(
                f"{checked.path}:{kernel.line}: {kernel.kernel}: {figure} ({kind}; {kernel.label}); {verdict}"
            )
        self.above += above
        self.failing += above > 0

    def tell_verdicts(self, checked: Checked) -> None:
        """What tell_kernels says, for remembered results."""
        for kernel in checked.kernels:
            where = f"{checked.path}:{kernel.line}: {kernel.kernel}"
            if kernel.outcome == "optimized":
                figures = [f"predicted {kernel.predicted:.1f}x"] if kernel.predicted is not None else []
                figures += [f"measured {kernel.measured:.1f}x"] if kernel.measured is not None else []
                self.detail(f"{where}: optimized ({', '.join([kernel.label, *figures])})")
            else:
                self.detail(f"{where}: {_unchanged(kernel.reason)}")

    # -- --outputs: the formatter

    def run_outputs(self) -> int:
        """Regenerate each [tool.optc] output whose stamp no longer matches its input, the settings,
        optc, or its own text; exit 1 when one was (with --check or --diff: would be) rewritten."""
        try:
            config, pairs = self.output_pairs()
        except OptcError as error:
            self.error(error)
            return EXIT_ERROR
        rewritten = fresh = 0
        for source, target in pairs:
            outcome = self.regenerate(source, target, config)
            rewritten += outcome == "rewritten"
            fresh += outcome == "fresh"
        if self.options.report is not None and self.results:
            self.write_report()
        if not self.options.quiet:
            looks = self.options.check or self.options.diff
            line = (
                f"{_plural(len(pairs), 'output')}: {rewritten} {'to regenerate' if looks else 'regenerated'}"
            )
            line += f", {fresh} up to date"
            if self.errors:
                line += f"; {_plural(self.errors, 'error')}"
            self.say(line)
        if self.errors:
            return EXIT_ERROR
        return EXIT_CHANGED if rewritten else EXIT_OK

    def output_pairs(self) -> tuple[Config, list[tuple[Path, Path]]]:
        """The (input, output) pairs of [tool.optc] outputs in the pyproject.toml for the current
        directory (or --config), paths relative to it; only those touching FILE when given."""
        found = self.options.config_path or find_config_file(Path.cwd())
        if found is None:
            raise OptcError(
                "no pyproject.toml with [tool.optc] here or above; --outputs regenerates what its "
                "`outputs` table names",
                str(Path.cwd()),
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            config = load_config(found.parent, self.options.overrides, found)
        for warning in caught:
            self.say(f"optc: warning: {warning.message}")
        if not config.outputs:
            raise OptcError(
                '[tool.optc] names no outputs; add e.g. outputs = {"src/kernels.py" = "src/kernels_fast.py"}',
                str(found),
            )
        root = found.parent
        pairs = [(_shown(root / source), _shown(root / output)) for source, output in config.outputs]
        if self.options.inputs:
            given = self.options.inputs
            pairs = [p for p in pairs if any(_same_file(p[0], f) or _same_file(p[1], f) for f in given)]
        return config, pairs

    def regenerate(self, source: Path, target: Path, config: Config) -> str | None:
        """One output: "fresh", "rewritten" (or would be), or None after an error (reported)."""
        cache = importlib.import_module("optcompiler.cache")
        try:
            data = source.read_bytes()
        except OSError as error:
            why = "no such file" if isinstance(error, FileNotFoundError) else (error.strerror or str(error))
            self.error(
                OptcError(f"{why} ([tool.optc] outputs names it as the input of {target})", str(source))
            )
            return None
        settings = cache.settings_text(config)
        try:
            existing: str | None = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = None
        except (OSError, UnicodeDecodeError):
            existing = ""
        status = "missing" if existing is None else cache.stamp_status(existing, data, settings)
        if status == "fresh":
            self.detail(f"{target}: up to date with {source}")
            return "fresh"
        optimized = self.optimize(Job(source, target), config)
        if optimized is None:
            return None
        frontend = importlib.import_module("optcompiler.frontend")
        output = cache.with_stamp(_generated(optimized[0].output, source.name, frontend), data, settings)
        if output == existing:
            return "fresh"
        why = {
            "missing": "it did not exist",
            "unstamped": "it has no optc stamp",
            "stale": f"{source}, [tool.optc] or optc changed",
            "edited": "it was edited by hand",
        }[status]
        if self.options.diff:
            self.out.write(unified_diff(existing or "", output, str(target)))
            self.out.flush()
        if self.options.check or self.options.diff:
            self.say(f"{target}: out of date ({why}); `optc --outputs` regenerates it")
            return "rewritten"
        try:
            _write_file(target, output)
        except OSError as error:
            self.error(OptcError(f"cannot write: {error.strerror or error}", str(target)))
            return None
        if not self.options.quiet:
            self.say(f"{target}: regenerated from {source} ({why}); add it to the commit")
        return "rewritten"

    def write(self, job: Job, result: FileResult) -> None:
        if job.target == STDOUT:
            self.out.write(result.output)
            self.out.flush()
            return
        target = Path(job.target)
        if target == job.source and not result.changed:
            return  # --in-place: an unchanged file keeps its timestamp
        try:
            _write_file(target, result.output)
        except OSError as error:
            self.error(OptcError(f"cannot write: {error.strerror or error}", str(job.target)))
            return
        self.detail(f"{job.name}: wrote {job.target}")

    def config_for(self, source: Path) -> tuple[Config, Path | None] | None:
        """The file's settings and project root; a broken config file is reported once and fails
        every file it covers."""
        folder = source.parent.resolve()
        if folder not in self._found:
            try:
                self._found[folder] = self.options.config_path or find_config_file(folder)
            except OptcError as error:  # an unreadable pyproject.toml on the way up
                self._found[folder] = Path(error.path or folder)
                self._configs[self._found[folder]] = error
                self.say(str(error))
        found = self._found[folder]
        if found not in self._configs:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    self._configs[found] = load_config(folder, self.options.overrides, found)
                for warning in caught:
                    self.say(f"optc: warning: {warning.message}")
                if found is not None and self.options.verbose >= 2:
                    self.say(f"{found}: settings read")
            except OptcError as error:
                self._configs[found] = error
                self.say(str(error))
        config = self._configs[found]
        if isinstance(config, OptcError):
            self.errors += 1
            return None
        return config, (found.parent if found is not None else None)

    # -- reporting

    def tell_kernels(self, result: FileResult, pipeline: ModuleType) -> None:
        for kernel in result.kernels:
            where = f"{result.path}:{kernel.line}: {kernel.kernel}"
            if isinstance(kernel, pipeline.Emitted):
                line = f"{where}: optimized ({kernel.candidate.label})"
                if kernel.predicted_speedup is not None:
                    line += f", predicted {kernel.predicted_speedup:.1f}x"
                if kernel.measured_speedup is not None:
                    line += f", measured {kernel.measured_speedup:.1f}x at {kernel.measured_at}"
                if kernel.compile_seconds is not None:
                    line += f", compiled and verified in {kernel.compile_seconds:.1f} s"
                payback = getattr(kernel, "payback", None)
                if payback is not None:
                    line += f"; {payback.describe()}"
                if self.options.verbose >= 2:
                    line += f"; {kernel.verified}"
                self.detail(line)
                if kernel.run_report is not None:
                    self.detail(f"    {pipeline.describe_search(kernel)}")
                if kernel.llm is not None and kernel.llm.failed_call and not self.options.verbose:
                    if not self.options.quiet:  # --llm asked for suggestions: say why there are none
                        self.say(f"{where}: {kernel.llm.describe()}")
            elif isinstance(kernel, pipeline.Failed):
                # A kernel optc failed on is left as written; say so even without -v.
                if not self.options.quiet:
                    self.say(f"{where}: failed: {kernel.reason}")
            else:
                self.detail(f"{where}: {_unchanged(kernel.reason)}")

    def write_report(self) -> None:
        text = _pipeline().report_markdown(self.results)
        report = self.options.report
        if report == STDOUT:
            self.out.write(text)
            self.out.flush()
            return
        try:
            _write_file(Path(report), text)
        except OSError as error:
            self.error(OptcError(f"cannot write the report: {error.strerror or error}", report))

    def summary(self) -> str:
        kernels = [k for r in self.checked for k in r.kernels]
        counts = {"optimized": 0, "unchanged": 0, "failed": 0}
        for kernel in kernels:
            counts[kernel.outcome] += 1
        line = f"{_plural(len(self.checked), 'file')}, {_plural(len(kernels), 'kernel')}: "
        line += f"{counts['optimized']} optimized, {counts['unchanged']} unchanged"
        if counts["failed"]:
            line += f", {counts['failed']} failed"
        if self.options.check:
            changed = sum(r.changed for r in self.checked)
            line += f"; {_plural(changed, 'file')} would change"
        if self.thresholds:
            bar = (
                f"the {min(self.thresholds):g}x threshold"
                if len(self.thresholds) == 1
                else "their thresholds"
            )
            line += f"; {_plural(self.above, 'kernel')} above {bar}"
        if self.errors:
            line += f"; {_plural(self.errors, 'error')}"
        if self.excluded:
            line += f"; {_plural(self.excluded, 'file')} excluded"
        return line

    def error(self, error: OptcError) -> None:
        self.errors += 1
        self.say(str(error))
        if self.options.verbose >= 2 and sys.exc_info()[0] is not None:
            traceback.print_exc(file=self.err)

    def internal_error(self, name: str, error: Exception) -> None:
        self.errors += 1
        hint = "" if self.options.verbose >= 2 else " (-v -v shows the traceback)"
        try:
            text = str(error)
        except Exception:  # e.g. a RecursionError in the repr of a deeply nested node
            text = "(its message cannot be shown)"
        self.say(f"{name}: internal error: {type(error).__name__}: {text}{hint}".replace("\n", " "))
        if self.options.verbose >= 2:
            traceback.print_exc(file=self.err)

    def say(self, line: str) -> None:
        print(line, file=self.err, flush=True)

    def detail(self, line: str) -> None:
        if self.options.verbose:
            self.say(line)


# ---- what the summary and --check need of a file's results ----------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One kernel's outcome as plain data: what the summary and --check say, and what --check's
    cache remembers (without the pipeline's types, whose import costs seconds)."""

    kernel: str
    line: int
    outcome: str  # "optimized", "unchanged" or "failed"
    label: str = ""  # the chosen candidate, e.g. "loops.interchange @ njit"
    predicted: float | None = None  # speed-up over plain njit
    measured: float | None = None
    reason: str = ""  # why unchanged or failed

    @property
    def speedup(self) -> float | None:
        return self.predicted if self.predicted is not None else self.measured


@dataclass(frozen=True)
class Checked:
    path: str
    changed: bool
    kernels: tuple[Verdict, ...]

    @staticmethod
    def of(result: FileResult, pipeline: ModuleType) -> Checked:
        verdicts = []
        for k in result.kernels:
            if isinstance(k, pipeline.Emitted):
                label = str(getattr(k.candidate, "label", ""))
                predicted, measured = k.predicted_speedup, getattr(k, "measured_speedup", None)
                verdicts.append(Verdict(k.kernel, k.line, "optimized", label, predicted, measured))
            else:
                outcome = "failed" if isinstance(k, pipeline.Failed) else "unchanged"
                verdicts.append(Verdict(k.kernel, k.line, outcome, reason=k.reason))
        return Checked(result.path, result.changed, tuple(verdicts))

    def to_json(self) -> dict[str, object]:
        return {"changed": self.changed, "kernels": [dataclasses.asdict(k) for k in self.kernels]}

    @staticmethod
    def from_json(data: object, path: str) -> Checked | None:
        """None for anything but what `to_json` wrote (then the file is checked again)."""
        try:
            assert isinstance(data, dict) and isinstance(data["changed"], bool)
            kernels = tuple(Verdict(**k) for k in data["kernels"])
        except (AssertionError, KeyError, TypeError):
            return None
        return Checked(path, data["changed"], kernels)


# ---- helpers --------------------------------------------------------------------------------------------


def _unchanged(reason: str) -> str:
    """A kernel left as written, or one whose loops alone were compiled (the reason says so)."""
    return reason if reason.startswith(PARTLY_COMPILED) else f"unchanged: {reason}"


def _pipeline() -> ModuleType:
    """Imported on first use: numba and friends make it slow, and --version or a missing file need none of it."""
    return importlib.import_module("optcompiler.pipeline")


def _shown(path: Path) -> Path:
    """`path` relative to the current directory when it lies below it, as messages show it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _generated(output: str, name: str, frontend: ModuleType) -> str:
    """`output` marked as optc's even when no kernel changed, so optc never optimizes it again and
    readers know not to edit it."""
    if frontend.is_generated(output):
        return output
    bom = output.startswith(frontend.BOM)
    body = output.removeprefix(frontend.BOM)
    header = (
        f"{frontend.GENERATED_HEADER} {__version__} from {name}; no kernel was optimized (optc -v says why); "
        "do not edit, re-run optc instead.\n"
    )
    return (frontend.BOM if bom else "") + header + body


def _write_file(target: Path, text: str) -> None:
    """Atomically, through a symlink rather than over it; a read-only file stays as it is."""
    from optcompiler.emit import write_atomic

    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.is_dir():
        raise IsADirectoryError(21, "is a directory")
    if not target.parent.is_dir():
        raise FileNotFoundError(2, f"no such directory: {target.parent}")
    if target.exists() and not os.access(target, os.W_OK):
        raise PermissionError(13, "Permission denied")
    write_atomic(target, text)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def unified_diff(before: str, after: str, path: str) -> str:
    """A `git diff`-style patch of one file (`--- a/path`, `+++ b/path`), applicable with `patch -p1`."""
    name = Path(path).as_posix().lstrip("/")
    lines = difflib.unified_diff(
        _lines(before),
        _lines(after),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    out: list[str] = []
    for line in lines:
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    """Lines as `patch` sees them: split at newlines only (str.splitlines also splits at form feeds)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


if __name__ == "__main__":
    sys.exit(main())
