#!/usr/bin/env bash
# Training throughput of dtrain against PyTorch on the same model.
#
# usage: experiments/bench/bench.sh [--model mlp|cnn] [DTRAIN]
#        (the model defaults to mlp, DTRAIN to build/dtrain)
#
# What it measures: samples/s of whole training steps of a model on synthetic
# data, for batch 64 and 256 and for SGD with momentum and Adam, in PyTorch
# (torch_MODEL.py) and in `dtrain bench` (MODEL.yaml). Models: mlp, the MLP
# 784-512-256-10; cnn, the course's MNIST CNN (two blocks of 3x3 conv, batch
# norm, ReLU, 2x2 max pooling and dropout, a 256-unit dense layer). For the
# MLP, also the rate OpenBLAS SGEMM alone reaches on the same matrix shapes
# (`dtrain bench --sgemm`), as a ceiling for the matrix products.
#
# How: both sides run 5 warm-up steps, then 5 timed intervals of N steps, and
# report the median; N is chosen so that an interval lasts about half a second.
# Thread settings matter more than anything else here. Debian's PyTorch runs
# its own operators on an OpenMP pool and its matrix products on OpenBLAS's
# separate pthread pool; give both pools every core of a small machine and each
# pool's idle threads spin while the other pool works, which can cost a factor
# of 2-4. A fair comparison therefore takes PyTorch's best of three settings
# (OpenMP 2 + OpenBLAS 1; both 2 with passive waiting; OpenMP 1 + OpenBLAS 2),
# and dtrain's best of two layouts (1 rank x 2 threads, 2 ranks x 1 thread).
# The table says which setting and which layout won.
#
# Run it on an otherwise idle machine: anything else running at the same time
# (a build, another benchmark) lowers the numbers unevenly.
#
# Output: a Markdown table on stdout, also written to $BENCH_OUT if set.
# BENCH_INTERVAL_S sets the target interval length (default 0.5 s).
# Progress and failures go to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

MODEL=mlp
if [ "${1:-}" = "--model" ]; then MODEL=${2:?--model needs mlp or cnn}; shift 2; fi
case $MODEL in
    mlp) TITLE="MLP 784-512-256-10" ;;
    cnn) TITLE="MNIST CNN (conv-BN-ReLU-pool-dropout x2, dense 256)" ;;
    *) echo "bench.sh: unknown model '$MODEL' (mlp or cnn)" >&2; exit 2 ;;
esac
DTRAIN=${1:-build/dtrain}
CONFIG=experiments/bench/$MODEL.yaml
TORCH_SCRIPT=$here/torch_$MODEL.py
PYTHON=/usr/bin/python3 # Debian's, which sees python3-torch
BATCHES=(64 256)
OPTIMS=(sgd adam)
INTERVAL_S=${BENCH_INTERVAL_S:-0.5} # target seconds per timed interval
MPI=(mpiexec -n 2 --oversubscribe --allow-run-as-root --bind-to none)

# Each run sets its own thread variables; inherited ones must not leak in.
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT MKL_NUM_THREADS

log() { echo "bench.sh: $*" >&2; }

ensure_torch() {
    if dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q 'install ok installed'
    then return 0; fi
    log "python3-torch is missing; installing it with apt-get"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get install -y python3-torch >&2
}

# optim_override KIND: the dtrain config override matching torch_mlp.py.
optim_override() {
    case $1 in
        sgd) echo 'optim={kind: sgd, lr: 0.01, momentum: 0.9}' ;;
        adam) echo 'optim={kind: adam, lr: 0.001}' ;;
    esac
}

# field NAME LINE: the value of NAME=value in LINE, empty if absent.
field() { sed -n "s/.*[[:space:]:]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

# run_result CMD...: runs CMD and prints its `result:` line, or nothing if it
# failed (its output then goes to stderr).
run_result() {
    local out
    if out=$("$@" 2>&1); then
        grep '^result:' <<<"$out" | tail -n 1
    else
        log "failed: $*"
        tail -n 5 <<<"$out" | sed 's/^/    /' >&2
    fi
}

# better A B: true if rate A beats rate B (B may be empty).
better() { [ -n "$1" ] && { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }; }

# torch_best B OPT: prints "rate|setting" for PyTorch's best thread setting.
torch_best() {
    local settings=(
        "a: OMP 2, BLAS 1|OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1"
        "b: OMP 2, BLAS 2 passive|OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE"
        "c: OMP 1, BLAS 2|OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2"
    )
    local best="" best_name="" s name vars line rate envs
    for s in "${settings[@]}"; do
        IFS='|' read -r name vars <<<"$s"
        read -r -a envs <<<"$vars"
        line=$(run_result env "${envs[@]}" "$PYTHON" "$TORCH_SCRIPT" \
            --batch "$1" --optim "$2" --interval-s "$INTERVAL_S")
        rate=$(field samples_per_s "$line")
        log "pytorch batch $1 $2 ($name): ${rate:+$rate samples/s}${rate:-failed}"
        if better "$rate" "$best"; then best=$rate best_name=$name; fi
    done
    echo "$best|$best_name"
}

# dtrain_steps B OPT: steps per interval so that one lasts about $INTERVAL_S
# seconds, from a short probe run (at least 20, dtrain's own default).
dtrain_steps() {
    local line rate
    line=$(run_result env OMP_NUM_THREADS=2 "$DTRAIN" bench "$CONFIG" "train.batch_size=$1" \
        "$(optim_override "$2")" --warmup 2 --steps 10 --intervals 1)
    rate=$(field samples_per_s "$line")
    awk -v r="${rate:-0}" -v b="$1" -v t="$INTERVAL_S" \
        'BEGIN { n = int(t * r / b) + 1; print (n < 20 ? 20 : n) }'
}

# dtrain_best B OPT: prints "rate|gflops|layout" for dtrain's best layout.
dtrain_best() {
    local steps args line rate best="" best_gf="" best_name=""
    steps=$(dtrain_steps "$1" "$2")
    args=(bench "$CONFIG" "train.batch_size=$1" "$(optim_override "$2")"
          --warmup 5 --intervals 5 --steps "$steps")

    line=$(run_result env OMP_NUM_THREADS=2 "$DTRAIN" "${args[@]}")
    rate=$(field samples_per_s "$line")
    log "dtrain batch $1 $2 1 rank x 2 threads, $steps steps:" \
        "${rate:+$rate samples/s}${rate:-failed}"
    if better "$rate" "$best"; then
        best=$rate best_gf=$(field gflops "$line") best_name="1 rank x 2 threads"
    fi

    line=$(run_result env OMP_NUM_THREADS=1 "${MPI[@]}" "$DTRAIN" "${args[@]}")
    rate=$(field samples_per_s "$line")
    log "dtrain batch $1 $2 2 ranks x 1 thread, $steps steps:" \
        "${rate:+$rate samples/s}${rate:-failed}"
    if better "$rate" "$best"; then
        best=$rate best_gf=$(field gflops "$line") best_name="2 ranks x 1 thread"
    fi
    echo "$best|$best_gf|$best_name"
}

# sgemm_gflops B: OpenBLAS SGEMM's GFLOP/s on the layer shapes at batch B, or
# empty if this dtrain has no --sgemm.
sgemm_gflops() {
    local out
    # The GEMMs of the linear layers bound only a model made of them.
    [ "$MODEL" = mlp ] || return 0
    out=$(env OMP_NUM_THREADS=2 "$DTRAIN" bench "$CONFIG" "train.batch_size=$1" --sgemm 2>&1) ||
        { log "dtrain bench --sgemm unavailable or failed; SGEMM shown as n/a"; return 0; }
    field gflops "$(grep '^sgemm:' <<<"$out" | tail -n 1)"
}

# fmt X DIGITS: X rounded, or n/a if empty.
fmt() { if [ -n "$1" ]; then printf "%.${2}f" "$1"; else echo n/a; fi; }

# ratio A B SCALE DIGITS: A / B * SCALE, or n/a if either is missing.
ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" -v s="$3" -v d="$4" 'BEGIN { printf "%.*f", d, a / b * s }'
    else echo n/a; fi
}

report_header() {
    local cpu torch_v dtrain_v
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    torch_v=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo '?')
    dtrain_v=$("$DTRAIN" --version 2>/dev/null | head -n 1 || echo '?')
    echo "$TITLE training throughput, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- host: $(hostname), $(nproc) cores, ${cpu:-unknown CPU}"
    echo "- dtrain: ${dtrain_v:-?} ($DTRAIN); PyTorch: $torch_v"
    echo "- OpenBLAS kernels (both sides): ${OPENBLAS_CORETYPE:-library default}"
    echo "- samples/s: median of 5 intervals after 5 warm-up steps; best thread setting"
    echo
    echo "| batch | optimizer | PyTorch samples/s (setting) | dtrain samples/s (layout)" \
         "| dtrain / PyTorch | dtrain GFLOP/s | SGEMM GFLOP/s | dtrain % of SGEMM |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
}

# Both sides call the same OpenBLAS. On a CPU newer than the library it
# falls back to generic kernels; dtrain then asks for the right ones
# (OPENBLAS_CORETYPE, see `dtrain --version`), and PyTorch must get the
# same kernels or the comparison measures the library's CPU table.
blas_kernels() {
    "$DTRAIN" --version 2>/dev/null | sed -n 's/^blas: .*; kernels \([A-Za-z0-9]*\).*/\1/p'
}

main() {
    [ -x "$DTRAIN" ] ||
        { log "no dtrain executable at $DTRAIN (usage: $0 [--model mlp|cnn] [DTRAIN])"; exit 2; }
    local kernels
    kernels=$(blas_kernels)
    if [ -n "$kernels" ]; then export OPENBLAS_CORETYPE=$kernels; fi
    log "OpenBLAS kernels for both sides: ${kernels:-library default}"
    command -v mpiexec >/dev/null || log "mpiexec not found; the 2-rank layout will fail"
    ensure_torch

    local table b opt sg t d t_rate t_name d_rate d_gf d_name
    table=$(report_header)
    for b in "${BATCHES[@]}"; do
        sg=$(sgemm_gflops "$b")
        log "sgemm batch $b: ${sg:-n/a} GFLOP/s"
        for opt in "${OPTIMS[@]}"; do
            t=$(torch_best "$b" "$opt")
            IFS='|' read -r t_rate t_name <<<"$t"
            d=$(dtrain_best "$b" "$opt")
            IFS='|' read -r d_rate d_gf d_name <<<"$d"
            table+=$'\n'"| $b | $opt | $(fmt "$t_rate" 0) ${t_name:+($t_name)} "
            table+="| $(fmt "$d_rate" 0) ${d_name:+($d_name)} | $(ratio "$d_rate" "$t_rate" 1 2) "
            table+="| $(fmt "$d_gf" 1) | $(fmt "$sg" 1) | $(ratio "$d_gf" "$sg" 100 0) |"
        done
    done

    echo "$table"
    if [ -n "${BENCH_OUT:-}" ]; then echo "$table" >"$BENCH_OUT"; fi
}

main
