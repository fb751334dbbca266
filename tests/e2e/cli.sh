#!/usr/bin/env bash
# The command line: version, usage errors, `dtrain info` parameter counts
# in PyTorch's conventions, `dtrain data info`, and a short `dtrain bench`.
source "$(dirname "$0")/common.bash"
work=$(mktemp -d e2e-cli.XXXX)

"$DTRAIN" --version | grep -q "^dtrain [0-9]" || fail "--version"
rc=0; "$DTRAIN" frobnicate 2>"$work/err" || rc=$?
[ $rc -eq 2 ] && grep -q "unknown command 'frobnicate'" "$work/err" || fail "unknown command"
rc=0; "$DTRAIN" train 2>"$work/err" || rc=$?
[ $rc -eq 2 ] && grep -q "missing CONFIG" "$work/err" || fail "train without CONFIG"

# 784-512-256-10: (784*512+512) + (512*256+256) + (256*10+10) = 535,818
"$DTRAIN" info "$SRC/experiments/bench/mlp.yaml" | tee "$work/info"
grep -q "total: 535,818 parameters" "$work/info" || fail "parameter total"
grep -Eq "^fc1 +linear +input +\(512\) +401,920 +401,408" "$work/info" || fail "fc1 row"

# Overrides reach the model: 784-100-10 = 78,500 + 1,010 = 79,510
"$DTRAIN" info "$SRC/experiments/bench/mlp.yaml" \
  'model.layers=[{kind: linear, units: 100}, {kind: relu}, {kind: linear, units: 10}]' \
  | grep -q "total: 79,510 parameters" || fail "override of the layer list"

if "$SRC/datasets/mnist.sh" "$DTRAIN" "$DATA/mnist" >/dev/null; then
  "$DTRAIN" data info "$DATA/mnist" | tee "$work/data"
  grep -q "8000" "$work/data" && grep -q "2000" "$work/data" || fail "data info counts"
fi

mpi 2 bench "$SRC/experiments/bench/mlp.yaml" --steps 3 --warmup 1 --intervals 2 | tee "$work/bench"
grep -Eq "^result: samples_per_s=[0-9.]+ gflops=[0-9.]+ ranks=2" "$work/bench" || fail "bench"
rm -rf "$work"
