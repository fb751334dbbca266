#!/usr/bin/env bash
# experiments/fashion-cnn.yaml on 2 ranks: at least 91.5% test accuracy on
# the 10,000 Fashion-MNIST test images. Labelled long (about 10 minutes).
source "$(dirname "$0")/common.bash"
fashion_accuracy "$SRC/experiments/fashion-cnn.yaml" 0.915
