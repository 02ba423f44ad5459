#!/usr/bin/env bash
# Cost-model measurements on the device host, for costmodel/data (its README says how each file
# was made). From the repository root, .whl/ present (../shared/GPU.md):
#
#     KERNELS=gemm,gemv BUDGET_MINUTES=7 bash bench/measure_device.sh
#     KERNELS=gemv SIZES=0 OUT=/tmp/first bash bench/measure_device.sh   # the first size only
#
# writes $OUT/<hardware-id>.jsonl.gz (default OUT: costmodel/data/remeasure) and $OUT/measure.log.
# A command there lasts at most 10 minutes, so a run resumes: a records file of this host already
# in costmodel/data/remeasure/ (brought back by an earlier command) is copied to $OUT first and
# `measure` skips what it holds. BUDGET_MINUTES stops starting kernels after that long.
set -u
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$ROOT/costmodel/data/remeasure}
mkdir -p "$OUT"
. "$ROOT/bench/device_env.sh"
ID=$(cd /tmp && "$PYTHON" -c "from optcompiler.costmodel.hardware import detect; print(detect().id)")
SEED=$ROOT/costmodel/data/remeasure/$ID.jsonl.gz
if [ -f "$SEED" ] && [ "$(realpath "$SEED")" != "$(realpath -m "$OUT/$ID.jsonl.gz")" ]; then
    cp "$SEED" "$OUT/$ID.jsonl.gz"
fi
# from /tmp: the repository's top-level folders must not shadow the installed layout
cd /tmp && "$PYTHON" -m optcompiler.costmodel.measure --kernels "${KERNELS:?name the kernels}" --sizes "${SIZES:-all}" --top-k 3 \
    --budget-minutes "${BUDGET_MINUTES:-7}" --out "$OUT/$ID.jsonl.gz" > "$OUT/measure.log" 2>&1
status=$?
tail -5 "$OUT/measure.log"
exit $status
