"""LLM-suggestion benchmark: an algorithmic rewrite only a suggestion reaches, and its learned rule.

    python bench/llm.py [--n 20000] [--repeats 5] [--out bench/results]

No language model is run here. A chat-completion server on 127.0.0.1 (the protocol optc speaks to
llama.cpp, vLLM, Ollama or a hosted service) answers with canned text: for `prefix_sum`, an O(n)
rewrite among wrong and invalid ones. What is measured is optc's side: the answer is parsed,
verified, merged into the e-graph and chosen by the cost model; a rule is learned from it; then
`running_totals`, a similar kernel in another file, is optimized with `max-calls = 0` (the learned
rule alone, no call). For each kernel: the time of plain `numba.njit` of the original and of optc's
output at size n (min of `--repeats` calls after a warm-up; fresh input each call), results
compared. Writes llm.md and llm.json to `--out`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numba
import numpy as np

from optcompiler import pipeline
from optcompiler.config import Config
from optcompiler.llm.settings import LlmConfig
from optcompiler.llm.suggest import reset_sessions

PREFIX_SUM = """import numpy as np


def prefix_sum(x):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(i + 1):
            s += x[j]
        out[i] = s
    return out
"""

RUNNING_TOTALS = """import numpy as np


def running_totals(values, scale):
    m = len(values)
    totals = np.zeros(m)
    for k in range(m):
        acc = 0.0
        for t in range(k + 1):
            acc += values[t]
        totals[k] = acc
    return totals * scale
"""

ANSWER = """Three rewrites:

```python
def prefix_sum(x):
    n = x.shape[0]
    out = np.zeros(n)
    s = 0.0
    for i in range(n):
        s += x[i]
        out[i] = s
    return out
```

```python
def prefix_sum(x):
    n = x.shape[0]
    out = np.zeros(n)
    s = 0.0
    for i in range(n):
        out[i] = s
        s += x[i]
    return out
```

```python
def prefix_sum(x):
    return np.array([x[: i + 1].sum() for i in range(len(x))])
```
"""


class _Scripted(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).calls += 1
        body = json.dumps(
            {"model": "scripted", "choices": [{"message": {"role": "assistant", "content": ANSWER}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def best_time(fn, make_args, repeats: int) -> tuple[float, object]:
    result = fn(*make_args())  # warm-up: compiles
    times = []
    for _ in range(repeats):
        args = make_args()
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    rng = np.random.default_rng(5)
    rows = []
    with tempfile.TemporaryDirectory(prefix="optc-bench-llm-") as tmp:
        folder = Path(tmp)
        cases = [
            ("prefix_sum", PREFIX_SUM, 8, lambda: (rng.standard_normal(args.n),)),
            ("running_totals", RUNNING_TOTALS, 0, lambda: (rng.standard_normal(args.n), 0.5)),
        ]
        for name, source, max_calls, make_args in cases:
            reset_sessions()
            before = _Scripted.calls
            llm = LlmConfig(
                enabled=True, endpoint=endpoint, cache_dir=str(folder / "llm"), max_calls=max_calls
            )
            config = Config(llm=llm, sizes=(("n", args.n), ("m", args.n)))
            started = time.perf_counter()
            result = pipeline.optimize_source(source, f"{name}.py", config)
            optimize_seconds = time.perf_counter() - started
            (kernel,) = result.kernels
            (folder / f"{name}.py").write_text(source)
            (folder / f"{name}_fast.py").write_text(result.output)
            original = getattr(load(folder / f"{name}.py", f"bench_llm_{name}"), name)
            fast = getattr(load(folder / f"{name}_fast.py", f"bench_llm_{name}_fast"), name)
            njit_seconds, want = best_time(numba.njit(original), make_args, args.repeats)
            fast_seconds, got = best_time(fast, make_args, args.repeats)
            # same inputs for the comparison
            inputs = make_args()
            want, got = numba.njit(original)(*inputs), fast(*inputs)
            agree = bool(np.allclose(got, want, rtol=1e-9, atol=0))
            emitted = isinstance(kernel, pipeline.Emitted)
            rows.append(
                {
                    "kernel": name,
                    "outcome": pipeline.describe(kernel),
                    "derivation": list(kernel.candidate.variant.derivation) if emitted else [],
                    "llm": kernel.llm.describe() if emitted and kernel.llm else None,
                    "model_calls": _Scripted.calls - before,
                    "n": args.n,
                    "njit_original_s": njit_seconds,
                    "optc_s": fast_seconds,
                    "speedup_vs_njit": njit_seconds / fast_seconds,
                    "results_agree": agree,
                    "optimize_s": optimize_seconds,
                }
            )
    httpd.shutdown()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# LLM suggestions: an O(n^2) kernel made O(n), then a learned rule alone",
        "",
        "Generated by `python bench/llm.py` "
        f"(n={args.n}, min of {args.repeats}). No language model was run: a local chat-completion",
        "server returned canned text (one correct O(n) rewrite, one wrong, one outside the subset).",
        "",
        "| kernel | how | model calls | njit original | optc | speed-up vs njit | results agree | optimize time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        how = " + ".join(r["derivation"]) or "original"
        lines.append(
            f"| {r['kernel']} | {how} | {r['model_calls']} | {r['njit_original_s'] * 1e3:.2f} ms | "
            f"{r['optc_s'] * 1e3:.3f} ms | {r['speedup_vs_njit']:.0f}x | {r['results_agree']} | {r['optimize_s']:.1f} s |"
        )
    lines += ["", *(f"- {r['kernel']}: {r['llm']}" for r in rows if r["llm"])]
    (args.out / "llm.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["results_agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
