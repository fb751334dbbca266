#!/usr/bin/env bash
# Sweeps, cross-validation and ensembles from the command line, on MNIST
# digits with short trainings (a few optimizer steps each):
#  - a 2 x 2 grid on 2 groups of 1 rank: 4 run directories, summary.csv
#    and .md with 4 ok rows; accumulation reaches batch 128 with
#    micro-batches of 32, and the noise scale is logged per interval;
#  - the linear scaling rule and warm-up land in each job's config;
#  - 3-fold cross-validation of 2 learning rates: cv.csv, 3 folds each;
#  - a 2-member bagging ensemble on 2 ranks, evaluated again by `dtrain
#    eval --ensemble` on 1 rank with the same numbers;
#  - bad input: more groups than ranks, groups not dividing the world, an
#    unknown sweep key, a batch size no accumulation reaches.
source "$(dirname "$0")/common.bash"
export DT_E2E_TIMEOUT=300
work=$(mktemp -d e2e-sweep.XXXX)
"$SRC/datasets/mnist.sh" "$DTRAIN" "$DATA/mnist" >/dev/null || { echo "no MNIST"; exit 77; }
cfg="$SRC/experiments/mnist-mlp.yaml"
base=("data.path=$DATA/mnist" "train.run_dir=$work/runs" "train.epochs=1" "train.eval_batch=500")
short=(--no-sharpness --train-eval 500)

mpi 2 sweep "$cfg" "${base[@]}" train.max_steps=6 train.batch_size=64,128 \
  optim.lr=0.001,0.002 --max-micro 32 "${short[@]}" --out "$work/grid" | tee "$work/out"
[ "$(grep -c ',ok,' "$work/grid/summary.csv")" -eq 4 ] || fail "4 ok rows in summary.csv"
grep -q "^| c03_batch_size-128_lr-0.002 | ok | 128 | 4 |" "$work/grid/summary.md" \
  || fail "summary.md row of batch 128 with accumulation 4"
for d in c00_batch_size-64_lr-0.001 c03_batch_size-128_lr-0.002; do
  [ -f "$work/grid/$d/checkpoints/last.h5" ] || fail "checkpoint of $d"
  grep -q '"noise_scale":' "$work/grid/$d/metrics.jsonl" || fail "noise scale logged in $d"
done
grep -q "2 group(s) of 1 rank(s)" "$work/out" || fail "derived groups"

mpi 2 sweep "$cfg" "${base[@]}" train.max_steps=4 train.batch_size=64,256 --scale-lr 64 \
  --warmup 3 "${short[@]}" --out "$work/scaled" >/dev/null
grep -Eq "^ +lr: 0.004$" "$work/scaled/c01_batch_size-256/config.yaml" || fail "scaled lr 0.004"
grep -q "warmup_steps: 3" "$work/scaled/c01_batch_size-256/config.yaml" || fail "warm-up set"

mpi 2 sweep "$cfg" "${base[@]}" train.max_steps=4 optim.lr=0.001,0.003 cv.folds=3 \
  "${short[@]}" --out "$work/cv" >/dev/null
[ "$(grep -c ',3,0\.' "$work/cv/cv.csv")" -eq 2 ] || { cat "$work/cv/cv.csv"; fail "cv.csv"; }
grep -q "_fold2,ok," "$work/cv/summary.csv" || fail "fold rows"

mpi 2 ensemble "$cfg" "${base[@]}" train.max_steps=10 members=2 --out "$work/ens" \
  | tee "$work/ens.out"
grep -q "^| 1..2 |" "$work/ens/ensemble.md" || fail "ensemble table"
grep -q '"status":	"ok"' "$work/ens/ensemble.json" || fail "ensemble manifest"
# evaluated again on 1 rank: the 2-rank sums must give the same numbers
"$DTRAIN" eval "$cfg" "${base[@]}" --ensemble "$work/ens" | tee "$work/eval.out"
[ "$(grep '^ensemble of 2' "$work/ens.out")" = "$(grep '^ensemble of 2' "$work/eval.out")" ] \
  || fail "dtrain eval --ensemble repeats the numbers"
# a member marked failed is left out and named in the report
awk '/"status":/ && ++n == 2 { sub(/"ok"/, "\"failed\"") } { print }' "$work/ens/ensemble.json" \
  >"$work/m.json" && mv "$work/m.json" "$work/ens/ensemble.json"
"$DTRAIN" eval "$cfg" "${base[@]}" --ensemble "$work/ens" | grep -q "^ensemble of 1:" \
  || fail "the failed member was not left out"
grep -q "Failed member member-01" "$work/ens/ensemble.md" || fail "failed member not reported"

expect_fail "3 groups need at least 3 ranks" \
  mpi 2 sweep "$cfg" "${base[@]}" optim.lr=0.1,0.2 --groups 3
expect_fail "2 groups do not divide the world of 3" \
  mpi 3 sweep "$cfg" "${base[@]}" optim.lr=0.1,0.2 --groups 2
expect_fail "unknown key 'train.batchsize'" \
  mpi 2 sweep "$cfg" "${base[@]}" train.batchsize=64,128
expect_fail "batch size 1 cannot be reached on groups of 2 ranks" \
  mpi 2 sweep "$cfg" "${base[@]}" train.batch_size=1,64 --groups 1
expect_fail "batch size 100 cannot be reached with micro_batch 32" \
  mpi 2 sweep "$cfg" "${base[@]}" train.batch_size=64,100 train.micro_batch=32
expect_fail "missing members=M" "$DTRAIN" ensemble "$cfg"
rm -rf "$work"
