#!/usr/bin/env bash
# Optimizers and regularizers end to end, on 1 and 2 ranks:
#  - early stopping: a run whose monitored loss rises stops `patience` epochs
#    after its best epoch and ends with the best parameters restored, with
#    the same decision on 1 and 2 ranks; a validation hold-out is recorded;
#  - rank-count independence with every regularizer on (input and weight
#    noise, shift/flip/rotation, clipping, rmsprop, linear scaling): the
#    training losses on 2 ranks equal those on 1 rank to 1e-4 relative;
#  - exact resume of an optimizer with three state buffers;
#  - configuration errors name the key.
source "$(dirname "$0")/common.bash"
export DT_E2E_TIMEOUT=120
work=$(mktemp -d e2e-optim.XXXX)

# ---- data: y = x for training, y = x / 2 for test, so the test loss falls
# and then rises as the fit approaches the training targets ----
awk 'BEGIN { srand(3); print "x,y" > "'"$work"'/train.csv"; print "x,y" > "'"$work"'/test.csv"
  for (i = 0; i < 256; i++) { x = 2 * rand() - 1; print x "," x > "'"$work"'/train.csv" }
  for (i = 0; i < 128; i++) { x = 2 * rand() - 1; print x "," 0.5 * x > "'"$work"'/test.csv" } }'
"$DTRAIN" data convert --format csv --input "$work/train.csv" --test-input "$work/test.csv" \
  --out "$work/lin" >/dev/null
cat >"$work/es.yaml" <<YAML
seed: 1
data: {path: $work/lin}
model:
  layers:
    - {kind: linear, units: 1}
loss: {kind: mse}
optim: {kind: sgd, lr: 0.02}
train:
  batch_size: 32
  epochs: 40
  early_stopping: {monitor: test_loss, patience: 3}
runtime: {threads: 1}
prefetch: false
YAML

num() { sed -E "s/.*\"$1\":([-0-9.e+]+).*/\1/" ; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
  m = a < 0 ? -a : a; exit !(d <= t * m + 1e-12) }'; }

for np in 1 2; do
  mpi $np train "$work/es.yaml" "train.run_dir=$work/es$np" train.name=run >"$work/es$np.out" 2>&1 ||
    { cat "$work/es$np.out"; fail "early-stopping run on $np rank(s)"; }
  m="$work/es$np/run/metrics.jsonl"
  stop=$(grep '"type":"early_stop"' "$m") || fail "no early stop on $np rank(s)"
  e=$(num epoch <<<"$stop"); b=$(num best_epoch <<<"$stop"); best=$(num best <<<"$stop")
  [ "$e" -lt 40 ] || fail "ran all 40 epochs"
  [ "$e" -eq $((b + 3)) ] || fail "stopped at epoch $e, best $b, patience 3"
  [ -f "$work/es$np/run/checkpoints/best.h5" ] || fail "no best.h5"
  # the best epoch's test loss is the minimum, and it is what was restored
  min=$(grep '"split":"test"' "$m" | num loss | sort -g | head -1)
  close "$best" "$min" 1e-7 || fail "best $best is not the minimum $min"
  restored=$(grep '"type":"restored"' "$m" | num loss)
  close "$restored" "$best" 1e-6 || fail "restored loss $restored != best $best"
  echo "ok: $np rank(s): stopped after epoch $e, best epoch $b (loss $best), restored $restored"
  eval "stop$np=$e best$np=$best"
done
[ "$stop1" = "$stop2" ] || fail "1 rank stopped at $stop1, 2 ranks at $stop2"
close "$best1" "$best2" 1e-5 || fail "best loss $best1 (1 rank) vs $best2 (2 ranks)"

# A validation hold-out monitored by val_loss: recorded, same on 1 and 2 ranks.
for np in 1 2; do
  mpi $np train "$work/es.yaml" "train.run_dir=$work/val$np" train.name=run train.epochs=3 \
    data.validation_fraction=0.25 train.early_stopping.monitor=val_loss >/dev/null 2>&1 ||
    fail "validation run on $np rank(s)"
  v="$work/val$np/run/validation.json"
  grep -q '"train_count":192,"validation_count":64' "$v" || { cat "$v"; fail "split counts"; }
  [ "$(grep -c '"split":"validation"' "$work/val$np/run/metrics.jsonl")" = 3 ] ||
    fail "no validation evaluations"
done
cmp -s "$work/val1/run/validation.json" "$work/val2/run/validation.json" ||
  fail "validation split differs between 1 and 2 ranks"
echo "ok: validation hold-out of 64 rows recorded, same on 1 and 2 ranks"
# k-fold: fold 1 of 4 holds out a quarter, other rows than the fraction's.
mpi 1 train "$work/es.yaml" "train.run_dir=$work/fold" train.name=run train.epochs=1 \
  data.folds=4 data.fold=1 >/dev/null 2>&1 || fail "k-fold run"
grep -q '"method":"k-fold".*"train_count":192,"validation_count":64' \
  "$work/fold/run/validation.json" || fail "k-fold record"
! cmp -s "$work/fold/run/validation.json" "$work/val1/run/validation.json" ||
  fail "fold 1 of 4 holds out the same rows as the fraction"
echo "ok: fold 1 of 4 recorded"

# ---- every regularizer on images, 1 vs 2 ranks ----
img="$DATA/fashion-mnist"
[ -f "$img/manifest.json" ] || img="$DATA/mnist"
if [ ! -f "$img/manifest.json" ]; then # convert Fashion-MNIST here when its files exist
  img="$work/fashion"
  "$SRC/datasets/fashion-mnist.sh" "$DTRAIN" "$img" >/dev/null 2>&1 || true
fi
if [ -f "$img/manifest.json" ]; then
  cat >"$work/img.yaml" <<YAML
seed: 3
data: {path: $img}
model:
  layers:
    - {kind: flatten}
    - {kind: linear, units: 32}
    - {kind: relu}
    - {kind: linear, units: 10}
loss: {kind: cross_entropy}
optim: {kind: rmsprop, lr: 0.001, centered: true, momentum: 0.5, clip_grad_norm: 0.5,
        lr_reference_batch: 32, no_decay_bias_norm: true, weight_decay: 0.001}
regularize: {input_noise: 0.1, weight_noise: 0.01}
augment: {shift: 2, hflip: true, rotate_deg: 10}
train: {batch_size: 64, max_steps: 12, log_every: 3, eval_batch: 2000}
runtime: {threads: 1}
prefetch: false
YAML
  for np in 1 2; do
    mpi $np train "$work/img.yaml" "train.run_dir=$work/img$np" train.name=run >/dev/null 2>&1 ||
      fail "regularized run on $np rank(s)"
  done
  mpi 1 train "$work/img.yaml" "train.run_dir=$work/img0" train.name=run regularize.input_noise=0 \
    >/dev/null 2>&1 || fail "run without input noise"
  l1=$(grep '"type":"train"' "$work/img1/run/metrics.jsonl" | num loss)
  l2=$(grep '"type":"train"' "$work/img2/run/metrics.jsonl" | num loss)
  l0=$(grep '"type":"train"' "$work/img0/run/metrics.jsonl" | num loss)
  paste <(echo "$l1") <(echo "$l2") | while read -r a b; do
    close "$a" "$b" 1e-4 || fail "loss $a on 1 rank vs $b on 2 ranks"
  done
  [ "$l1" != "$l0" ] || fail "input noise changed nothing"
  lr=$(grep '"type":"train"' "$work/img1/run/metrics.jsonl" | head -1 | num lr)
  close "$lr" 0.002 1e-9 || fail "linear scaling: lr $lr, expected 0.001 x 64 / 32"
  gn=$(grep '"type":"train"' "$work/img1/run/metrics.jsonl" | head -1 | num grad_norm)
  ge "$gn" 0 || fail "no gradient norm logged"
  echo "ok: regularized losses agree on 1 and 2 ranks: $(echo $l1)"
else
  echo "skip: no image data set for the regularizer parity check"
fi

# ---- exact resume: rmsprop with three state buffers ----
"$DTRAIN" data synth --task regression1d --out "$work/reg" --n 200 >/dev/null
cfg="$SRC/experiments/optimizers/regression.yaml"
opt=(data.path="$work/reg" optim.kind=rmsprop optim.lr=0.002 optim.centered=true
     optim.momentum=0.5 runtime.log_level=warn)
mpi 2 train "$cfg" "${opt[@]}" "train.run_dir=$work/ra" train.name=run train.epochs=4 >/dev/null
mpi 2 train "$cfg" "${opt[@]}" "train.run_dir=$work/rb" train.name=run train.epochs=2 >/dev/null
mpi 2 train "$cfg" "${opt[@]}" "train.run_dir=$work/rc" train.name=run train.epochs=4 \
  "train.resume=$work/rb/run/checkpoints/last.h5" >/dev/null
a=$(last_eval "$work/ra/run" loss); c=$(last_eval "$work/rc/run" loss)
[ "$a" = "$c" ] || fail "resumed run ends at test loss $c, uninterrupted $a"
echo "ok: resumed rmsprop run ends exactly where the uninterrupted one does ($a)"

# ---- configuration errors ----
base=("$work/es.yaml" "train.run_dir=$work/bad")
expect_fail "'optim.kind'.*rmsprop" mpi 2 train "${base[@]}" optim.kind=rmsprob
expect_fail "'optim.schedule.kind'" mpi 2 train "${base[@]}" optim.schedule.kind=cosin
expect_fail "'optim.lr'.*-0.5" mpi 2 train "${base[@]}" optim.lr=-0.5
expect_fail "'optim.beta1'.*\[0, 1\)" mpi 2 train "${base[@]}" optim.kind=adam optim.beta1=1.0
expect_fail "'train.early_stopping.monitor'.*val_los" mpi 2 train "${base[@]}" \
  train.early_stopping.monitor=val_los
expect_fail "val_loss without validation data" mpi 2 train "${base[@]}" \
  train.early_stopping.monitor=val_loss
expect_fail "test_accuracy with loss mse" mpi 2 train "${base[@]}" \
  train.early_stopping.monitor=test_accuracy
expect_fail "'augment'.*\(C, H, W\)" mpi 2 train "${base[@]}" augment.shift=2
expect_fail "milestones" mpi 2 train "${base[@]}" optim.schedule.kind=multistep
expect_fail "'data.fold'.*4 folds" mpi 2 train "${base[@]}" data.folds=4 data.fold=4
expect_fail "either validation_fraction or folds" mpi 2 train "${base[@]}" data.folds=4 \
  data.validation_fraction=0.1
expect_fail "unknown synthetic task 'nope'" "$DTRAIN" data synth --task nope --out "$work/x"
rm -rf "$work"
