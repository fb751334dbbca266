#!/usr/bin/env bash
# Print the grid of a sweep, one configuration per line (space-separated
# key=value overrides), in the order `dtrain sweep` numbers them (the last
# key varies fastest). For job arrays (launcher/sweep-array.sbatch).
#
#   launcher/sweep-grid.sh train.batch_size=64,256 optim.lr=0.01,0.03
#   train.batch_size=64 optim.lr=0.01
#   train.batch_size=64 optim.lr=0.03
#   ...
set -euo pipefail
lines=("")
for kv in "$@"; do
  key=${kv%%=*}
  IFS=, read -r -a vals <<<"${kv#*=}"
  next=()
  for l in "${lines[@]}"; do
    for v in "${vals[@]}"; do next+=("${l:+$l }$key=$v"); done
  done
  lines=("${next[@]}")
done
printf '%s\n' "${lines[@]}"
