"""What `@optimize` costs once a signature is specialized: per call, and in a restarted process.

    python bench/decorator.py [--calls N] [--rounds R] [--restarts K] [--out bench/results]

(a) Dispatch. A trivial kernel (the sum of a 3-element array: the call is all overhead) is timed
    per call as plain `numba.njit` of the function and as `@optimize` once its signature is cached
    (Numba's C type lookup on the guard, the bucket check, the variant), in interleaved rounds, min
    per call over rounds. For context: an empty Python function, and the slow path (a call whose
    guard refuses it: two signatures alternating). Target: optimize ≤ 1.5x njit.
(b) Restart. A first process optimizes the kernel into a fresh cache; then K new processes each
    import the module and time the first call. Numba's share (its first `typeof`, which sets up its
    typing machinery, and the guard's compile, served from Numba's cache beside the variant) is
    reported apart from optc's own (signature, key, entry, module import). Target: optc's own
    < 50 ms.

Results go to `<out>/decorator.md` and `<out>/decorator.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results"

KERNEL = textwrap.dedent(
    """\
    import numpy as np

    from optcompiler import optimize


    @optimize
    def total(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i]
        return s
    """
)


def _import(folder: Path, name: str) -> Any:
    sys.path.insert(0, str(folder))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(folder))


# ---- (a) dispatch ------------------------------------------------------------------------------------


def dispatch(folder: Path, calls: int, rounds: int) -> dict[str, Any]:
    import numba
    import numpy as np

    module = _import(folder, "bench_kernel")
    optimized = module.total
    plain = numba.njit(optimized.__wrapped__)
    x = np.ones(3)
    started = time.perf_counter()
    optimized(x)  # optimizes (or loads from the cache)
    first = time.perf_counter() - started
    plain(x)
    spec = next(iter(optimized._optc.table.values()))
    if spec.guard is None:
        raise SystemExit(f"bench/decorator.py: the kernel was not optimized: {spec.reason}")

    def empty(a: object) -> None:
        return None

    y = np.ones(3, dtype=np.float32)
    optimized(y)  # a second signature, so alternating calls refuse each other's guard

    def alternating(a: object) -> None:
        optimized(a)
        optimized(y)

    contenders = {"python": empty, "njit": plain, "optimize": optimized}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, function in contenders.items():
            seconds = min(timeit.repeat(lambda f=function: f(x), number=calls, repeat=3)) / calls
            best[name] = min(best.get(name, seconds), seconds)
    floor = min(timeit.repeat(lambda: None, number=calls, repeat=3)) / calls  # the lambda itself
    slow = min(timeit.repeat(lambda: alternating(x), number=calls // 50, repeat=3)) / (2 * (calls // 50))
    per_call = {name: seconds - floor for name, seconds in best.items()}
    return {
        "kernel": "total(x), x = np.ones(3): a 3-iteration loop",
        "variant": f"{'+'.join(spec.entry.derivation) or 'original'} @ {spec.entry.target}",
        "first_call_seconds": first,
        "calls_per_timing": calls,
        "rounds": rounds,
        "ns": {name: seconds * 1e9 for name, seconds in per_call.items()},
        "slow_path_ns": (slow - floor) * 1e9,
        "ratio_optimize_vs_njit": per_call["optimize"] / per_call["njit"],
        "added_ns": (per_call["optimize"] - per_call["njit"]) * 1e9,
    }


# ---- (b) restart ---------------------------------------------------------------------------------------


def restart_child(folder: Path) -> None:
    """One restarted process: import, first call; prints its figures as JSON."""
    started = time.perf_counter()
    import numba  # noqa: F401
    import numpy as np

    after_numba = time.perf_counter()
    module = _import(folder, "bench_kernel")
    imported = time.perf_counter()
    x = np.ones(3)
    module.total(x)
    first = time.perf_counter() - imported
    again = time.perf_counter()
    module.total(x)
    second = time.perf_counter() - again
    spec = next(iter(module.total._optc.table.values()))
    print(
        json.dumps(
            {
                "import_numpy_numba": after_numba - started,
                "import_optc_and_module": imported - after_numba,
                "first_call": first,
                "numba_load": spec.load_seconds,
                "optc_own": first - (spec.load_seconds or 0.0),
                "second_call": second,
                "origin": spec.origin,
                "pipeline_imported": "optcompiler.pipeline" in sys.modules,
            }
        )
    )


def restart(folder: Path, restarts: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    runs = []
    for _ in range(restarts):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if any(r["origin"] != "from the cache" for r in runs):
        raise SystemExit(f"bench/decorator.py: a restarted process did not hit the cache: {runs}")
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {
        "restarts": restarts,
        "median": {k: statistics.median(r[k] for r in runs) for k in keys},
        "min": {k: min(r[k] for r in runs) for k in keys},
        "pipeline_imported": any(r["pipeline_imported"] for r in runs),
    }


# ---- report ------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def markdown(result: dict[str, Any]) -> str:
    a, b = result["dispatch"], result["restart"]
    ns = a["ns"]
    verdict = "meets" if a["ratio_optimize_vs_njit"] <= 1.5 else "misses"
    own = b["median"]["optc_own"]
    lines = [
        "# @optimize: dispatch overhead and restart cost",
        "",
        f"`python bench/decorator.py` — {result['when']}",
        "",
        f"- machine: {result['machine']}; load average at start {result['load']}",
        f"- versions: {result['versions']}",
        "",
        "## (a) Dispatch of a cached call",
        "",
        f"Kernel: {a['kernel']}; chosen variant {a['variant']}. Per call, min over {a['rounds']} interleaved "
        f"rounds of {a['calls_per_timing']:,} calls, the timing loop's own cost subtracted.",
        "",
        "| callable | per call | vs njit |",
        "|---|---|---|",
        f"| empty Python function | {ns['python']:.0f} ns | {ns['python'] / ns['njit']:.2f}x |",
        f"| `numba.njit(total)` | {ns['njit']:.0f} ns | 1.00x |",
        f"| `@optimize` `total`, signature cached | {ns['optimize']:.0f} ns | **{a['ratio_optimize_vs_njit']:.2f}x** |",
        f"| `@optimize`, slow path (guard refused: two signatures alternating) | {a['slow_path_ns']:.0f} ns | {a['slow_path_ns'] / ns['njit']:.1f}x |",
        "",
        f"`@optimize` adds {a['added_ns']:.0f} ns to the njit call: {verdict} the target of ≤ 1.5x. "
        "The hit is one generated Python frame (`try: return _optc_hot(x)`) and Numba's own C-level "
        "type lookup on the guard, whose bucket check runs in compiled code.",
        "",
        "## (b) First call in a restarted process, from the cache",
        "",
        f"Median (min) of {b['restarts']} fresh processes, after one process built the entry.",
        "",
        "| | median | min |",
        "|---|---|---|",
    ]
    labels = {
        "import_numpy_numba": "import numpy, numba",
        "import_optc_and_module": "import optcompiler and the module (decorating)",
        "first_call": "first call, total",
        "numba_load": "of which Numba: typing the arguments, the guard's compile from Numba's cache",
        "optc_own": "of which optc: signature, key, entry, module import",
        "second_call": "second call",
    }
    for key, label in labels.items():
        lines.append(f"| {label} | {_ms(b['median'][key])} | {_ms(b['min'][key])} |")
    lines += [
        "",
        f"optc's own share of the first call: {_ms(own)} (target < 50 ms: "
        f"{'met' if own < 0.05 else 'missed'}). No pipeline, no verification: the restarted process "
        f"{'imported' if b['pipeline_imported'] else 'did not even import'} `optcompiler.pipeline`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000, help="calls per timing (default 200000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--restarts", type=int, default=7, help="restarted processes (default 7)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        restart_child(args.child)
        return 0
    import llvmlite
    import numba
    import numpy as np

    import optcompiler

    with tempfile.TemporaryDirectory(prefix="optc-bench-decorator-") as tmp:
        folder = Path(tmp)
        (folder / "bench_kernel.py").write_text(KERNEL)
        os.environ["OPTC_CACHE_DIR"] = str(folder / "cache")
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        result = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, {platform.platform()}",
            "load": load,
            "versions": f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
            f"llvmlite {llvmlite.__version__}, optc {optcompiler.__version__}",
            "dispatch": dispatch(folder, args.calls, args.rounds),
        }
        result["restart"] = restart(folder, args.restarts)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decorator.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "decorator.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
