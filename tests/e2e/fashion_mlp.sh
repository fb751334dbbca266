#!/usr/bin/env bash
# experiments/fashion-mlp.yaml on 2 ranks: at least 88.5% test accuracy on
# the 10,000 Fashion-MNIST test images.
source "$(dirname "$0")/common.bash"
fashion_accuracy "$SRC/experiments/fashion-mlp.yaml" 0.885
