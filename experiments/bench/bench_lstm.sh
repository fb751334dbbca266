#!/usr/bin/env bash
# Training throughput of dtrain against PyTorch's nn.LSTM on the course
# model (experiments/bench/lstm.yaml, torch_lstm.py): a 2-layer LSTM with
# 256 hidden units over 28 rows of 28 features, Adam.
#
# usage: experiments/bench/bench_lstm.sh [DTRAIN]    (default build/dtrain)
#
# The method is bench.sh's: synthetic data, warm-up steps, the median of 5
# timed intervals, PyTorch's best of three thread settings (OpenMP 2 +
# OpenBLAS 1; both 2 with passive waiting; OpenMP 1 + OpenBLAS 2) against
# dtrain's best of two layouts (1 rank x 2 threads, 2 ranks x 1 thread).
# Intervals last about 1 s (BENCH_INTERVAL_S). Batches: BENCH_BATCHES
# ("64 256"). Output: a Markdown table on stdout (and in $BENCH_OUT if set).
# Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DTRAIN=${1:-build/dtrain}
CONFIG=experiments/bench/lstm.yaml
TWIN=torch_lstm.py
METRIC=samples_per_s
UNITS=1
TWIN_ARGS=()
DTRAIN_ARGS=()
WARMUP=3
INTERVALS=5
INTERVAL_S=${BENCH_INTERVAL_S:-1.0}
read -r -a BATCHES <<<"${BENCH_BATCHES:-64 256}"
NAME=bench_lstm.sh
. experiments/bench/compare.bash

compare_table "Course LSTM (2 x 256, 28 steps of 28) training throughput, Adam" samples/s
