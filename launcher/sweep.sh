#!/usr/bin/env bash
# Start a sweep or an ensemble under mpirun on this machine (or the hosts of
# a hostfile), then plot its directory.
#
# usage: launcher/sweep.sh NP sweep|ensemble CONFIG [key=value ...] [options]
#   launcher/sweep.sh 4 sweep experiments/sweeps/fashion-mlp-batch.yaml \
#       train.batch_size=64,256,1024,4096 --groups 2 --out runs/bs
#   launcher/sweep.sh 2 ensemble experiments/ensembles/fashion-mlp-bagging.yaml members=8
# env: DTRAIN (default build/dtrain), MPIRUN_FLAGS (extra mpirun flags, e.g.
#      "--hostfile hosts")
# The directory is the one dtrain prints ("sweep directory: ..." or
# "ensemble directory: ..."); plots go to its plots/ folder.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] || { sed -n '2,13p' "$0"; exit 2; }
np=$1; shift
dtrain=${DTRAIN:-$here/build/dtrain}
log=$(mktemp)
rc=0
# shellcheck disable=SC2086
"$here/launcher/dtrain-mpirun" ${MPIRUN_FLAGS:-} -np "$np" "$dtrain" "$@" | tee "$log" || rc=$?
dir=$(sed -n 's/^\(sweep\|ensemble\) directory: \([^ ]*\).*/\2/p' "$log" | tail -1)
rm -f "$log"
# 3: some jobs failed, the summary says which; still worth plotting
if [ -n "$dir" ] && { [ $rc -eq 0 ] || [ $rc -eq 3 ]; }; then
  "$here/launcher/plot-sweep.sh" "$dir" || true
fi
exit $rc
