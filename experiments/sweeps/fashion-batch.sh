#!/usr/bin/env bash
# The Fashion-MNIST batch-size sweep, plain and with the linear scaling rule
# plus warm-up, from one command each, then the plots.
#
# usage: experiments/sweeps/fashion-batch.sh [NP] [key=value ...]
#   NP       ranks (default 2); the 4 batch sizes run on NP groups when NP
#            divides 4, each group data parallel over NP/groups ranks
# env: DTRAIN (default build/dtrain), MPIRUN (default launcher/dtrain-mpirun),
#      OUT (default runs/fashion-batch), EPOCHS (default 3: the short study),
#      DATA (default data/fashion-mnist), CONFIG (default fashion-mlp-batch.yaml;
#      fashion-cnn-batch.yaml is the CNN study)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
np=${1:-2}; shift || true
dtrain=${DTRAIN:-$here/build/dtrain}
mpirun=${MPIRUN:-$here/launcher/dtrain-mpirun}
out=${OUT:-runs/fashion-batch}
cfg=${CONFIG:-$here/experiments/sweeps/fashion-mlp-batch.yaml}
common=("data.path=${DATA:-$here/data/fashion-mnist}" "train.epochs=${EPOCHS:-3}"
        train.batch_size=64,256,1024,4096 --max-micro 512 --target 0.85 "$@")
mkdir -p "$out"
# The sweep exits 3 when a job failed (recorded in its summary): go on.
"$mpirun" -np "$np" "$dtrain" sweep "$cfg" "${common[@]}" --out "$out/plain" || [ $? -eq 3 ]
"$mpirun" -np "$np" "$dtrain" sweep "$cfg" "${common[@]}" --scale-lr 64 --warmup 30 \
  --out "$out/scaled" || [ $? -eq 3 ]
"$here/launcher/plot-sweep.sh" "$out/plain" "$out/scaled"
echo "plots: $out/plain/plots, $out/scaled/plots"
