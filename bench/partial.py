"""Partial compilation benchmark: kernels plain `numba.njit` cannot compile as a whole.

    python bench/partial.py [--repeats 5] [--out bench/results]

For each kernel of bench/partial_kernels.py: whether `numba.njit` compiles the original (it must
not, or the kernel does not belong here), optc's output for the file (its loop regions compiled as
helpers), and the time of the CPython original and of optc's output on the same inputs (min of
`--repeats` interleaved calls after a warm-up call that compiles; fresh input copies each call).
Results must match the original (floats within 1e-9 relative, for reordered sums). Writes
partial.md and partial.json to `--out`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KERNELS = HERE / "partial_kernels.py"


def inputs(name: str) -> dict[str, object]:
    rng = np.random.default_rng(11)
    return {
        "normalize_rows": lambda: {"A": rng.standard_normal((1500, 1500))},
        "smooth_logged": lambda: {"x": rng.standard_normal(200_000), "steps": 20, "log": []},
        "summary": lambda: {"x": rng.standard_normal(2_000_000)},
        "pairwise_report": lambda: {"X": rng.standard_normal((600, 3))},
        "column_means": lambda: {"A": rng.standard_normal((1500, 1500)), "label": "a"},
    }[name]()


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fresh(args: dict[str, object]) -> dict[str, object]:
    return {k: (v.copy() if isinstance(v, (np.ndarray, list)) else v) for k, v in args.items()}


def same(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.allclose(a, b, rtol=1e-9, atol=0)
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-9)  # type: ignore[arg-type]
    return a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    import numba

    from optcompiler.config import Config
    from optcompiler.pipeline import Emitted, optimize_source

    source = KERNELS.read_text()
    start = time.perf_counter()
    result = optimize_source(source, str(KERNELS), Config(default_size=1500))
    optimize_seconds = time.perf_counter() - start
    original = load(KERNELS, "partial_kernels")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "partial_kernels_fast.py"
        out.write_text(result.output)
        fast = load(out, "partial_kernels_fast")
        reasons = {r.kernel: r for r in result.kernels}
        for name in ("normalize_rows", "smooth_logged", "summary", "pairwise_report", "column_means"):
            data = inputs(name)
            try:
                numba.njit(getattr(original, name))(**fresh(data))
                njit = "compiles (does not belong here)"
            except Exception as exc:  # any Numba failure is the point
                njit = f"fails: {type(exc).__name__}"
            want = getattr(original, name)(**fresh(data))
            got = getattr(fast, name)(**fresh(data))  # compiles the helpers
            best = {"original": math.inf, "optc": math.inf}
            for _ in range(args.repeats):
                for label, module in (("original", original), ("optc", fast)):
                    call = fresh(data)
                    t0 = time.perf_counter()
                    getattr(module, name)(**call)
                    best[label] = min(best[label], time.perf_counter() - t0)
            helpers = [
                r.kernel
                for r in result.kernels
                if isinstance(r, Emitted) and r.kernel.startswith(f"_{name}_region")
            ]
            rows.append(
                {
                    "kernel": name,
                    "njit": njit,
                    "helpers": helpers,
                    "original_seconds": best["original"],
                    "optc_seconds": best["optc"],
                    "speedup": best["original"] / best["optc"],
                    "same_result": same(want, got),
                    "reason": getattr(reasons.get(name), "reason", ""),
                }
            )
    geomean = math.exp(sum(math.log(r["speedup"]) for r in rows) / len(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "partial.json").write_text(
        json.dumps({"rows": rows, "geomean": geomean, "optimize_seconds": optimize_seconds}, indent=1) + "\n"
    )
    lines = [
        "# Partial compilation: kernels plain njit cannot compile",
        "",
        f"`python bench/partial.py --repeats {args.repeats}` (min of interleaved calls after a compiling warm-up;"
        f" optc took {optimize_seconds:.0f} s for the file)",
        "",
        "| kernel | plain njit | compiled helpers | CPython original | optc | speed-up | same result |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kernel']} | {r['njit']} | {', '.join(r['helpers']) or '-'} | {r['original_seconds'] * 1e3:.1f} ms"
            f" | {r['optc_seconds'] * 1e3:.2f} ms | {r['speedup']:.1f}x | {r['same_result']} |"
        )
    lines += ["", f"geomean speed-up over the CPython original: {geomean:.1f}x", "", "What optc said:", ""]
    lines += [f"- `{r['kernel']}`: {r['reason']}" for r in rows]
    (args.out / "partial.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
