# Shared by bench_lstm.sh and bench_bert.sh: one model timed in dtrain and in
# its PyTorch twin, each at its best setting, as a Markdown table.
#
# The sourcing script sets DTRAIN, CONFIG (dtrain's config), TWIN (the
# PyTorch script), METRIC (samples_per_s or tokens_per_s), UNITS (what one
# sample counts in METRIC: 1, or the tokens of a sequence), TWIN_ARGS
# (extra arguments of the twin), DTRAIN_ARGS (extra overrides for dtrain),
# WARMUP, INTERVALS, INTERVAL_S, BATCHES and NAME (for messages), then
# calls compare_table TITLE UNIT_LABEL.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=/usr/bin/python3
MPI=(mpiexec -n 2 --oversubscribe --allow-run-as-root --bind-to none)
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT MKL_NUM_THREADS

log() { echo "$NAME: $*" >&2; }

# Both sides on the OpenBLAS kernels dtrain uses (see bench.sh: on a CPU the
# library does not know, it falls back to generic ones unless told).
compare_kernels() {
    local kernels
    kernels=$("$DTRAIN" --version 2>/dev/null |
        sed -n 's/^blas: .*; kernels \([A-Za-z0-9]*\).*/\1/p')
    if [ -n "$kernels" ]; then export OPENBLAS_CORETYPE=$kernels; fi
}
field() { sed -n "s/.*[[:space:]:]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
result() { "$@" 2>&1 | grep '^result:' | tail -n 1 || log "failed: $*"; }
better() { [ -n "$1" ] && { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }; }

# PyTorch's best of three thread settings at batch $1: "rate|setting".
torch_best() {
    local best="" name="" s label vars rate envs
    local settings=(
        "OMP 2, BLAS 1|OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1"
        "OMP 2, BLAS 2 passive|OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE"
        "OMP 1, BLAS 2|OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2")
    for s in "${settings[@]}"; do
        IFS='|' read -r label vars <<<"$s"
        read -r -a envs <<<"$vars"
        rate=$(field "$METRIC" "$(result env "${envs[@]}" "$PYTHON" "$here/$TWIN" \
            --batch "$1" --interval-s "$INTERVAL_S" "${TWIN_ARGS[@]}")")
        log "pytorch batch $1 ($label): ${rate:-failed}"
        if better "$rate" "$best"; then best=$rate name=$label; fi
    done
    echo "$best|$name"
}

# dtrain's best of two layouts (1 rank x 2 threads, 2 ranks x 1 thread),
# with enough steps per interval to last about INTERVAL_S: "rate|layout".
dtrain_best() {
    local probe steps line rate best="" name=""
    probe=$(field "$METRIC" "$(result env OMP_NUM_THREADS=2 "$DTRAIN" bench "$CONFIG" \
        "${DTRAIN_ARGS[@]}" "train.batch_size=$1" --warmup 1 --steps 1 --intervals 1)")
    steps=$(awk -v r="${probe:-1}" -v b="$1" -v u="$UNITS" -v t="$INTERVAL_S" \
        'BEGIN { n = int(t * r / (b * u)) + 1; print (n < 2 ? 2 : n) }')
    local args=(bench "$CONFIG" "${DTRAIN_ARGS[@]}" "train.batch_size=$1" --warmup "$WARMUP"
        --intervals "$INTERVALS" --steps "$steps")
    line=$(result env OMP_NUM_THREADS=2 "$DTRAIN" "${args[@]}")
    rate=$(field "$METRIC" "$line")
    log "dtrain batch $1 (1 rank x 2 threads): ${rate:-failed}"
    if better "$rate" "$best"; then best=$rate name="1 rank x 2 threads"; fi
    line=$(result env OMP_NUM_THREADS=1 "${MPI[@]}" "$DTRAIN" "${args[@]}")
    rate=$(field "$METRIC" "$line")
    log "dtrain batch $1 (2 ranks x 1 thread): ${rate:-failed}"
    if better "$rate" "$best"; then best=$rate name="2 ranks x 1 thread"; fi
    echo "$best|$name"
}

# The table on stdout (and in $BENCH_OUT if set).
compare_table() {
    local table b t_rate t_name d_rate d_name r
    compare_kernels
    table="$1, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
    table+=$'\n\n'"| batch | PyTorch $2 (setting) | dtrain $2 (layout) | dtrain / PyTorch |"
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
}
