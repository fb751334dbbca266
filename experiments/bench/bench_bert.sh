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
# per sequence). Output: a Markdown table on stdout (and in $BENCH_OUT if
# set). Run it on an otherwise idle machine.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.."
DTRAIN=${1:-build/dtrain}
CONFIG=experiments/bert/bert-tiny.yaml
PYTHON=/usr/bin/python3
INTERVAL_S=${BENCH_INTERVAL_S:-2.0}
INTERVALS=${BENCH_INTERVALS:-3}
read -r -a BATCHES <<<"${BENCH_BATCHES:-32}"
MPI=(mpiexec -n 2 --oversubscribe --allow-run-as-root --bind-to none)
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT MKL_NUM_THREADS

log() { echo "bench_bert.sh: $*" >&2; }

# Both sides on the OpenBLAS kernels dtrain uses (see bench.sh: on a CPU the
# library does not know, it falls back to generic ones unless told).
kernels=$("$DTRAIN" --version 2>/dev/null | sed -n 's/^blas: .*; kernels \([A-Za-z0-9]*\).*/\1/p')
if [ -n "$kernels" ]; then export OPENBLAS_CORETYPE=$kernels; fi
field() { sed -n "s/.*[[:space:]:]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
result() { "$@" 2>&1 | grep '^result:' | tail -n 1 || log "failed: $*"; }
better() { [ -n "$1" ] && { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }; }

torch_best() {
    local best="" name="" s label vars rate envs
    local settings=(
        "OMP 2, BLAS 1|OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1"
        "OMP 2, BLAS 2 passive|OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE"
        "OMP 1, BLAS 2|OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2")
    for s in "${settings[@]}"; do
        IFS='|' read -r label vars <<<"$s"
        read -r -a envs <<<"$vars"
        rate=$(field tokens_per_s "$(result env "${envs[@]}" "$PYTHON" "$here/torch_bert.py" \
            --batch "$1" --interval-s "$INTERVAL_S" --intervals "$INTERVALS")")
        log "pytorch batch $1 ($label): ${rate:-failed}"
        if better "$rate" "$best"; then best=$rate name=$label; fi
    done
    echo "$best|$name"
}

dtrain_best() {
    local probe steps line rate best="" name=""
    probe=$(field tokens_per_s "$(result env OMP_NUM_THREADS=2 "$DTRAIN" bench "$CONFIG" \
        "train.batch_size=$1" --warmup 1 --steps 1 --intervals 1)")
    steps=$(awk -v r="${probe:-1}" -v b="$1" -v t="$INTERVAL_S" \
        'BEGIN { n = int(t * r / (b * 128)) + 1; print (n < 2 ? 2 : n) }')
    local args=(bench "$CONFIG" "train.batch_size=$1" --warmup 2 --intervals "$INTERVALS"
        --steps "$steps")
    line=$(result env OMP_NUM_THREADS=2 "$DTRAIN" "${args[@]}")
    rate=$(field tokens_per_s "$line")
    log "dtrain batch $1 (1 rank x 2 threads): ${rate:-failed}"
    if better "$rate" "$best"; then best=$rate name="1 rank x 2 threads"; fi
    line=$(result env OMP_NUM_THREADS=1 "${MPI[@]}" "$DTRAIN" "${args[@]}")
    rate=$(field tokens_per_s "$line")
    log "dtrain batch $1 (2 ranks x 1 thread): ${rate:-failed}"
    if better "$rate" "$best"; then best=$rate name="2 ranks x 1 thread"; fi
    echo "$best|$name"
}

table="BERT-tiny MLM (vocab 8000, 4 x 256, 4 heads, length 128) training throughput, AdamW,"
table+=" $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
table+=$'\n\n'"| batch | PyTorch tokens/s (setting) | dtrain tokens/s (layout)"
table+=" | dtrain / PyTorch |"
table+=$'\n'"|---:|---:|---:|---:|"
for b in "${BATCHES[@]}"; do
    IFS='|' read -r t_rate t_name <<<"$(torch_best "$b")"
    IFS='|' read -r d_rate d_name <<<"$(dtrain_best "$b")"
    r=$(awk -v a="$d_rate" -v c="$t_rate" \
        'BEGIN { if (a && c) printf "%.2f", a / c; else print "n/a" }')
    table+=$'\n'"| $b | ${t_rate:-n/a} ($t_name) | ${d_rate:-n/a} ($d_name) | $r |"
done
echo "$table"
if [ -n "${BENCH_OUT:-}" ]; then echo "$table" >"$BENCH_OUT"; fi
