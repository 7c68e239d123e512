#!/usr/bin/env bash
# The engine on a CUDA machine, in one go (about 3 minutes): its tests with a GPU present, then the
# time to grade a class of reference students with --device all and --device cpu, twice each
# (byte-identical?).  Writes tests.txt and timing.txt under $OUT (default: /tmp/engine-device-check).
# Run from the repository root: bash autograder/engine/probe/device_check.sh (STUDENTS=32, PYTHON=python3).
set -u
OUT=${OUT:-/tmp/engine-device-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
{
  $PY -c "import sys, torch, pytest; print(sys.version.split()[0], torch.__version__, pytest.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"
  nproc; ls -l /dev/nvidia* 2>&1 | head -4
} > "$OUT/env.txt" 2>&1
timeout "${PYTEST_TIMEOUT:-420}" $PY -m pytest tests/test_engine_grading.py tests/test_engine_units.py -q -p no:cacheprovider -rs \
  > "$OUT/tests.txt" 2>&1
echo "pytest exit $?" >> "$OUT/tests.txt"
CLASS=/tmp/engine-class; rm -rf "$CLASS"
for i in $(seq -w 1 "${STUDENTS:-32}"); do
  for d in day15 day16; do
    mkdir -p "$CLASS/submitted/s$i/$d"
    for lv in basic intermediate advanced; do cp "solutions/$d/$lv.py" "$CLASS/submitted/s$i/$d/"; done
  done
done
TIMEFORMAT="%R s wall, %U s user, %S s sys"
{
  for dev in ${DEVICES:-all cpu}; do
    for run in 1 2; do
      echo "device=$dev run=$run:"
      time $PY -m autograder grade "$CLASS" --out "/tmp/engine-out-$dev-$run" --device "$dev" --quiet 2>&1 | tail -2
    done
    diff -r -x .lock "/tmp/engine-out-$dev-1" "/tmp/engine-out-$dev-2" > /dev/null && echo "device=$dev: identical files"
    head -c 600 "/tmp/engine-out-$dev-1/gradebook.csv" | tail -n 3
  done
  echo "one student, --jobs 1, device=all:"
  time $PY -m autograder grade "$CLASS/submitted/$(ls "$CLASS/submitted" | head -1)" --out /tmp/engine-out-one \
    --jobs 1 --quiet 2>&1 | tail -2
} > "$OUT/timing.txt" 2>&1
cp "/tmp/engine-out-all-1/$(ls "$CLASS/submitted" | head -1)/results.json" "$OUT/first_results.json" 2>/dev/null
cat "$OUT/env.txt" "$OUT/timing.txt"; tail -25 "$OUT/tests.txt"
