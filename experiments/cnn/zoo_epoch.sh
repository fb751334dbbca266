#!/usr/bin/env bash
# Train each of the ResNet, DenseNet and GoogLeNet configs for one epoch of
# the MNIST digits (8,000 images, 125 steps of 64) on 2 ranks and print the
# logged training loss, which must fall, and the test accuracy. STEPS=N
# stops each run after N steps (a reduced epoch, for a slow machine).
#   [STEPS=N] experiments/cnn/zoo_epoch.sh [build/dtrain] [run root]
set -euo pipefail
dtrain=${1:-build/dtrain}
root=${2:-runs}
export OMP_NUM_THREADS=1
for net in resnet densenet googlenet; do
  out=$(mktemp)
  mpiexec -n 2 --oversubscribe --allow-run-as-root "$dtrain" train \
    "experiments/cnn/$net.yaml" data.path=data/mnist train.epochs=1 train.batch_size=64 \
    train.log_every=10 "train.max_steps=${STEPS:-0}" optim.schedule.warmup_steps=10 "train.run_dir=$root" >"$out" 2>&1 || {
    cat "$out"; exit 1; }
  run=$(sed -n 's/^run directory: //p' "$out" | tail -1)
  losses=$(sed -En 's/.*"type":"train".*"loss":([-0-9.e+]+).*/\1/p' "$run/metrics.jsonl" |
    tr '\n' ' ')
  echo "$net: loss every 10 steps: $losses"
  grep -E "test accuracy" "$out" | tail -1
  rm -f "$out"
done
