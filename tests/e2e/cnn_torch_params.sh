#!/usr/bin/env bash
# `dtrain info` of every CNN config against the same networks built from
# torch.nn modules: per layer output shapes and parameter counts, and the
# totals. Skipped without PyTorch.
source "$(dirname "$0")/common.bash"
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c "import torch, yaml" 2>/dev/null || { echo "no torch"; exit 77; }
OMP_NUM_THREADS=1 "$py" "$SRC/experiments/cnn/torch_params.py" "$DTRAIN" \
  "$SRC"/experiments/cnn/*.yaml "$SRC/experiments/fashion-cnn.yaml"
