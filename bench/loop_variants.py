"""Loop-rewrite benchmark: do top-level fusion and unroll-and-jam of a 3-deep nest's middle loop pay?

    python bench/loop_variants.py [--repeats 7] [--threads 1] [--out bench/results]

Each case is a kernel and the sizes to time it at. The variants are optc's own: `pipeline.explore`
with the loops pass alone (the rewrites under test, with nothing else competing), at the sizes of
the case; timed are the body as written, the best-ranked variant without the rule under test
(e.g. i-k-j gemm with A[i, k] hoisted), and the three best-ranked variants with it; the one the
analytic model ranks first is marked. Every contender is compiled with
`numba.njit` and called on the same inputs (fresh copies, untimed); its results must equal the
original's bit for bit (these rewrites never reorder arithmetic). Time: the minimum over
`--repeats` interleaved rounds, after a compiling call. Writes loop_variants.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_USING = 3  # variants using the rule under test that are timed, best ranked first


@dataclass(frozen=True)
class Case:
    name: str
    rule: str  # the rewrite under test: the variants whose derivation holds it are timed
    source: str
    inputs: Callable[[int], tuple]  # size -> arguments
    sizes: tuple[int, ...]
    symbols: tuple[str, ...]  # size symbols, each set to the size


def _vectors(n: int) -> tuple:
    import numpy as np

    rng = np.random.default_rng(7)
    return (rng.random(n),)


def _square(n: int) -> tuple:
    import numpy as np

    rng = np.random.default_rng(7)
    return rng.random((n, n)), rng.random((n, n)), np.zeros((n, n))


CASES = (
    Case(
        "scale_then_add",
        "loops.fuse",
        """
        import numpy as np

        def scale_then_add(a):
            n = a.shape[0]
            b = np.empty(n)
            c = np.empty(n)
            for i in range(n):
                b[i] = a[i] * 2.0
            for i in range(n):
                c[i] = b[i] + a[i]
            return c
        """,
        _vectors,
        (100_000, 10_000_000),
        ("n",),
    ),
    Case(
        "three_passes",
        "loops.fuse",
        """
        import numpy as np

        def three_passes(a):
            n = a.shape[0]
            b = np.empty(n)
            c = np.empty(n)
            d = np.empty(n)
            for i in range(n):
                b[i] = a[i] * 2.0
            for i in range(n):
                c[i] = b[i] + a[i]
            for i in range(n):
                d[i] = c[i] * b[i]
            return d
        """,
        _vectors,
        (100_000, 10_000_000),
        ("n",),
    ),
    Case(
        "gemm_ikj_update",
        "loops.unroll-jam",
        """
        def gemm_ikj_update(A, B, C):
            n, m = A.shape
            p = B.shape[1]
            for i in range(n):
                for k in range(m):
                    for j in range(p):
                        C[i, j] += A[i, k] * B[k, j]
        """,
        _square,
        (300, 800, 1200),
        ("n", "m", "p"),
    ),
)


def variants(case: Case, size: int) -> list[tuple[str, str, bool]]:
    """(derivation, source, ranked first) for the original and each variant using the rule."""
    from optcompiler import frontend
    from optcompiler.analysis import analyze
    from optcompiler.config import Config
    from optcompiler.costmodel.hardware import detect
    from optcompiler.ir import lower_function
    from optcompiler.passes import loops
    from optcompiler.pipeline import explore, rank

    source = textwrap.dedent(case.source)
    kernel = frontend.lift_function(source, f"{case.name}.py", case.name)
    facts = analyze(kernel)
    config = Config(sizes=tuple((s, size) for s in case.symbols), default_size=size)
    found, _ = explore(kernel, facts, config, passes=[loops])
    ranked = [c.variant for c, _ in rank(found, facts, config, detect())]
    written = next(v for v in ranked if not v.derivation)
    without = [v for v in ranked if v.derivation and case.rule not in v.derivation][:1]
    using = [v for v in ranked if case.rule in v.derivation][:MAX_USING]
    return [
        (
            " → ".join(v.derivation) or "as written",
            lower_function(case.name, kernel.params, v.body, None),
            v is ranked[0],
        )
        for v in (written, *without, *using)
    ]


def compile_all(case: Case, contenders: list[tuple[str, str, bool]]) -> list[Callable]:
    import numba
    import numpy as np

    funcs = []
    for i, (_, text, _) in enumerate(contenders):
        namespace: dict[str, object] = {"np": np}
        exec(compile(text, f"<{case.name} {i}>", "exec"), namespace)
        funcs.append(numba.njit(cache=False)(namespace[case.name]))
    return funcs


def fresh(args: tuple) -> tuple:
    import numpy as np

    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def measure(case: Case, size: int, repeats: int) -> list[dict[str, object]]:
    import numpy as np

    contenders = variants(case, size)
    funcs = compile_all(case, contenders)
    args = case.inputs(size)
    results = []
    for f in funcs:  # compiles; results compared bit for bit, arguments included
        call = fresh(args)
        results.append((f(*call), call))
    want = results[0]
    for (label, _, _), got in zip(contenders, results, strict=True):
        for a, b in zip((want[0], *want[1]), (got[0], *got[1]), strict=True):
            if not (a is None and b is None) and not np.array_equal(a, b):
                raise SystemExit(f"{case.name} at {size}: variant [{label}] computes something else")
    best = [float("inf")] * len(funcs)
    for _ in range(repeats):
        for i, f in enumerate(funcs):
            call = fresh(args)
            start = time.perf_counter()
            f(*call)
            best[i] = min(best[i], time.perf_counter() - start)
    base = best[0]
    return [
        {
            "case": case.name,
            "size": size,
            "variant": label,
            "ranked_first": first,
            "seconds": seconds,
            "speedup": base / seconds if seconds > 0 else None,
            "source": text,
        }
        for (label, text, first), seconds in zip(contenders, best, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--note", default="", help="a line about the machine's load, for the report")
    args = parser.parse_args(argv)
    if args.threads is not None and os.environ.get("NUMBA_NUM_THREADS") != str(args.threads):
        env = {k: str(args.threads) for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **env})
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OPTC_COST_MODEL", "analytic")
    rows: list[dict[str, object]] = []
    for case in CASES:
        for size in case.sizes:
            for row in measure(case, size, args.repeats):
                rows.append(row)
                first = " (ranked first)" if row["ranked_first"] else ""
                print(
                    f"{case.name:18s} {size:>9} {row['seconds'] * 1000:9.2f} ms {row['speedup']:5.2f}x "
                    f"{row['variant']}{first}",
                    flush=True,
                )
    shown = list(argv if argv is not None else sys.argv[1:])
    if "--note" in shown:
        at = shown.index("--note")
        shown[at : at + 2] = ['--note "..."']
    command = " ".join(["python bench/loop_variants.py", *shown])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    threads = os.environ.get("NUMBA_NUM_THREADS", "all cores")
    lines = [
        "# Loop rewrites measured: top-level fusion, unroll-and-jam of a middle loop",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine}; Numba threads: {threads}. {args.note}",
        "",
        "Variants are optc's (explore with the loops pass, ranked by the analytic model at each size);",
        "every variant's results equal the original's bit for bit. Time: min over interleaved rounds.",
        "",
        "| kernel | size | variant | ranked first | time | vs as written |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']} | {row['size']} | {row['variant']} | {'yes' if row['ranked_first'] else ''} | "
            f"{row['seconds'] * 1000:.2f} ms | {row['speedup']:.2f}x |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "loop_variants.md").write_text("\n".join(lines) + "\n")
    (args.out / "loop_variants.json").write_text(
        json.dumps({"command": command, "machine": machine, "threads": threads, "rows": rows}, indent=1)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
