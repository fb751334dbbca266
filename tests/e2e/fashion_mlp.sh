#!/usr/bin/env bash
# experiments/fashion-mlp.yaml on 2 ranks: at least 88.5% test accuracy on
# the 10,000 Fashion-MNIST test images.
source "$(dirname "$0")/common.bash"
work=$(mktemp -d e2e-fashion.XXXX)
"$SRC/datasets/fashion-mnist.sh" "$DTRAIN" "$DATA/fashion-mnist" ||
  { echo "Fashion-MNIST not available"; exit 77; }
mpi 2 train "$SRC/experiments/fashion-mlp.yaml" "data.path=$DATA/fashion-mnist" \
  "train.run_dir=$work" "train.log_every=200" | tee "$work/out.txt"
run=$(run_dir_of "$work/out.txt")
acc=$(last_eval "$run" accuracy)
count=$(last_eval "$run" count)
echo "test accuracy $acc on $count images"
[ "$count" = 10000 ] || fail "evaluated $count test images, expected 10000"
ge "$acc" 0.885 || fail "accuracy $acc < 0.885"
rm -rf "$work"
