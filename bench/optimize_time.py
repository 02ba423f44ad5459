"""Optimize-time benchmark: how long optc thinks about each corpus kernel, Numba and verification aside.

    python bench/optimize_time.py [--repeats 1] [--only NAME ...] [--out bench/results]

For every kernel of corpus/ (the function named after its module): lift, analyze, saturate, extract,
rank, i.e. `pipeline.optimize_kernel` with verification off (`verify = false`, `target = "cpu"`, so
no Numba compile, no worker, no GPU lowering), in this process, at the default settings (5k nodes,
12 iterations, 3 s saturation budget, top-32). Per kernel: the wall time of lift + optimize_kernel
(the median over `--repeats` runs), the per-stage `timings` the pipeline records, the e-graph's
nodes, classes, iterations, stop reason and the rules that fired, and a digest of the chosen
variant's source (the same input must give the same bytes: with `--repeats` > 1 the digests of all
runs must agree). Summary: median / p90 / max over the kernels and the issue's target, a median of
at most 2 s per kernel. Writes optimize_time.md and optimize_time.json to `--out`.

The numbers are CPU time on whatever machine runs it; the committed results say which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

TARGET_MEDIAN_S = 2.0
COMMAND = "python bench/optimize_time.py"


def optimize_once(name: str) -> dict[str, object]:
    """One kernel, once: its times, e-graph report and output digest."""
    from optcompiler import frontend
    from optcompiler.config import Config
    from optcompiler.ir import lift
    from optcompiler.pipeline import Emitted, module_prelude, optimize_kernel

    path = ROOT / "corpus" / f"{name}.py"
    source = path.read_text()
    module = frontend.parse(source, str(path))
    site = next(s for s in frontend.find_kernels(module, str(path)) if s.name == name)
    config = replace(Config(), verify=False, target="cpu")
    start = time.perf_counter()
    kernel = lift(site.node, str(path), module, site.line)
    lifted = time.perf_counter()
    result = optimize_kernel(kernel, module_prelude(module, kernel), config)
    end = time.perf_counter()
    row: dict[str, object] = {
        "kernel": name,
        "seconds": end - start,
        "stages": {"lift": lifted - start},
        "outcome": type(result).__name__,
    }
    if isinstance(result, Emitted):
        row["stages"] = {"lift": lifted - start, **dict(result.timings)}
        row["variant"] = result.candidate.label
        row["derivation"] = list(result.candidate.variant.derivation)
        row["digest"] = hashlib.sha1(result.source.encode()).hexdigest()[:12]
        r = result.run_report
        if r is not None:
            row["egraph"] = {
                "nodes": r.nodes,
                "classes": r.classes,
                "iterations": r.iterations,
                "saturate_seconds": r.seconds,
                "stop": r.stop_reason,
                "fired": {n: c for n, c in r.fired if c},
                "banned": dict(r.banned),
            }
    else:
        row["reason"] = getattr(result, "reason", "")
    return row


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def measure(names: list[str], repeats: int) -> list[dict[str, object]]:
    rows = []
    for name in names:
        runs = [optimize_once(name) for _ in range(repeats)]
        runs.sort(key=lambda r: r["seconds"])  # type: ignore[arg-type, return-value]
        row = runs[len(runs) // 2]
        digests = sorted({str(r.get("digest")) for r in runs})
        row["repeat_seconds"] = [r["seconds"] for r in runs]
        row["deterministic"] = len(digests) == 1
        rows.append(row)
        eg = row.get("egraph", {})
        print(
            f"{name:28s} {row['seconds']:6.2f} s  {eg.get('nodes', '-'):>5} nodes "  # type: ignore[union-attr]
            f"{eg.get('iterations', '-'):>3} it  {eg.get('stop', row['outcome'])}",  # type: ignore[union-attr]
            flush=True,
        )
    return rows


def markdown(rows: list[dict[str, object]], summary: dict[str, object], command: str) -> str:
    lines = [
        "# optc optimize time per corpus kernel",
        "",
        f"Command: `{command}`",
        "",
        "Optimize time = lift + analyze + saturate + extract + rank (+ emitting the variant's text):",
        "`pipeline.optimize_kernel` with verification off and `target = cpu`, so no Numba compilation,",
        "no verification worker, no GPU lowering. Default budgets (5k nodes, 12 iterations, 1 s",
        "saturation, top-32). The stage columns are the pipeline's own `timings`.",
        "",
        f"Machine: {summary['machine']}. {summary['note']}",
        "",
        f"**{summary['kernels']} kernels: median {summary['median_s']:.2f} s, p90 {summary['p90_s']:.2f} s, "
        f"max {summary['max_s']:.2f} s ({summary['max_kernel']}); target median ≤ {TARGET_MEDIAN_S:.0f} s: "
        f"{'met' if summary['target_met'] else 'NOT met'}.** Over {TARGET_MEDIAN_S:.0f} s: "
        f"{summary['over_target']}. Stop reasons: {summary['stops']}. Same output bytes on every repeat: "
        f"{summary['deterministic']}.",
        "",
        "| kernel | total s | lift | analyze | saturate+extract | (saturate) | rank | nodes | classes "
        "| iterations | stop | rules fired (applications) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        st: dict[str, float] = row["stages"]  # type: ignore[assignment]
        eg: dict[str, object] = row.get("egraph", {})  # type: ignore[assignment]
        fired = ", ".join(f"{n.split('.', 1)[-1]}×{c}" for n, c in eg.get("fired", {}).items())  # type: ignore[attr-defined]

        def ms(stage: str, st: dict[str, float] = st) -> str:
            return f"{st[stage] * 1000:.0f} ms" if stage in st else ""

        sat = f"{eg['saturate_seconds'] * 1000:.0f} ms" if eg else ""  # type: ignore[operator]
        lines.append(
            f"| {row['kernel']} | {row['seconds']:.2f} | {ms('lift')} | {ms('analyze')} | "
            f"{ms('saturate+extract')} | {sat} | {ms('rank')} | {eg.get('nodes', '')} | "
            f"{eg.get('classes', '')} | {eg.get('iterations', '')} | {eg.get('stop', row['outcome'])} | "
            f"{fired} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="corpus kernels to time (default: all)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--note", default="", help="a line about the machine's load, for the report")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPTC_COST_MODEL", "analytic")

    import corpus

    names = args.only or corpus.names()
    rows = measure(names, max(1, args.repeats))
    seconds = [float(r["seconds"]) for r in rows]  # type: ignore[arg-type]
    worst = max(rows, key=lambda r: r["seconds"])  # type: ignore[arg-type, return-value]
    stops: dict[str, int] = {}
    for r in rows:
        stop = str(r.get("egraph", {}).get("stop", r["outcome"]))  # type: ignore[attr-defined]
        stops[stop] = stops.get(stop, 0) + 1
    summary: dict[str, object] = {
        "kernels": len(rows),
        "median_s": statistics.median(seconds),
        "p90_s": percentile(seconds, 90),
        "max_s": max(seconds),
        "max_kernel": worst["kernel"],
        "target_median_s": TARGET_MEDIAN_S,
        "target_met": statistics.median(seconds) <= TARGET_MEDIAN_S,
        "over_target": ", ".join(
            f"{r['kernel']} ({r['seconds']:.2f} s)" for r in rows if r["seconds"] > TARGET_MEDIAN_S
        )  # type: ignore[operator]
        or "none",
        "stops": ", ".join(f"{k} {v}" for k, v in sorted(stops.items())),
        "deterministic": all(r["deterministic"] for r in rows),
        "repeats": max(1, args.repeats),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "note": args.note,
    }
    shown = list(argv if argv is not None else sys.argv[1:])
    if "--note" in shown:  # the note is in the report already; the command stays one line
        at = shown.index("--note")
        shown[at : at + 2] = ['--note "..."']
    command = " ".join([COMMAND, *shown])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "optimize_time.md").write_text(markdown(rows, summary, command.strip()))
    (args.out / "optimize_time.json").write_text(
        json.dumps({"command": command.strip(), "summary": summary, "kernels": rows}, indent=1) + "\n"
    )
    print(
        f"median {summary['median_s']:.2f} s, p90 {summary['p90_s']:.2f} s, max {summary['max_s']:.2f} s "
        f"({summary['max_kernel']}); target met: {summary['target_met']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
