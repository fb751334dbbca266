#!/usr/bin/env bash
# Training throughput of dtrain against PyTorch on BERT-tiny's masked-LM
# pretraining step (experiments/bert/bert-tiny.yaml, torch_bert.py): vocab
# 8000, hidden 256, 4 post-norm layers, 4 heads, feed-forward 1024, sequences
# of 128, dropout 0.1, the tied MLM head at every position, AdamW.
#
# usage: experiments/bench/bench_bert.sh [DTRAIN]    (default build/dtrain)
#
# The method is bench.sh's: synthetic data, warm-up steps, the median of 5
# timed intervals, PyTorch's best of three thread settings (OpenMP 2 +
# OpenBLAS 1; both 2 with passive waiting; OpenMP 1 + OpenBLAS 2) against
# dtrain's best of two layouts (1 rank x 2 threads, 2 ranks x 1 thread).
# Intervals last about 2 s (BENCH_INTERVAL_S), 3 of them (BENCH_INTERVALS).
# Batches of sequences: BENCH_BATCHES ("32"). The rates are tokens/s (128
# per sequence). Two tables: the same work on both sides (dtrain's decoder
# at every position too, only_targets false), then dtrain's config as it
# trains (the decoder at the masked positions only). Output: Markdown on
# stdout (and in $BENCH_OUT if set). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DTRAIN=${1:-build/dtrain}
CONFIG=experiments/bert/bert-tiny.yaml
TWIN=torch_bert.py
METRIC=tokens_per_s
UNITS=128
WARMUP=2
INTERVALS=${BENCH_INTERVALS:-3}
TWIN_ARGS=(--intervals "$INTERVALS")
INTERVAL_S=${BENCH_INTERVAL_S:-2.0}
read -r -a BATCHES <<<"${BENCH_BATCHES:-32}"
NAME=bench_bert.sh
. experiments/bench/compare.bash

# The MLM decoder is the config's last layer.
decoder=$(($(grep -c '^    - {kind' "$CONFIG") - 1))
title="BERT-tiny MLM (vocab 8000, 4 x 256, 4 heads, length 128) training throughput, AdamW"
DTRAIN_ARGS=("model.layers.$decoder.only_targets=false")
compare_table "$title, decoder at every position on both sides" tokens/s
out=${BENCH_OUT:-}
if [ -n "$out" ]; then BENCH_OUT=$out.only-targets; fi
echo
DTRAIN_ARGS=()
compare_table "$title, dtrain's decoder at the masked positions only" tokens/s
if [ -n "$out" ]; then
    { echo; cat "$out.only-targets"; } >>"$out" && rm -f "$out.only-targets"
fi
