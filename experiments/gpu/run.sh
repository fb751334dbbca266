#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build dtrain with CUDA, run the GPU tests
# and the GPU benchmarks, and write a short table. Fits in about 8 minutes.
#
# usage: experiments/gpu/run.sh [OUT_DIR]       (default: experiments/gpu/results)
#
# 1. Build into $BUILD_DIR (default build-gpu/; -DDT_CUDA=ON, architectures
#    $DT_CUDA_ARCHITECTURES, default 90). Where MPI or HDF5 development files
#    are missing (the usual GPU host), the configure falls back to
#    -DDT_MPI=OFF: the compute library, the op and training tests and
#    gpu_bench, which is all the tests and benchmarks below need. A
#    build-gpu/ made by experiments/gpu/bundle.sh elsewhere is used as is.
# 2. Without a visible GPU it stops here, saying so (exit 0).
# 3. Tests: every op against the CPU, four trainings against the CPU, and
#    (with MPI) NCCL and the reducer with one rank per GPU.
# 4. Benchmarks (gpu_bench, one GPU, synthetic batches uploaded every step):
#    the MLP of experiments/bench/mlp.yaml (batch 64/256/1024 x SGD/Adam),
#    the course CNN experiments/cnn/mnist-cnn.yaml and the course LSTM
#    experiments/mnist-lstm.yaml (batch 64/256); samples/s, GFLOP/s (6
#    flops per multiply-add), model FLOP utilization against the GPU's FP32
#    peak ($DT_GPU_PEAK_TFLOPS, known for H100/H200/A100/L40S), and the same
#    steps in PyTorch (torch_cuda.py) where python3 has torch with CUDA.
# The table (Markdown) goes to OUT_DIR/gpu-results.md and stdout; logs to
# OUT_DIR/*.log. Exit status 1 if the build, a test or a benchmark failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$here/results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root" || exit 1
build=${BUILD_DIR:-build-gpu}
table=$out/gpu-results.md
: >"$table"
say() { echo "$*" | tee -a "$table"; }
t_start=$(date +%s)
elapsed() { echo $(($(date +%s) - t_start)); }

# Libraries carried with a bundle, and NCCL from wherever this machine has it
# (the toolkit, or the nvidia-nccl Python wheel next to PyTorch).
export LD_LIBRARY_PATH=$root/$build/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nccl=$(find /usr/local/cuda* /usr/lib /opt -name 'libnccl.so.2' 2>/dev/null | head -n1)
[ -n "$nccl" ] && export LD_LIBRARY_PATH=$(dirname "$nccl"):$LD_LIBRARY_PATH
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  2>/dev/null | head -n1)
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
say "# dtrain on GPU: $(date -u +%Y-%m-%dT%H:%MZ)"
say ""
say "GPU: ${gpu_name:-none found} ($gpus visible)"

# ---- 1. build ----
configure() { # extra cmake flags...
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDT_CUDA=ON -DDT_NCCL=AUTO \
    -DDT_CUDA_ARCHITECTURES="${DT_CUDA_ARCHITECTURES:-90}" -DDT_GPU_TEST_RANKS="${gpus:-1}" \
    "$@" >>"$out/configure.log" 2>&1
}
if [ ! -x "$build/tests/test_gpu_ops" ] || [ ! -x "$build/tests/gpu_bench" ] ||
  [ -n "${REBUILD:-}" ]; then
  echo "building into $build/ ..." >&2
  : >"$out/configure.log"
  # NCCL is not part of every toolkit: take nccl.h from wherever it is (the
  # toolkit, or PyTorch's nvidia-nccl wheel); without it, build without NCCL.
  h=$(find /usr/local/cuda*/include /usr/include /opt /usr/lib/python3* \
    /usr/local/lib/python3* -name nccl.h 2>/dev/null | head -n1)
  [ -n "$h" ] && export NCCL_HOME=$(dirname "$(dirname "$h")")
  mpi=ON
  if ! configure -DDT_MPI=ON; then
    echo "configure with MPI and HDF5 failed; building the GPU tests without them" \
      >>"$out/configure.log"
    rm -f "$build/CMakeCache.txt"
    mpi=OFF
    configure -DDT_MPI=OFF || { say "configure failed: see $out/configure.log"; exit 1; }
  fi
  targets="test_gpu_ops test_gpu_train gpu_bench"
  [ $mpi = ON ] && targets="$targets dtrain test_gpu_nccl"
  # shellcheck disable=SC2086
  timeout 300 cmake --build "$build" -j"$(nproc)" --target $targets >"$out/build.log" 2>&1 ||
    { say "build failed (or over 300 s): see $out/build.log"; exit 1; }
  say "built in $(elapsed) s (DT_MPI=$mpi)"
fi
[ -x "$build/dtrain" ] && say "$("$build/dtrain" --version 2>&1 | tr '\n' ';')"
say ""

# ---- 2. a GPU? ----
if [ "${gpus:-0}" -eq 0 ]; then
  say "No NVIDIA GPU visible (nvidia-smi lists none): the build is done, tests and"
  say "benchmarks need a GPU. Nothing failed."
  "$build/tests/test_gpu_ops" >"$out/test_gpu_ops.log" 2>&1
  [ $? -eq 77 ] && say "(test_gpu_ops reports skipped, as it should without a GPU)"
  exit 0
fi

# ---- 3. tests ----
say "| test | result | seconds |"
say "| --- | --- | --- |"
failed=0
run_test() { # name, command...
  local name=$1 t0 rc dt
  shift
  t0=$(date +%s.%N)
  timeout 240 "$@" >"$out/$name.log" 2>&1
  rc=$?
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  case $rc in
    0) say "| $name | passed | $dt |" ;;
    77) say "| $name | skipped ($(grep -m1 '^skipped' "$out/$name.log")) | $dt |" ;;
    124) say "| $name | FAILED (over 240 s, see $name.log) | $dt |"; failed=1 ;;
    *) say "| $name | FAILED (exit $rc, see $name.log) | $dt |"; failed=1 ;;
  esac
}
run_test test_gpu_ops "$build/tests/test_gpu_ops"
run_test test_gpu_train "$build/tests/test_gpu_train"
if [ -x "$build/tests/test_gpu_nccl" ] && command -v mpiexec >/dev/null &&
  ! ldd "$build/tests/test_gpu_nccl" | grep -q 'not found'; then
  run_test test_gpu_nccl mpiexec -n "${gpus:-1}" --allow-run-as-root --oversubscribe \
    "$build/tests/test_gpu_nccl"
else
  say "| test_gpu_nccl | not run: no MPI build, mpiexec or MPI libraries here | - |"
fi
say ""

# ---- 4. benchmarks ----
peak=${DT_GPU_PEAK_TFLOPS:-}
if [ -z "$peak" ]; then
  case "$gpu_name" in
    *H100*|*H200*) peak=67 ;;
    *A100*) peak=19.5 ;;
    *L40S*) peak=91.6 ;;
  esac
fi
torch_ok=0
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null &&
  torch_ok=1
say "One GPU, synthetic batches, samples/s (median of 5 intervals);" \
  "MFU = GFLOP/s / FP32 peak (${peak:-unknown} TFLOP/s):"
say ""
say "| model | batch | optimizer | dtrain | GFLOP/s | MFU | PyTorch | dtrain / PyTorch |"
say "| --- | --- | --- | --- | --- | --- | --- | --- |"
bench() { # model config batch optimizer (sgd | adam | default)
  local model=$1 config=$2 batch=$3 optim=$4 log extra=() d ds gf mfu ts ratio
  log=$out/bench-$model-$batch-$optim.log
  [ "$optim" = sgd ] && extra=("optim={kind: sgd, lr: 0.01, momentum: 0.9}")
  [ "$optim" = adam ] && [ "$model" = mlp ] && extra=("optim={kind: adam, lr: 0.001}")
  timeout 60 "$build/tests/gpu_bench" "$config" --batch "$batch" "${extra[@]}" >"$log" 2>&1
  d=$(sed -n 's/^result: samples_per_s=\([0-9.]*\) gflops=\([0-9.]*\).*/\1 \2/p' "$log")
  ds=${d% *} gf=${d#* }
  [ -z "$d" ] && { ds=failed; gf=-; failed=1; }
  mfu=-
  [ -n "$peak" ] && [ "$gf" != - ] &&
    mfu=$(awk -v g="$gf" -v p="$peak" 'BEGIN { printf "%.1f%%", 100 * g / (p * 1000) }')
  ts=- ratio=-
  if [ $torch_ok = 1 ]; then
    ts=$(timeout 90 python3 "$here/torch_cuda.py" --model "$model" --batch "$batch" \
      --optim "$optim" 2>>"$log" | sed -n 's/^result: samples_per_s=\([0-9.]*\).*/\1/p')
    [ -n "$ts" ] && [ "$ds" != failed ] &&
      ratio=$(awk -v a="$ds" -v b="$ts" 'BEGIN { printf "%.2f", a / b }')
  fi
  say "| $model | $batch | $optim | $ds | $gf | $mfu | ${ts:--} | $ratio |"
}
for batch in 64 256 1024; do
  for optim in sgd adam; do bench mlp experiments/bench/mlp.yaml $batch $optim; done
done
for batch in 64 256; do
  bench cnn experiments/cnn/mnist-cnn.yaml $batch default
  bench lstm experiments/mnist-lstm.yaml $batch default
done
say ""
say "(default: the config's optimizer, Adam for the CNN and the LSTM; total $(elapsed) s)"
exit $failed
