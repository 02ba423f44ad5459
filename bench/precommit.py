"""What the pre-commit hooks cost when nothing changed, against their first run.

    python bench/precommit.py [--repeat R] [--out bench/results]

A temporary project with `[tool.optc] outputs` for one kernel file and a second kernel file to lint.
Timed, as the hooks run them (a fresh `optc` process each, wall clock, min over R):
  - `optc --outputs`: first run (optimizes, writes the stamped output), then unchanged (stamp hit);
  - `optc --check FILE`: first run (the pipeline), then unchanged (remembered in optc's cache).
For scale: `optc --version`, the interpreter start plus optc's CLI import.

Results go to `<out>/precommit.md` and `<out>/precommit.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results"

KERNELS = """\
import numpy as np


def colsum(X):
    n, m = X.shape
    out = np.zeros(m)
    for j in range(m):
        for i in range(n):
            out[j] += X[i, j]
    return out
"""

PYPROJECT = """\
[tool.optc]
outputs = {"kernels.py" = "kernels_fast.py"}
sizes = {n = 1000, m = 1000}
check-threshold = 1.5
"""


def _optc(folder: Path, env: dict[str, str], *args: str) -> tuple[float, int]:
    command = [shutil.which("optc") or "optc", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench/precommit.py: optc {' '.join(args)} failed: {done.stderr.strip()}")
    return seconds, done.returncode


def measure(folder: Path, repeat: int) -> dict[str, Any]:
    env = dict(os.environ, OPTC_CACHE_DIR=str(folder / ".cache"))
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "kernels.py").write_text(KERNELS)
    (folder / "lint_me.py").write_text(KERNELS.replace("colsum", "colsum_too"))
    version = min(_optc(folder, env, "--version")[0] for _ in range(repeat))
    outputs_first, code_first = _optc(folder, env, "--outputs")
    outputs_again = [_optc(folder, env, "--outputs") for _ in range(repeat)]
    check_first, check_code = _optc(folder, env, "--check", "lint_me.py")
    check_again = [_optc(folder, env, "--check", "lint_me.py") for _ in range(repeat)]
    if code_first != 1 or any(code for _, code in outputs_again):
        raise SystemExit("bench/precommit.py: --outputs did not regenerate once, then pass")
    if any(code != check_code for _, code in check_again):
        raise SystemExit("bench/precommit.py: a remembered --check gave another verdict")
    return {
        "optc_version_s": version,
        "outputs_first_s": outputs_first,
        "outputs_unchanged_s": min(s for s, _ in outputs_again),
        "check_first_s": check_first,
        "check_unchanged_s": min(s for s, _ in check_again),
        "check_exit_code": check_code,
        "repeat": repeat,
    }


def markdown(result: dict[str, Any]) -> str:
    m = result["figures"]
    rows = [
        ("`optc --version` (interpreter + CLI import)", None, m["optc_version_s"]),
        ("`optc --outputs` (hook `optc`)", m["outputs_first_s"], m["outputs_unchanged_s"]),
        ("`optc --check lint_me.py` (hook `optc-check`)", m["check_first_s"], m["check_unchanged_s"]),
    ]
    lines = [
        "# pre-commit hooks: first run and nothing changed",
        "",
        f"`python bench/precommit.py` — {result['when']}; {result['machine']}; load average at start {result['load']}",
        "",
        f"One kernel file with a configured output, one kernel file to lint; wall clock of a fresh `optc` "
        f"process, min of {m['repeat']} for the unchanged runs.",
        "",
        "| command | first run | nothing changed |",
        "|---|---|---|",
    ]
    for label, first, again in rows:
        lines.append(f"| {label} | {'' if first is None else f'{first:.2f} s'} | {again:.2f} s |")
    lines += [
        "",
        "The unchanged `--outputs` reads two files and compares the output's stamp; the unchanged "
        "`--check` reads the remembered result from optc's cache. Neither imports the pipeline.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of each unchanged case (default 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="optc-bench-precommit-") as tmp:
        figures = measure(Path(tmp), args.repeat)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, python {platform.python_version()}",
        "load": load,
        "figures": figures,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "precommit.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "precommit.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
