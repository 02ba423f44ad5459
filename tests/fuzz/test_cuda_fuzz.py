"""Differential fuzzing of the CUDA lowering: generated kernels through `gpu.lower_cuda`, run on
numba-cuda's simulator, against CPython.

For each kernel from `strategies.kernels()` and `strategies.blas_kernels()`, every distinct CUDA
wrapper that `gpu.lower_cuda` makes from the kernel's extracted variants (most kernels are
refused: loop-carried dependences, early exits, float32 data...) runs on the input sets of the
CPU fuzzer. Blocks are tiny (4 threads, 4 x 2 in 2-D), so sizes 3, 5 and 7 span several blocks
and leave partial ones. Results are compared as in `test_fuzz`: bit for bit, except float sums
across threads, which the lowering reassociates (within the float policy's tolerance). Arrays
are never aliased here: the emitted code sends overlapping arguments to the original.

`NUMBA_ENABLE_CUDASIM=1` is read once, at numba-cuda's import, so the whole property runs in one
child process (this file run as a script) and the rest of the suite never sees a simulated
`numba.cuda`; the test skips when numba-cuda is not installed. `OPTC_FUZZ_CASES` scales it like
the CPU fuzzer (a tenth of the cases: the simulator runs each thread as Python).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK_CASES = 60
LONG_CASES = int(os.environ.get("OPTC_FUZZ_CASES", "0")) // 10


def _child(cases: int) -> dict[str, object]:
    """The property, run here in the simulator process; what it saw, and the first failure."""
    from hypothesis import given, note, settings
    from hypothesis import strategies as st

    from optcompiler import pipeline
    from optcompiler.analysis import analyze
    from optcompiler.passes import gpu
    from tests.fuzz.strategies import blas_kernels, kernels
    from tests.fuzz.test_fuzz import CONFIG, FUZZ, Raised, call, define, input_sets, lift_or_reject, mismatch

    seen: dict[str, int] = {"kernels": 0, "lowered kernels": 0, "wrappers": 0, "calls compared": 0}

    @settings(FUZZ, max_examples=cases)
    @given(source=st.one_of(kernels(), blas_kernels()))
    def lowered_kernels_compute_what_the_original_computes(source: str) -> None:
        note(source)
        original = define(source, "kernel")
        kernel = lift_or_reject(source)
        facts = analyze(kernel)
        variants, _ = pipeline.explore(kernel, facts, CONFIG)
        seen["kernels"] += 1
        wrappers: dict[str, None] = {}
        for variant in variants:
            text = gpu.lower_cuda(kernel, variant.body, facts, name="_cuda", block_1d=4, block_2d=(4, 2))
            if text is not None:
                wrappers.setdefault(text)
        if not wrappers:
            return
        seen["lowered kernels"] += 1
        params = [p.name for p in kernel.params]
        prelude = "import math\nimport numpy as np\nimport numpy.typing as npt\n"
        for text in list(wrappers)[:3]:
            seen["wrappers"] += 1
            wrapper = define(prelude + text, "_cuda")
            exact = "_optc_new_sum" not in text or all(
                facts.kind(name) != "float" for name in facts.local_kinds
            )
            for label, args in input_sets(facts, source):
                expected = call(original, args)
                if isinstance(expected[0], Raised):
                    continue
                seen["calls compared"] += 1
                what = mismatch(expected, call(wrapper, args), params, exact)
                assert what is None, f"CUDA wrapper on inputs ({label}): {what}\n{text}"

    failure = None
    try:
        lowered_kernels_compute_what_the_original_computes()
    except Exception as exc:  # the shrunk failure, reported to the parent
        failure = f"{type(exc).__name__}: {exc}"
    return {"seen": seen, "failure": failure}


@pytest.mark.slow
def test_cuda_lowering_on_the_simulator_computes_what_the_original_computes() -> None:
    if importlib.util.find_spec("numba_cuda") is None:  # not imported here: the simulator lives in the child
        pytest.skip("numba-cuda is not installed (pip install 'optc[cuda]')")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(LONG_CASES or QUICK_CASES)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800 if LONG_CASES else 600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    seen = result["seen"]
    print(f"\ncuda fuzz statistics: {seen}", file=sys.stderr)
    assert result["failure"] is None, result["failure"]
    assert seen["lowered kernels"] >= 5, (
        f"the lowering accepted almost nothing: the test tests nothing ({seen})"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(json.dumps(_child(int(sys.argv[1]))))
