#!/usr/bin/env bash
# RNN vs LSTM vs GRU on the adding problem at several lengths.
# "lstm-fb1" is the LSTM with forget_bias: 1 (a constant added to the
# forget gate, as TensorFlow's cell), beside PyTorch's plain cell "lstm".
#
#   experiments/long-dependency/run.sh [DTRAIN] [RANKS]
#
# Generates the data sets (data-local/adding-T), trains each cell kind on
# each length with adding.yaml, and writes into experiments/long-dependency/
# results/: results.md (a table: final and best test MSE, epoch at which
# the test MSE first fell below the "solved" threshold 0.01) and curves.png
# (test MSE per epoch, log scale). Environment: LENGTHS ("20 50 100"), EPOCHS
# (10), TRAIN (5000), CELLS ("rnn lstm lstm-fb1 gru"), MPIEXEC (mpiexec).
# A run whose results/*.dat exists is not repeated unless RERUN=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dtrain=${1:-$root/build/dtrain}
ranks=${2:-1}
lengths=${LENGTHS:-20 50 100}
epochs=${EPOCHS:-10}
ntrain=${TRAIN:-5000}
threshold=0.01
read -r -a cells <<<"${CELLS:-rnn lstm lstm-fb1 gru}"
out=$here/results
runs=$root/runs-local/long-dependency
mkdir -p "$out" "$runs"
cd "$root"

for T in $lengths; do
  [ -f "data-local/adding-$T/manifest.json" ] ||
    "$dtrain" data synth --task adding --length "$T" --train "$ntrain" --test 1000 \
      --out "data-local/adding-$T" >/dev/null
done

for T in $lengths; do
  for cell in "${cells[@]}"; do
    name=adding-$T-$cell
    [ -s "$out/$name.dat" ] && [ -z "${RERUN:-}" ] && continue
    case $cell in
      lstm-fb1) opts=(model.layers.0.kind=lstm model.layers.0.forget_bias=1) ;;
      *) opts=(model.layers.0.kind=$cell) ;;
    esac
    echo "training $name" >&2
    rm -rf "${runs:?}/$name"
    OMP_NUM_THREADS=1 ${MPIEXEC:-mpiexec} -n "$ranks" --oversubscribe --allow-run-as-root \
      "$dtrain" train "$here/adding.yaml" data.path="data-local/adding-$T" \
      "${opts[@]}" train.epochs="$epochs" train.run_dir="$runs" \
      train.name="$name" runtime.log_level=warn >/dev/null 2>"$runs/$name.err" || {
        cat "$runs/$name.err" >&2; exit 1; }
    # epoch, test MSE from the eval records
    grep '"type":"eval"' "$runs/$name/metrics.jsonl" |
      sed -E 's/.*"epoch":([0-9]+).*"loss":([-0-9.e+]+),"accuracy".*/\1 \2/' >"$out/$name.dat"
  done
done

{
  echo "Adding problem, test MSE (1000 sequences); predicting 1 scores 0.167."
  echo "Solved: test MSE < $threshold. $epochs epochs of $ntrain sequences, batch 32, Adam 5e-3."
  echo
  echo "| length | cell | final MSE | best MSE | solved at epoch |"
  echo "|---|---|---|---|---|"
  for T in $lengths; do
    for cell in "${cells[@]}"; do
      awk -v T="$T" -v c="$cell" -v th="$threshold" '
        { last = $2; if (best == "" || $2 < best) best = $2;
          if (solved == "" && $2 < th) solved = $1 }
        END { printf "| %s | %s | %.4f | %.4f | %s |\n", T, c, last, best,
              solved == "" ? "not solved" : solved }' "$out/adding-$T-$cell.dat"
    done
  done
} >"$out/results.md"
cat "$out/results.md"

# One colour per cell kind; line style by length.
color() {
  case $1 in rnn) echo '#c0392b' ;; lstm) echo '#27ae60' ;; lstm-fb1) echo '#8e44ad' ;;
    *) echo '#2471a3' ;; esac
}
plots="" dash=1
for T in $lengths; do
  for cell in "${cells[@]}"; do
    plots="$plots${plots:+, }'$out/adding-$T-$cell.dat' using 1:2 with linespoints"
    plots="$plots lw 2 dt $dash lc rgb '$(color "$cell")' title '$cell T=$T'"
  done
  dash=$((dash + 1))
done
gnuplot <<GP
set terminal pngcairo size 900,560
set output '$out/curves.png'
set title 'Adding problem: test MSE per epoch (solved: below $threshold)'
set xlabel 'epoch'; set ylabel 'test MSE'; set logscale y; set grid
set key outside right
plot $plots, $threshold with lines dashtype 2 lc rgb 'black' title 'solved'
GP
echo "wrote $out/results.md and $out/curves.png" >&2
