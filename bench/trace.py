"""`optc trace` benchmark: tracer overhead, profile size, and the end-to-end gain of `--optimize`.

    python bench/trace.py [--n 400] [--repeats 3] [--out bench/results]

On a copy of tests/samples/trace_program (a multi-file program with unannotated kernels that
reads argv, writes and reads a file and runs a thread), whole processes are timed, min of
`--repeats` after one warm-up run each, plain and traced runs interleaved:
  1. `python main.py N` against `optc trace main.py N` (tracer overhead on loop-heavy code), and
     the same for a program of many tiny calls (the tracer's worst case: one probe per call);
  2. the profile's size (JSON plus argument samples);
  3. `optc trace --optimize --in-place main.py N` once (its wall time is the optimization cost),
     then the optimized program: the first run (Numba compiles, filling its cache) and warm runs,
     against the original program; outputs must match.
Writes trace.md and trace.json to `--out`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "tests" / "samples" / "trace_program"
TINY_CALLS = """
import sys

def clamp(x, lo, hi):
    return lo if x < lo else hi if x > hi else x

def main(n):
    total = 0.0
    for i in range(n):
        total += clamp(i * 0.5, 10.0, 1000.0)
    print(total)

main(int(sys.argv[1]))
"""


def wall(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return seconds, done.stdout


def paired(a: list[str], b: list[str], cwd: Path, repeats: int) -> tuple[float, float]:
    """Min wall time of each command, interleaved, after one warm-up run of each."""
    wall(a, cwd), wall(b, cwd)
    best_a = best_b = float("inf")
    for _ in range(repeats):
        best_a = min(best_a, wall(a, cwd)[0])
        best_b = min(best_b, wall(b, cwd)[0])
    return best_a, best_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    py, optc = [sys.executable], [sys.executable, "-m", "optcompiler.cli"]
    with tempfile.TemporaryDirectory(prefix="optc-trace-bench-") as folder:
        prog = Path(folder) / "prog"
        shutil.copytree(SAMPLE, prog)
        (prog / "tiny.py").write_text(TINY_CALLS)
        n = str(args.n)
        plain, traced = paired([*py, "main.py", n], [*optc, "trace", "main.py", n], prog, args.repeats)
        calls = str(args.calls)
        tiny_plain, tiny_traced = paired(
            [*py, "tiny.py", calls],
            [*optc, "trace", "--profile", ".optc/tiny.json", "tiny.py", calls],
            prog,
            args.repeats,
        )
        wall([*optc, "trace", "main.py", n], prog)
        profile_bytes = (prog / ".optc" / "profile.json").stat().st_size
        sample_bytes = sum(p.stat().st_size for p in (prog / ".optc" / "samples").glob("*.npz"))
        original_out = wall([*py, "main.py", n], prog)[1]
        optimize_seconds, table = wall([*optc, "trace", "--optimize", "--in-place", "main.py", n], prog)
        first_run, optimized_out = wall([*py, "main.py", n], prog)
        best_optimized = min(wall([*py, "main.py", n], prog)[0] for _ in range(args.repeats))
    results = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "n": args.n,
        "repeats": args.repeats,
        "plain_seconds": plain,
        "traced_seconds": traced,
        "overhead": traced / plain,
        "tiny_calls": args.calls,
        "tiny_plain_seconds": tiny_plain,
        "tiny_traced_seconds": tiny_traced,
        "tiny_overhead": tiny_traced / tiny_plain,
        "profile_bytes": profile_bytes,
        "sample_bytes": sample_bytes,
        "optimize_seconds": optimize_seconds,
        "optimized_first_run_seconds": first_run,
        "optimized_warm_seconds": best_optimized,
        "end_to_end_speedup_warm": plain / best_optimized,
        "end_to_end_speedup_first_run": plain / first_run,
        "same_output": original_out == optimized_out,
        "table": table.strip(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trace.json").write_text(json.dumps(results, indent=1) + "\n")
    md = f"""# `optc trace` benchmark

`python bench/trace.py --n {args.n} --repeats {args.repeats}` (whole-process wall times, min of {args.repeats} after a warm-up, interleaved; Python {results["python"]})

| measurement | seconds | ratio |
|---|---:|---:|
| program `main.py {args.n}` | {plain:.3f} | 1.00 |
| same under `optc trace` | {traced:.3f} | {traced / plain:.2f}x overhead |
| {args.calls} calls of a tiny function | {tiny_plain:.3f} | 1.00 |
| same under `optc trace` (worst case) | {tiny_traced:.3f} | {tiny_traced / tiny_plain:.2f}x overhead |
| `optc trace --optimize --in-place` (once) | {optimize_seconds:.1f} | |
| optimized program, first run (compiles) | {first_run:.3f} | {plain / first_run:.2f}x faster |
| optimized program, warm (Numba cache) | {best_optimized:.3f} | {plain / best_optimized:.2f}x faster |

Profile: {profile_bytes} bytes of JSON, {sample_bytes} bytes of argument samples. Outputs identical: {results["same_output"]}.

Table printed by `optc trace --optimize`:

{table.strip()}
"""
    (args.out / "trace.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
