#!/usr/bin/env bash
# One batched GPU measurement run: optc's CUDA variants of every corpus kernel that has one, at
# its sizes, against the CPU candidates (numba.njit, optc's CPU output, the NumPy reference) on
# the same host. GPU times include the host<->device copies; the copies alone and the compile
# time are recorded beside them (bench/gpu.py --corpus says how).
#
#     bash bench/gpu_device.sh            # on the GPU host, from the repository root, .whl/ present
#     NUMBA_ENABLE_CUDASIM=1 bash bench/gpu_device.sh --quick   # a smoke test on the CUDA simulator
#
# The GPU host has no package access and numpy 2.5 (numba-cuda fails with it): the wheels in .whl/
# (numpy 2.4, libcst, lightgbm, PyYAML; ../shared/GPU.md has the download line) go into .site/.
# Everything is written to $OUT (default bench/results/gpu): gpu_corpus.jsonl (one record per
# kernel and size, appended as measured), gpu_corpus.md, gpu_corpus_run.json, gpu_lowering.json,
# optc_cpu/ (optc's CPU output per kernel; packed as optc_cpu.tar.gz when $OUT is elsewhere, as
# the device tool brings back at most 8 files), host.txt and run.log. The whole run keeps to
# BUDGET seconds (default 450, under 8 minutes with the installation): whatever was measured by
# then is kept, and a crash (a dead CUDA context) resumes after the records already written.
set -u
START=$(date +%s)
ROOT=$(pwd)
OUT=${OUT:-$ROOT/bench/results/gpu}
BUDGET=${BUDGET:-450}
PYTHON=${PYTHON:-python3}
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
mkdir -p "$OUT"
# A second run resumes the first: with its records committed under bench/results/gpu, it measures
# only the kernels and sizes they lack.
SEED=$ROOT/bench/results/gpu
if [ -f "$SEED/gpu_corpus.jsonl" ] && [ "$(cd "$OUT" && pwd)" != "$(cd "$SEED" && pwd)" ]; then
    cp -r "$SEED/." "$OUT/"
    [ -f "$OUT/optc_cpu.tar.gz" ] && tar -xzf "$OUT/optc_cpu.tar.gz" -C "$OUT"
fi

if [ -z "${NUMBA_ENABLE_CUDASIM:-}" ] && [ -d .whl ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .site .whl/*.whl \
        || { echo "gpu_device.sh: installing .whl/ into .site/ failed" >&2; exit 2; }
    SITE=$ROOT/.site:
else
    SITE=
fi

# The installed layout (optcompiler.passes, .costmodel and .corpus are top-level folders in the
# repository, mapped by pyproject's package-dir) rebuilt from the working tree without installing it.
PKG=$(mktemp -d)
trap 'rm -rf "$PKG"' EXIT
mkdir -p "$PKG/optcompiler"
cp -r optcompiler/. "$PKG/optcompiler/"
for sub in passes costmodel corpus; do cp -r "$sub" "$PKG/optcompiler/$sub"; done
find "$PKG" -name __pycache__ -prune -exec rm -rf {} +
export PYTHONPATH=$SITE$PKG
export PYTHONDONTWRITEBYTECODE=1

{
    date -u
    uname -a
    nproc
    nvidia-smi 2>&1 | head -20
    "$PYTHON" -c "import numpy, numba, sys; print(sys.version); print('numpy', numpy.__version__, 'numba', numba.__version__)"
    "$PYTHON" -c "import numba_cuda; print('numba-cuda', numba_cuda.__version__)" 2>&1 | tail -1
} > "$OUT/host.txt" 2>&1

if [ "$QUICK" = 1 ]; then
    ARGS=(--quick --shrink 16 --sizes 2 --repeats 2 --kernels gemm,clipped_sum,wave1d,count_in_range
          --optc-jobs 2 --optc-budget 60)
else
    # 8 optc CPU optimizations at once on the 16 cores (each verifies in its own worker), then the
    # measurements one at a time; per contender at most ~0.15 s of timed calls per size, and a
    # warm call over 0.5 s is the only timing and ends that contender's larger sizes. CUDA variants:
    # two launch configurations, a 16x16 tiled one where a nest is matmul-like, and one explored body.
    ARGS=(--sizes 4 --repeats 5 --call-budget 0.15 --max-call 0.5 --launch-configs 2 --explored 1
          --most-variants 4 --optc-jobs 8 --optc-budget 90)
fi

for attempt in 1 2 3; do
    LEFT=$((BUDGET - ($(date +%s) - START)))
    [ "$LEFT" -gt 30 ] || break
    echo "== attempt $attempt: $LEFT s left" >> "$OUT/run.log"
    timeout -k 5 "$LEFT" "$PYTHON" bench/gpu.py --corpus --out "$OUT" --budget $((LEFT - 15)) "${ARGS[@]}" \
        >> "$OUT/run.log" 2>&1
    rc=$?
    echo "== attempt $attempt: exit $rc after $(($(date +%s) - START)) s" >> "$OUT/run.log"
    [ "$rc" = 0 ] && break
done
# one archive instead of ~80 files: the device tool brings back at most 8 files from $OUT
if [ -d "$OUT/optc_cpu" ] && [ "$(cd "$OUT" && pwd)" != "$(cd "$SEED" 2>/dev/null && pwd)" ]; then
    tar -czf "$OUT/optc_cpu.tar.gz" -C "$OUT" optc_cpu && rm -rf "$OUT/optc_cpu"
fi
tail -5 "$OUT/run.log"
[ -f "$OUT/gpu_corpus.md" ] && cat "$OUT/gpu_corpus.md"
exit 0
