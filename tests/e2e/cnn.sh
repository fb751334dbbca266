#!/usr/bin/env bash
# A short run of the course's CNN on 2 ranks (MNIST digits, 30 steps):
# the loss falls, the test accuracy clears a floor, and `dtrain eval` of the
# final checkpoint gives the same accuracy, so batch norm's running
# statistics were saved and restored. Then shape errors of convolutional
# layers, each named with its layer and shapes, before anything runs.
source "$(dirname "$0")/common.bash"
export DT_E2E_TIMEOUT=120
work=$(mktemp -d e2e-cnn.XXXX)
"$SRC/datasets/mnist.sh" "$DTRAIN" "$DATA/mnist" >/dev/null || { echo "no MNIST"; exit 77; }
cfg="$SRC/experiments/cnn/mnist-cnn.yaml"
mpi 2 train "$cfg" "data.path=$DATA/mnist" "train.run_dir=$work" train.max_steps=30 \
  train.log_every=10 optim.schedule.warmup_steps=5 | tee "$work/out.txt"
run=$(run_dir_of "$work/out.txt")
# A run stopped by max_steps inside an epoch prints its final evaluation.
acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$work/out.txt" | tail -1)
losses=$(sed -En 's/.*"type":"train".*"loss":([-0-9.e+]+).*/\1/p' "$run/metrics.jsonl")
first=$(echo "$losses" | awk 'NR == 1'); last=$(echo "$losses" | awk 'END { print }')
echo "loss $first -> $last, test accuracy $acc%"
ge "$first" "$last" || fail "loss did not fall: $first -> $last"
ge "$acc" 75 || fail "accuracy $acc% < 75% after 30 steps"

mpi 2 eval "$cfg" "data.path=$DATA/mnist" --checkpoint "$run/checkpoints/last.h5" \
  2>&1 | tee "$work/eval.txt"
again=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$work/eval.txt" | tail -1)
[ "$again" = "$acc" ] || fail "eval of the checkpoint gives $again%, training ended at $acc%"

# info_fails PATTERN ARGS...: `dtrain info` fails with a message matching PATTERN.
info_fails() {
  local pattern=$1; shift
  if "$DTRAIN" info "$cfg" "$@" >"$work/o" 2>"$work/e"; then fail "succeeded: $*"; fi
  grep -Eq "$pattern" "$work/e" || { cat "$work/e"; fail "message lacks /$pattern/: $*"; }
  echo "ok: $(head -1 "$work/e")"
}
info_fails "layer 'conv1'.*kernel 31x31.*larger than the padded input 30x30" \
  model.layers.0.kernel=31
info_fails "layer 'conv2'.*groups 5 must divide the input channels \(32\)" \
  model.layers.5.groups=5
info_fails "layer 'conv1'.*expects images.*found \(784\)" model.input=[784]
rm -rf "$work"
