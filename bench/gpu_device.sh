#!/usr/bin/env bash
# One batched GPU measurement run: optc's CUDA variants against the CPU candidates (numba.njit,
# optc's CPU output, the NumPy reference, BLAS where it uses it) on the same host. GPU times include
# the host<->device copies; the copies alone and the compile time are recorded beside them
# (bench/gpu.py --corpus says how).
#
#     bash bench/gpu_device.sh            # on the GPU host, from the repository root, .whl/ present
#     bash bench/gpu_device.sh --all      # every corpus kernel, resuming bench/results/gpu's records
#     FRESH=1 OUT=... bash bench/gpu_device.sh --all   # every corpus kernel again, into OUT
#     bash bench/gpu_device.sh --target   # optc's emitted modules end to end (bench/gpu_target.py)
#     FOCUS=a,b bash bench/gpu_device.sh --refresh   # kernels a and b again, as --all measures them,
#                                         # into bench/results/gpu/refresh (later records win in the report)
#     NUMBA_ENABLE_CUDASIM=1 bash bench/gpu_device.sh --quick   # a smoke test on the CUDA simulator
#
# By default it measures what changed since the committed corpus run (bench/results/gpu), at each
# kernel's four sizes, every launch configuration the GPU model ranks (16x16, 32x8, 64x4 blocks and
# 3-D blocks; 16x16 tiles; 32x32 and 64x64 tiles with 2x2 and 4x4 outputs a thread, kept in
# registers): the matmul family (gemm at n = 1024 first), the 3-D stencils (now 3-D grids), the
# float32 kernels (now lowered in float32), and 2-D stencils at n >= 1024. Those records go to
# bench/results/gpu/focus/ next, and `python bench/gpu_report.py --records
# bench/results/gpu/gpu_corpus.jsonl bench/results/gpu/focus/gpu_corpus.jsonl` rebuilds the table.
#
# The GPU host has no package access and numpy 2.5 (numba-cuda fails with it): the wheels in .whl/
# (numpy 2.4, libcst, lightgbm, PyYAML; ../shared/GPU.md has the download line) go into .site/.
# Everything is written to $OUT (default bench/results/gpu/focus, or bench/results/gpu with --all):
# gpu_corpus.jsonl (one record per kernel and size, appended as measured), gpu_corpus.md,
# gpu_corpus_run.json, gpu_lowering.json, optc_cpu.tar.gz (optc's CPU output per kernel), host.txt
# (with the host CPU as optc's cost model sees it) and run.log: at most 8 files, all the device tool
# brings back. The whole run keeps to BUDGET seconds (default 480, under 10 minutes with the
# installation): whatever was measured by then is kept, and a crash (a dead CUDA context) resumes
# after the records already written.
set -u
START=$(date +%s)
ROOT=$(pwd)
BUDGET=${BUDGET:-480}
PYTHON=${PYTHON:-python3}
QUICK=0
ALL=0
TARGET=0
[ "${1:-}" = "--quick" ] && QUICK=1
[ "${1:-}" = "--all" ] && ALL=1
[ "${1:-}" = "--target" ] && TARGET=1
REFRESH=0
[ "${1:-}" = "--refresh" ] && REFRESH=1
# the matmul family first (gemm at n = 1024 is issue 10's test), then 3-D stencils, float32, 2-D stencils
FOCUS=${FOCUS:-gemm,gemm_tn,gemm_nt,int_matmul,syrk,gemm_axpby,pairwise_distances,heat3d,stencil27,jacobi2d,heat2d32,rmsnorm32,gemv32,grayscale32,stencil9,conv2d_3x3}
if [ "$ALL" = 1 ]; then
    OUT=${OUT:-$ROOT/bench/results/gpu}
elif [ "$REFRESH" = 1 ]; then
    OUT=${OUT:-$ROOT/bench/results/gpu/refresh}
elif [ "$TARGET" = 1 ]; then
    OUT=${OUT:-$ROOT/bench/results}
else
    OUT=${OUT:-$ROOT/bench/results/gpu/focus}
fi
mkdir -p "$OUT"
# A second --all run resumes the first: with its records committed under bench/results/gpu, it
# measures only the kernels and sizes they lack. (The focus run resumes its own $OUT the same way.)
# FRESH=1 starts from nothing instead: every kernel and size measured again (e.g. after optc's
# CPU choices changed, since the records hold the optc CPU output of the run that made them).
SEED=$ROOT/bench/results/gpu
[ "$ALL" = 1 ] || SEED=$ROOT/bench/results/gpu/focus
[ "$REFRESH" = 1 ] && SEED=$ROOT/bench/results/gpu/refresh  # resumes its own records, never the corpus run's
if [ "${FRESH:-0}" = 0 ] && [ "$TARGET" = 0 ] && [ -f "$SEED/gpu_corpus.jsonl" ] && [ "$(cd "$OUT" && pwd)" != "$(cd "$SEED" && pwd)" ]; then
    cp -r "$SEED/." "$OUT/"
    [ -f "$OUT/optc_cpu.tar.gz" ] && tar -xzf "$OUT/optc_cpu.tar.gz" -C "$OUT"
fi

. "$ROOT/bench/device_env.sh"

{
    date -u
    uname -a
    nproc
    nvidia-smi 2>&1 | head -20
    "$PYTHON" -c "import numpy, numba, sys; print(sys.version); print('numpy', numpy.__version__, 'numba', numba.__version__)"
    "$PYTHON" -c "import numba_cuda; print('numba-cuda', numba_cuda.__version__)" 2>&1 | tail -1
    lscpu 2>&1 | head -25
    # from / so that the repository's own optcompiler/ (without costmodel/) does not shadow $PKG's
    (cd / && "$PYTHON" -c "from optcompiler.costmodel.hardware import detect; h = detect(); print(h.id, h)") 2>&1 | tail -1
} > "$OUT/host.txt" 2>&1

if [ "$TARGET" = 1 ]; then
    # --target gpu and auto on bench/gpu_target.py's kernels (relax, gemm at n = 1024, smooth, axpy,
    # a 3-D ping-pong stencil, a float32 kernel): the emitted modules, their thresholds, timed
    timeout -k 5 $((BUDGET - ($(date +%s) - START))) "$PYTHON" bench/gpu_target.py --out "$OUT" \
        > "$OUT/gpu_target_run.log" 2>&1
    tail -5 "$OUT/gpu_target_run.log"
    [ -f "$OUT/gpu_target.md" ] && cat "$OUT/gpu_target.md"
    exit 0
fi
if [ "$QUICK" = 1 ]; then
    ARGS=(--quick --shrink 16 --sizes 1 --repeats 2 --kernels gemm,heat3d,rmsnorm32,clipped_sum
          --optc-jobs 2 --optc-budget 60)
elif [ "$REFRESH" = 1 ]; then
    # optc's CPU output made one kernel at a time (OPTC_JOBS). Eight at once on 16 cores measure
    # their candidates against each other's threads, and BLAS or parallel candidates lose their
    # measured pick to the serial original (gemm, syrk, rbf_kernel32 shipped the original that way)
    ARGS=(--kernels "$FOCUS" --sizes 4 --repeats 5 --call-budget 0.15 --max-call 0.5 --launch-configs 2
          --explored 1 --most-variants 4 --optc-jobs "${OPTC_JOBS:-1}" --optc-budget "${OPTC_BUDGET:-200}")
elif [ "$ALL" = 0 ]; then
    # every block shape and tiling of the original body (explored bodies: one, untiled and tiled),
    # at most 9 CUDA variants a kernel
    ARGS=(--kernels "$FOCUS" --sizes 4 --repeats 5 --call-budget 0.15 --max-call 0.5 --launch-configs 3
          --explored 1 --most-variants 9 --optc-jobs 8 --optc-budget 90)
else
    # 8 optc CPU optimizations at once on the 16 cores (each verifies in its own worker), then the
    # measurements one at a time; per contender at most ~0.15 s of timed calls per size, and a
    # warm call over 0.5 s is the only timing and ends that contender's larger sizes. CUDA variants:
    # two launch configurations, a 16x16 tiled one where a nest is matmul-like, and one explored body.
    ARGS=(--sizes 4 --repeats 5 --call-budget 0.15 --max-call 0.5 --launch-configs 2 --explored 1
          --most-variants "${MOST_VARIANTS:-4}" --optc-jobs "${OPTC_JOBS:-8}" --optc-budget "${OPTC_BUDGET:-90}")
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
