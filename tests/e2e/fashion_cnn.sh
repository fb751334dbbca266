#!/usr/bin/env bash
# experiments/fashion-cnn.yaml on 2 ranks: at least 91.5% test accuracy on
# the 10,000 Fashion-MNIST test images. Labelled long (several minutes).
source "$(dirname "$0")/common.bash"
work=$(mktemp -d e2e-fashion-cnn.XXXX)
"$SRC/datasets/fashion-mnist.sh" "$DTRAIN" "$DATA/fashion-mnist" ||
  { echo "Fashion-MNIST not available"; exit 77; }
mpi 2 train "$SRC/experiments/fashion-cnn.yaml" "data.path=$DATA/fashion-mnist" \
  "train.run_dir=$work" "train.log_every=200" | tee "$work/out.txt"
run=$(run_dir_of "$work/out.txt")
acc=$(last_eval "$run" accuracy)
count=$(last_eval "$run" count)
echo "test accuracy $acc on $count images"
[ "$count" = 10000 ] || fail "evaluated $count test images, expected 10000"
ge "$acc" 0.915 || fail "accuracy $acc < 0.915"
rm -rf "$work"
