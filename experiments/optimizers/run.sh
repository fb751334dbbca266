#!/usr/bin/env bash
# Regression with different optimizers, in one command:
#   experiments/optimizers/run.sh [OUT_DIR]      (default experiments/optimizers/out)
# Writes the 1-D regression set (dtrain data synth --task regression1d), trains
# experiments/optimizers/regression.yaml once per optimizer from the same
# initial weights (seed 1), and writes into OUT_DIR:
#   table.md        final train/test loss and steps to the target loss
#   loss.png        training loss of every optimizer against the step
#   fits.png        the data and each optimizer's fitted curve (early and final)
#   runs/NAME/      each run directory; pred-NAME-*.csv the fitted values
# NP=2 runs every training on 2 MPI ranks (same global batch, same curves up to
# float rounding). EPOCHS=N shortens the runs; TARGET sets the target loss.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-experiments/optimizers/out}
np=${NP:-1}
epochs=${EPOCHS:-300}
target=${TARGET:-0.6}
early=${EARLY_EPOCH:-50}
dtrain=${DTRAIN:-build/dtrain}
cfg=experiments/optimizers/regression.yaml
[ -x "$dtrain" ] || { echo "run.sh: build dtrain first ($dtrain)" >&2; exit 1; }
export OMP_NUM_THREADS=1

# name | overrides
optimizers=(
  "sgd|optim.kind=sgd optim.lr=0.02"
  "momentum|optim.kind=sgd optim.lr=0.02 optim.momentum=0.9"
  "nesterov|optim.kind=sgd optim.lr=0.02 optim.momentum=0.9 optim.nesterov=true"
  "adagrad|optim.kind=adagrad optim.lr=0.05"
  "adadelta|optim.kind=adadelta optim.lr=1.0"
  "rmsprop|optim.kind=rmsprop optim.lr=0.001"
  "adam|optim.kind=adam optim.lr=0.003"
  "adamw|optim.kind=adamw optim.lr=0.003 optim.weight_decay=0.01"
  "lamb|optim.kind=lamb optim.lr=0.002"
)

mkdir -p "$out"
data="$out/data"
"$dtrain" data synth --task regression1d --out "$data" --n 1000 --seed 1 >/dev/null
rm -rf "$out/runs"

run_train() {
  if [ "$np" -gt 1 ]; then
    mpiexec -n "$np" --oversubscribe --allow-run-as-root "$dtrain" train "$@"
  else
    "$dtrain" train "$@"
  fi
}

for entry in "${optimizers[@]}"; do
  name=${entry%%|*}
  read -r -a over <<<"${entry#*|}"
  echo "== $name: ${over[*]}"
  run_train "$cfg" "data.path=$data" "train.run_dir=$out/runs" "train.name=$name" \
    "train.epochs=$epochs" "train.checkpoint_every=$early" runtime.log_level=warn "${over[@]}"
  ck="$out/runs/$name/checkpoints"
  "$dtrain" predict "$cfg" "data.path=$data" --checkpoint "$ck/last.h5" \
    --out "$out/pred-$name-final.csv" runtime.log_level=warn "${over[@]}"
  "$dtrain" predict "$cfg" "data.path=$data" --checkpoint "$ck/epoch-$early.h5" \
    --out "$out/pred-$name-early.csv" runtime.log_level=warn "${over[@]}"
done

# ---- the table ----
{
  echo "| optimizer | settings | final train loss | final test loss | steps to train loss < $target |"
  echo "|---|---|---|---|---|"
  for entry in "${optimizers[@]}"; do
    name=${entry%%|*}
    m="$out/runs/$name/metrics.jsonl"
    last=$(grep '"type":"eval"' "$m" | tail -1)
    tr=$(sed -E 's/.*"train_loss":([-0-9.e+]+).*/\1/' <<<"$last")
    te=$(sed -E 's/.*"loss":([-0-9.e+]+).*/\1/' <<<"${last#*\"train_accuracy\"}")
    steps=$(awk -v t="$target" 'index($0, "\"type\":\"train\"") {
        match($0, /"step":[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7)
        match($0, /"loss":[-0-9.e+]+/); l = substr($0, RSTART + 7, RLENGTH - 7)
        if (l + 0 < t + 0) { print s; exit } }' "$m")
    settings=$(sed -E 's/optim\.//g' <<<"${entry#*|}")
    printf '| %s | %s | %.4f | %.4f | %s |\n' "$name" "$settings" "$tr" "$te" "${steps:-never}"
  done
} >"$out/table.md"
cat "$out/table.md"

# ---- the plots ----
specs=()
for entry in "${optimizers[@]}"; do specs+=("$out/runs/${entry%%|*}"); done
launcher/plot.sh --compare --out "$out/loss.png" --metric train_loss --logy \
  --title "regression1d: training loss per optimizer (batch 50, same initial weights)" \
  "${specs[@]}"

# fits.png: one panel per optimizer: the training data, the fit after
# $early epochs and the final fit (predictions on the test inputs, sorted by x).
panels=""
for entry in "${optimizers[@]}"; do
  name=${entry%%|*}
  for when in early final; do
    tail -n +2 "$out/pred-$name-$when.csv" | sort -t, -g -k1 >"$out/pred-$name-$when.sorted"
  done
  panels+="set title '$name'
plot '$data/train.csv' every ::1 using 1:2 with points pt 7 ps 0.4 lc rgb '#a0a0a0' title 'data', \
 '$out/pred-$name-early.sorted' using 1:3 with lines lw 2 dt 2 lc rgb '#1f77b4' title 'epoch $early', \
 '$out/pred-$name-final.sorted' using 1:3 with lines lw 2 lc rgb '#d62728' title 'epoch $epochs'
"
done
gnuplot <<GP
set terminal pngcairo size 1500,1200 font ',10'
set output '$out/fits.png'
set datafile separator ','
set multiplot layout 3,3 title 'regression1d: fitted curves over the training data'
set grid
set key top left font ',9'
set xlabel 'x'
set ylabel 'y'
set xrange [-1:1]
set yrange [-6:8]
$panels
unset multiplot
GP
rm -f "$out"/pred-*.sorted
echo "wrote $out/table.md $out/loss.png $out/fits.png"
