#!/usr/bin/env bash
# PNG curves from run directories (their metrics.jsonl), through gnuplot.
#
#   launcher/plot.sh RUN_DIR [--out FILE.png]
#       one run: training loss per logged step and test loss per epoch (left),
#       test accuracy per epoch for classification, or the learning rate (right)
#   launcher/plot.sh --compare --out FILE.png [--metric M] [--logy] [--title T]
#                    RUN_DIR[=LABEL] ...
#       several runs on one plot, one curve each (label: the run directory's
#       name, or LABEL). M: train_loss (per logged step, the default),
#       test_loss, test_accuracy, val_loss, val_accuracy (per epoch), lr.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

# field NAME: print NAME's numeric value from each JSON record on stdin.
# (step, epoch, loss, accuracy, lr, ... as written by dtrain.)
field_rows() { # TYPE SPLIT X Y FILE: "x y" for records of TYPE (and SPLIT)
  awk -v type="$1" -v split_="$2" -v xk="$3" -v yk="$4" '
    function get(k,   r) {
      if (match($0, "\"" k "\":[-0-9.eE+naif]+")) {
        r = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3); return r }
      return "" }
    index($0, "\"type\":\"" type "\"") && (split_ == "" || index($0, "\"split\":\"" split_ "\"")) {
      x = get(xk); y = get(yk); if (x != "" && y != "") print x, y }' "$5"
}

# metric M -> TYPE SPLIT X Y and an axis label
metric_spec() {
  case "$1" in
    train_loss) echo "train - step loss";;
    lr) echo "train - step lr";;
    test_loss) echo "eval test epoch loss";;
    test_accuracy) echo "eval test epoch accuracy";;
    val_loss) echo "eval validation epoch loss";;
    val_accuracy) echo "eval validation epoch accuracy";;
    *) echo "plot.sh: unknown metric '$1'" >&2; exit 2;;
  esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one_run() {
  local run=$1 out=$2 m="$1/metrics.jsonl"
  [ -f "$m" ] || { echo "plot.sh: no $m" >&2; exit 1; }
  field_rows train "" step loss "$m" >"$tmp/train"
  field_rows eval test step loss "$m" >"$tmp/test"
  field_rows eval test epoch accuracy "$m" >"$tmp/acc"
  field_rows train "" step lr "$m" >"$tmp/lr"
  local right="set ylabel 'learning rate'; set yrange [0:*]; set offsets 0,0,graph 0.1,0; plot '$tmp/lr' using 1:2 with lines lw 2 title 'lr'"
  [ -s "$tmp/test" ] && [ "$(sort -k2 -g "$tmp/acc" | tail -1 | cut -d' ' -f2)" != 0 ] &&
    right="set xlabel 'epoch'; set xtics 1; set ylabel 'test accuracy'; plot '$tmp/acc' using 1:2 with linespoints lw 2 title 'test accuracy'"
  local test_plot=""
  [ -s "$tmp/test" ] && test_plot=", '$tmp/test' using 1:2 with linespoints lw 2 title 'test loss (per epoch)'"
  gnuplot <<GP
set terminal pngcairo size 1200,480 font ',11'
set output '$out'
set multiplot layout 1,2 title "$(basename "$run")" noenhanced
set grid
set key top right noenhanced
set xlabel 'step'; set ylabel 'loss'
plot '$tmp/train' using 1:2 with lines lw 2 title 'training loss (per interval)'$test_plot
set key bottom right
$right
unset multiplot
GP
}

compare() {
  local out="" metric=train_loss logy="" title="" runs=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out=$2; shift 2;;
      --metric) metric=$2; shift 2;;
      --logy) logy="set logscale y"; shift;;
      --title) title=$2; shift 2;;
      -h|--help) usage 0;;
      *) runs+=("$1"); shift;;
    esac
  done
  [ -n "$out" ] && [ ${#runs[@]} -gt 0 ] || usage
  read -r type split xk yk <<<"$(metric_spec "$metric")"
  [ "$split" = - ] && split=""
  local plots="" i=0 style=lines xtics=""
  [ "$xk" = epoch ] && style="linespoints pt 7 ps 0.8" && xtics="set xtics 1"
  local colors=('#1f77b4' '#ff7f0e' '#2ca02c' '#d62728' '#9467bd' '#8c564b' '#e377c2'
                '#7f7f7f' '#bcbd22' '#17becf' '#000000')
  for spec in "${runs[@]}"; do
    local dir=${spec%%=*} label
    label=$(basename "$dir")
    [ "$spec" != "$dir" ] && label=${spec#*=}
    [ -f "$dir/metrics.jsonl" ] || { echo "plot.sh: no $dir/metrics.jsonl" >&2; exit 1; }
    field_rows "$type" "$split" "$xk" "$yk" "$dir/metrics.jsonl" >"$tmp/c$i"
    local color=${colors[$((i % ${#colors[@]}))]} dash=$((i / ${#colors[@]} + 1))
    plots+="${plots:+, }'$tmp/c$i' using 1:2 with $style lw 2 dt $dash lc rgb '$color' title '$label'"
    i=$((i + 1))
  done
  local ylabel=${metric//_/ }
  gnuplot <<GP
set terminal pngcairo size 1000,600 font ',11'
set output '$out'
set title "${title:-$ylabel}" noenhanced
set grid
$logy
set key outside right top noenhanced
set xlabel '$xk'
$xtics
set ylabel '$ylabel'
plot $plots
GP
}

[ $# -gt 0 ] || usage
case "$1" in
  -h|--help) usage 0;;
  --compare) shift; compare "$@";;
  *)
    run=$1; shift
    out="$run/curves.png"
    [ "${1:-}" = --out ] && out=$2
    one_run "$run" "$out"
    echo "$out";;
esac
