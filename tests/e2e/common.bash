# Helpers shared by the end-to-end tests (sourced, not run).
# The tests get DTRAIN (the executable), MPIEXEC and SRC from CTest.
set -euo pipefail
: "${DTRAIN:?set DTRAIN to the dtrain executable}"
: "${SRC:?set SRC to the source tree}"
MPIEXEC="${MPIEXEC:-mpiexec}"
DATA="${DT_DATA_DIR:-$SRC/data}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

fail() { echo "FAIL: $*" >&2; exit 1; }

# mpirun with the flags one machine needs; bounded so a hang fails the test.
mpi() {
  local np=$1; shift
  timeout -k 10 "${DT_E2E_TIMEOUT:-600}" "$MPIEXEC" -n "$np" --oversubscribe \
    --allow-run-as-root "$DTRAIN" "$@"
}

# The last "eval" record's field from a run's metrics.jsonl.
last_eval() {
  grep '"type":"eval"' "$1/metrics.jsonl" | tail -1 | sed -E "s/.*\"$2\":([-0-9.e+]+).*/\1/"
}

# Compare numbers: ge A B succeeds when A >= B.
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# The run directory printed at the end of `dtrain train`.
run_dir_of() { sed -n 's/^run directory: //p' "$1" | tail -1; }

# expect_fail PATTERN CMD...: CMD exits non-zero (not by timeout) and its
# stderr matches PATTERN. Needs $work, the test's scratch directory.
expect_fail() {
  local pattern=$1; shift
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ $rc -ne 0 ] || fail "succeeded, expected failure: $*"
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "timed out (hang): $*"
  grep -Eq "$pattern" "$work/err" || { cat "$work/err"; fail "message lacks /$pattern/: $*"; }
  echo "ok: $(grep -E "$pattern" "$work/err" | head -1)"
}

# fashion_accuracy CONFIG MIN: train CONFIG on 2 ranks on Fashion-MNIST and
# fail unless all 10,000 test images were evaluated with accuracy >= MIN.
fashion_accuracy() {
  local cfg=$1 min=$2 work run acc count
  work=$(mktemp -d e2e-fashion.XXXX)
  "$SRC/datasets/fashion-mnist.sh" "$DTRAIN" "$DATA/fashion-mnist" ||
    { echo "Fashion-MNIST not available"; exit 77; }
  mpi 2 train "$cfg" "data.path=$DATA/fashion-mnist" "train.run_dir=$work" \
    "train.log_every=200" runtime.progress=lines | tee "$work/out.txt"
  run=$(run_dir_of "$work/out.txt")
  acc=$(last_eval "$run" accuracy)
  count=$(last_eval "$run" count)
  echo "test accuracy $acc on $count images"
  [ "$count" = 10000 ] || fail "evaluated $count test images, expected 10000"
  ge "$acc" "$min" || fail "accuracy $acc < $min"
  rm -rf "$work"
}
