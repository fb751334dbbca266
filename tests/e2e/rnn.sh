#!/usr/bin/env bash
# Recurrent models end to end: `dtrain info` counts the course LSTM's
# parameters as PyTorch does; a short LSTM run on MNIST rows on 2 ranks
# learns (well above chance), logs per-layer gradient norms and checkpoints
# its weights under PyTorch's names; `dtrain data synth` writes a valid
# adding-problem shard set; bad recurrent configs fail with messages that
# name the key and the shapes.
source "$(dirname "$0")/common.bash"
work=$(mktemp -d e2e-rnn.XXXX)
"$SRC/datasets/mnist.sh" "$DTRAIN" "$DATA/mnist" >/dev/null || { echo "no MNIST"; exit 77; }
cfg="$SRC/experiments/mnist-lstm.yaml"

"$DTRAIN" info "$cfg" | tee "$work/info.txt"
grep -Eq '^lstm +lstm +input +\(256\) +819,200 ' "$work/info.txt" ||
  fail "info does not show 819,200 LSTM parameters"
grep -q 'total: 821,770 parameters' "$work/info.txt" || fail "info total is not 821,770"

# A small LSTM for a few steps: about 20 s on 2 busy cores.
mpi 2 train "$cfg" "data.path=$DATA/mnist" "train.run_dir=$work" train.max_steps=120 \
  train.batch_size=64 model.layers.0.hidden=48 model.layers.0.layers=1 optim.lr=0.005 \
  train.log_grad_norms=true | tee "$work/out.txt"
run=$(run_dir_of "$work/out.txt")
acc=$(sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p' "$work/out.txt")
[ -n "$acc" ] || fail "no test accuracy printed"
ge "$acc" 60 || fail "accuracy $acc% < 60% after 120 steps"
grep -Eq '"grad_norms":\{"lstm":[0-9.e+-]+,"out":[0-9.e+-]+\}' "$run/metrics.jsonl" ||
  fail "train records lack per-layer gradient norms"
h5ls -r "$run/checkpoints/last.h5" >"$work/ckpt.txt"
for p in weight_ih_l0 weight_hh_l0 bias_ih_l0 bias_hh_l0; do
  grep -q "/params/lstm/$p " "$work/ckpt.txt" || fail "checkpoint lacks /params/lstm/$p"
done

"$DTRAIN" data synth --task adding --length 20 --train 300 --test 100 --out "$work/add"
"$DTRAIN" data info "$work/add" | tee "$work/add.txt"
grep -q 'x          (20, 2) float32' "$work/add.txt" || fail "adding set has the wrong shape"
grep -q 'verify     test: OK' "$work/add.txt" || fail "adding set does not verify"

expect_fail "max_length.*sequences of 28 steps for max_length 20" "$DTRAIN" info "$cfg" \
  model.layers.0.max_length=20
expect_fail "layer 'lstm'.*\(T, C\) or \(1, T, C\).*\(784\)" "$DTRAIN" info "$cfg" \
  'model.input=[784]' 'data.path=none'
cat >"$work/h0.yaml" <<'EOF'
train: {batch_size: 8}
model:
  input: [1, 28, 28]
  layers:
    - {kind: linear, units: 100, name: h0}
    - {kind: gru, hidden: 64, layers: 2, inputs: [input, h0]}
EOF
expect_fail "h0.*\(100\); expected \(2, 64\)" "$DTRAIN" info "$work/h0.yaml"
expect_fail "unknown key.*nonlinearity" "$DTRAIN" info "$cfg" model.layers.0.nonlinearity=relu
expect_fail "task.*bogus" "$DTRAIN" data synth --task bogus --length 5 --out "$work/x"
rm -rf "$work"
