#!/usr/bin/env bash
# Turn sweep and ensemble directories into PNG plots (gnuplot).
#
# usage: launcher/plot-sweep.sh DIR [DIR ...]
#
# A sweep directory (summary.csv) gets DIR/plots/:
#   accuracy-vs-batch.png   final and best test accuracy against the batch size
#   curves.png              test accuracy after each epoch, one line per job
#   sharpness-vs-batch.png  the sharpness of the final minimum against the batch size
#   noise-scale.png         the gradient noise scale per logged interval, per job
# With several sweep directories, the first also gets
#   compare-accuracy-vs-batch.png, one line per directory (e.g. without and
#   with the linear scaling rule).
# An ensemble directory (ensemble.csv) gets DIR/plots/ensemble-members.png:
# accuracy, NLL, Brier score and ECE of the ensemble of members 1..m, with
# the average member as a dashed line.
# Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail
command -v gnuplot >/dev/null || { echo "plot-sweep.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
[ $# -ge 1 ] || { sed -n '2,20p' "$0"; exit 2; }

# col FILE NAME: the 1-based index of column NAME in the CSV header.
col() { head -1 "$1" | tr ',' '\n' | grep -nx "$2" | cut -d: -f1; }

# Rows "batch final best sharpness name run_dir" of the ok jobs, by batch.
table() {
  local csv=$1/summary.csv b f t s n r st
  b=$(col "$csv" batch); f=$(col "$csv" final_test_acc); t=$(col "$csv" best_test_acc)
  s=$(col "$csv" sharpness); n=$(col "$csv" name); r=$(col "$csv" run_dir); st=$(col "$csv" status)
  awk -F, -v b="$b" -v f="$f" -v t="$t" -v s="$s" -v n="$n" -v r="$r" -v st="$st" \
    'NR > 1 && $st == "ok" { print $b, $f, $t, ($s == "" ? "NaN" : $s), $n, $r }' "$csv" |
    sort -n -k1,1
}

plot_sweep() {
  local dir=$1 p=$1/plots
  mkdir -p "$p/data"
  table "$dir" >"$p/data/jobs.dat"
  [ -s "$p/data/jobs.dat" ] || { echo "plot-sweep.sh: $dir: no successful job" >&2; return; }
  local curves="" noise="" name run
  while read -r _ _ _ _ name run; do
    [ -f "$run/metrics.jsonl" ] || run=$dir/$(basename "$run") # relative to another cwd
    grep '"type":"eval"' "$run/metrics.jsonl" |
      sed -E 's/.*"epoch":([0-9]+).*"accuracy":([-0-9.e+]+).*/\1 \2/' >"$p/data/$name.eval" || true
    grep '"noise_scale"' "$run/metrics.jsonl" |
      sed -E 's/.*"step":([0-9]+).*"noise_scale":([-0-9.e+]+).*/\1 \2/' >"$p/data/$name.noise" || true
    curves+="${curves:+, }'$p/data/$name.eval' using 1:(100*\$2) with linespoints title '$name'"
    [ -s "$p/data/$name.noise" ] &&
      noise+="${noise:+, }'$p/data/$name.noise' using 1:2 with lines title '$name'"
  done <"$p/data/jobs.dat"
  local head="set terminal pngcairo size 900,600 noenhanced; set grid; set key bottom left"
  draw "$head; set output '$p/accuracy-vs-batch.png'
set title 'Test accuracy against batch size: $dir'
set logscale x 2; set xlabel 'global batch size'; set ylabel 'test accuracy (%)'
plot '$p/data/jobs.dat' using 1:(100*\$2) with linespoints lw 2 title 'final', \\
     '' using 1:(100*\$3) with linespoints dt 2 title 'best'"
  awk '$4 != "NaN" { found = 1 } END { exit !found }' "$p/data/jobs.dat" &&
    draw "$head; set output '$p/sharpness-vs-batch.png'
set title 'Sharpness of the final minimum: $dir'
set logscale x 2; set xlabel 'global batch size'
set ylabel 'sharpness: 100 (max box loss - loss) / (1 + loss)'
plot '$p/data/jobs.dat' using 1:4 with linespoints lw 2 title 'sharpness'"
  cat "$p"/data/*.eval | grep -q . &&
    draw "$head; set output '$p/curves.png'
set title 'Test accuracy per epoch: $dir'
set xlabel 'epoch'; set ylabel 'test accuracy (%)'
plot $curves"
  [ -n "$noise" ] &&
    draw "$head; set output '$p/noise-scale.png'
set title 'Gradient noise scale B_simple (predicted critical batch): $dir'
set xlabel 'step'; set ylabel 'noise scale (samples)'; set logscale y
plot $noise"
  echo "plots: $p"
}

compare() {
  local first=$1 lines="" d
  for d in "$@"; do
    [ -s "$d/plots/data/jobs.dat" ] &&
      lines+="${lines:+, }'$d/plots/data/jobs.dat' using 1:(100*\$2) with linespoints lw 2 title '$(basename "$d")'"
  done
  [ -n "$lines" ] || return 0
  gnuplot <<GP
set terminal pngcairo size 900,600 noenhanced
set grid
set key bottom left
set output '$first/plots/compare-accuracy-vs-batch.png'
set title 'Final test accuracy against batch size'
set logscale x 2
set xlabel 'global batch size'; set ylabel 'test accuracy (%)'
plot $lines
GP
  echo "comparison: $first/plots/compare-accuracy-vs-batch.png"
}

plot_ensemble() {
  local dir=$1 p=$1/plots
  mkdir -p "$p/data"
  awk -F, '$1 == "ensemble" { print $2, $3, $4, $5, $6 }' "$dir/ensemble.csv" >"$p/data/ensemble.dat"
  read -r acc nll brier ece < <(awk -F, '$1 == "average_member" { print $3, $4, $5, $6 }' "$dir/ensemble.csv")
  gnuplot <<GP
set terminal pngcairo size 1000,800 noenhanced
set output '$p/ensemble-members.png'
set multiplot layout 2,2 title 'Ensemble of members 1..m (solid) and the average member (dashed): $dir'
set grid
set xlabel 'members'
set xtics 1
set key off
set ylabel 'test accuracy (%)'
plot '$p/data/ensemble.dat' using 1:(100*\$2) with linespoints lw 2, 100*$acc dt 2 lw 2
set ylabel 'NLL'
plot '$p/data/ensemble.dat' using 1:3 with linespoints lw 2, $nll dt 2 lw 2
set ylabel 'Brier score'
plot '$p/data/ensemble.dat' using 1:4 with linespoints lw 2, $brier dt 2 lw 2
set ylabel 'ECE (15 bins)'
plot '$p/data/ensemble.dat' using 1:5 with linespoints lw 2, $ece dt 2 lw 2
unset multiplot
GP
  echo "plots: $p"
}

# draw SCRIPT: run one gnuplot script; a plot that cannot be drawn (no data)
# is reported and the others go on.
draw() { printf '%s\n' "$1" | gnuplot 2>&1 | grep -v "^Warning: empty" >&2 || true; }

sweeps=()
for d in "$@"; do
  if [ -f "$d/summary.csv" ]; then plot_sweep "$d"; sweeps+=("$d")
  elif [ -f "$d/ensemble.csv" ]; then plot_ensemble "$d"
  else echo "plot-sweep.sh: $d holds neither summary.csv nor ensemble.csv" >&2; exit 1
  fi
done
[ ${#sweeps[@]} -gt 1 ] && compare "${sweeps[@]}"
exit 0
