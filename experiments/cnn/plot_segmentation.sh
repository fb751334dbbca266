#!/usr/bin/env bash
# Draw the file of `dtrain eval --predictions` as a PNG: one column per test
# sample, rows input / target / prediction; labels in 11 colours
# (black = background, then one colour per digit 0..9).
#   experiments/cnn/plot_segmentation.sh pred.txt seg.png
set -euo pipefail
in=${1:?usage: plot_segmentation.sh PREDICTIONS.txt OUT.png}
out=${2:?usage: plot_segmentation.sh PREDICTIONS.txt OUT.png}
command -v gnuplot >/dev/null || { echo "gnuplot is not installed" >&2; exit 1; }
# Three blocks (input, target, prediction) per sample.
blocks=$(awk 'BEGIN { b = 0; blank = 0 } /^$/ { blank++; next }
              { if (blank >= 2) b++; blank = 0 } END { print b + 1 }' "$in")
n=$((blocks / 3))
gnuplot <<GP
set terminal pngcairo size $((n * 110 + 90)),380 font ",9"
set output "$out"
set multiplot layout 3,$n margins 0.08,0.99,0.02,0.93 spacing 0.01,0.02
unset key; unset xtics; unset ytics; unset colorbox
set yrange [27.5:-0.5] reverse; set xrange [-0.5:27.5]; set size ratio -1
labels = "input target prediction"
do for [p = 0:2] {
  do for [i = 0:$n - 1] {
    if (p == 0) { set palette gray; set cbrange [0:1] } else {
      set palette maxcolors 11
      set palette defined (0 "black", 1 "#e41a1c", 2 "#377eb8", 3 "#4daf4a", 4 "#984ea3", \
        5 "#ff7f00", 6 "#ffff33", 7 "#a65628", 8 "#f781bf", 9 "#999999", 10 "#66c2a5")
      set cbrange [-0.5:10.5] }
    if (i == 0) { set ylabel word(labels, p + 1) } else { unset ylabel }
    if (p == 0) { set title sprintf("test %d", i) } else { unset title }
    plot "$in" index (3 * i + p) matrix with image
  }
}
unset multiplot
GP
echo "wrote $out ($n samples)"
