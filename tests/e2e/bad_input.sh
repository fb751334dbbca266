#!/usr/bin/env bash
# Bad input stops the run on every rank with one clear message and a
# non-zero status, never a hang: each case runs on 2 ranks under a timeout
# and must fail with a message naming what is wrong.
source "$(dirname "$0")/common.bash"
export DT_E2E_TIMEOUT=60
work=$(mktemp -d e2e-bad.XXXX)
"$SRC/datasets/mnist.sh" "$DTRAIN" "$DATA/mnist" >/dev/null || { echo "no MNIST"; exit 77; }
cfg="$SRC/experiments/mnist-mlp.yaml"
base=("data.path=$DATA/mnist" "train.run_dir=$work/runs" "train.epochs=1")


expect_fail "cannot open.*nonexistent.yaml" mpi 2 train "$work/nonexistent.yaml"

printf 'model:\n  layers: [\n' >"$work/broken.yaml"
expect_fail "broken.yaml:[0-9]+" mpi 2 train "$work/broken.yaml"

expect_fail "unknown key 'train.epochz'.*did you mean 'epochs'" \
  mpi 2 train "$cfg" "${base[@]}" train.epochz=3

expect_fail "layer kind.*'lineer'" mpi 2 train "$cfg" "${base[@]}" model.layers.1.kind=lineer

expect_fail "expected 10 \(one per class\)" mpi 2 train "$cfg" "${base[@]}" \
  model.layers.7.units=7

expect_fail "batch_size.*expected an integer" mpi 2 train "$cfg" "${base[@]}" \
  train.batch_size=many

expect_fail "micro_batch x accumulation x ranks" mpi 2 train "$cfg" "${base[@]}" \
  train.micro_batch=100 train.accumulation=2

expect_fail "train.precision.*bf16.*backend that supports" mpi 2 train "$cfg" "${base[@]}" \
  train.precision=bf16

expect_fail "optim.shard.*a boolean" mpi 2 train "$cfg" "${base[@]}" optim.shard=maybe

expect_fail "no-such-dir" mpi 2 train "$cfg" "${base[@]}" data.path="$work/no-such-dir"

# A shard with one byte changed: the checksum catches it, naming the file.
cp -r "$DATA/mnist" "$work/corrupt"
shard=$(ls "$work/corrupt"/train-*.h5 | head -1)
printf '\x5a' | dd of="$shard" bs=1 seek=5000 conv=notrunc status=none
expect_fail "$(basename "$shard")" mpi 2 train "$cfg" "${base[@]}" data.path="$work/corrupt"

# A truncated shard.
cp -r "$DATA/mnist" "$work/short"
shard=$(ls "$work/short"/test-*.h5 | head -1)
truncate -s 1000 "$shard"
expect_fail "$(basename "$shard").*truncated" mpi 2 train "$cfg" "${base[@]}" \
  data.path="$work/short"

# A learning rate that blows the loss up: stopped at the step, all ranks.
expect_fail "loss is (NaN|Inf)" mpi 2 train "$cfg" "${base[@]}" optim.kind=sgd optim.lr=1e5

expect_fail "runtime.progress.*'auto', 'bar', 'lines'.*'sometimes'" mpi 2 train "$cfg" \
  "${base[@]}" runtime.progress=sometimes

# Progress as labelled lines even though mpirun hands the ranks a terminal.
mpi 2 train "$cfg" "${base[@]}" train.max_steps=20 runtime.progress=lines >"$work/lines.out"
grep -q "^step 20/20 " "$work/lines.out" || fail "no labelled progress line"
! grep -q $'\r' "$work/lines.out" || fail "runtime.progress=lines drew a progress bar"
echo "ok: runtime.progress=lines prints labelled lines only"

# A rank that dies brings the job down promptly.
start=$(date +%s)
( rc=0; mpi 2 train "$cfg" "${base[@]}" train.epochs=50 >"$work/kill.out" 2>&1 || rc=$?
  echo "$rc" >"$work/kill.rc" ) &
for _ in $(seq 50); do
  pid=$(pgrep -f "dtrain train $cfg" | tail -1 || true)
  [ -n "$pid" ] && grep -q "step" "$work/kill.out" 2>/dev/null && break
  sleep 0.2
done
[ -n "${pid:-}" ] || fail "training did not start"
kill -9 "$pid"
wait
elapsed=$(( $(date +%s) - start ))
rc=$(cat "$work/kill.rc")
[ "$rc" -ne 0 ] || fail "job survived a killed rank"
[ "$rc" -ne 124 ] || fail "job hung after a rank was killed"
echo "ok: killed rank ended the job with status $rc after ${elapsed}s"
rm -rf "$work"
