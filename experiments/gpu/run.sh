#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build dtrain with CUDA, run the GPU tests
# and the GPU benchmark, and write a short table.
#
# usage: experiments/gpu/run.sh [OUT_DIR]       (default: experiments/gpu/results)
#
# 1. Build into build-gpu/ (-DDT_CUDA=ON, architectures $DT_CUDA_ARCHITECTURES,
#    default 90). If build-gpu/ already holds the executables (a bundle made
#    by experiments/gpu/bundle.sh on a machine with the build dependencies,
#    carried here with build-gpu/lib holding the shared libraries they
#    need), it is used as it is: the GPU machine then needs neither MPI's nor
#    HDF5's development files.
# 2. Tests: the gpu-labelled tests (every op against the CPU, a training run
#    against the CPU, and, where mpiexec works, NCCL and the reducer with one
#    rank per GPU). Exit code 77 of a test means skipped.
# 3. Benchmark: `dtrain bench` on the MLP of experiments/bench/mlp.yaml with
#    runtime.device=cuda, batch 64/256/1024 x SGD-momentum/Adam; the same
#    steps in PyTorch on the GPU where python3 has torch with CUDA, and the
#    ratio.
# The table (Markdown) goes to OUT_DIR/gpu-results.md and stdout; logs to
# OUT_DIR/*.log.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$here/results}
mkdir -p "$out"
cd "$root"
build=build-gpu
table=$out/gpu-results.md
: >"$table"
say() { echo "$*" | tee -a "$table"; }

# Libraries carried with a bundle, and NCCL from wherever this machine has it
# (the toolkit, or the nvidia-nccl Python wheel next to PyTorch).
export LD_LIBRARY_PATH=$root/$build/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nccl=$(find /usr/local/cuda* /usr/lib /opt -name 'libnccl.so.2' 2>/dev/null | head -n1)
[ -n "$nccl" ] && export LD_LIBRARY_PATH=$(dirname "$nccl"):$LD_LIBRARY_PATH
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  2>/dev/null | head -n1)
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
say "# dtrain on GPU: $(date -u +%Y-%m-%dT%H:%MZ)"
say ""
say "GPU: ${gpu_name:-none found} ($gpus visible)"

# ---- 1. build ----
# NCCL is not part of every toolkit: take nccl.h from wherever it is (the
# toolkit, or PyTorch's nvidia-nccl wheel); without it, build without NCCL.
if [ ! -x $build/dtrain ] || [ ! -x $build/tests/test_gpu_ops ]; then
  echo "building into $build/ ..." >&2
  h=$(find /usr/local/cuda*/include /usr/include /opt /usr/lib/python3* /usr/local/lib/python3* \
    -name nccl.h 2>/dev/null | head -n1)
  [ -n "$h" ] && export NCCL_HOME=$(dirname "$(dirname "$h")")
  cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release -DDT_CUDA=ON -DDT_NCCL=AUTO \
    -DDT_CUDA_ARCHITECTURES="${DT_CUDA_ARCHITECTURES:-90}" -DDT_GPU_TEST_RANKS="${gpus:-1}" \
    >"$out/configure.log" 2>&1 &&
    cmake --build $build -j"$(nproc)" >"$out/build.log" 2>&1 ||
    { say "build failed: see $out/configure.log, $out/build.log"; exit 1; }
fi
say "$($build/dtrain --version 2>&1 | tr '\n' ';')"
say ""

# ---- 2. tests ----
say "| test | result | seconds |"
say "| --- | --- | --- |"
failed=0
run_test() { # name, command...
  local name=$1 t0 rc
  shift
  t0=$(date +%s.%N)
  "$@" >"$out/$name.log" 2>&1
  rc=$?
  local dt
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  case $rc in
    0) say "| $name | passed | $dt |" ;;
    77) say "| $name | skipped ($(grep -m1 '^skipped' "$out/$name.log")) | $dt |" ;;
    *) say "| $name | FAILED (exit $rc, see $name.log) | $dt |"; failed=1 ;;
  esac
}
run_test test_gpu_ops $build/tests/test_gpu_ops
run_test test_gpu_train $build/tests/test_gpu_train
if command -v mpiexec >/dev/null && ! ldd $build/tests/test_gpu_nccl | grep -q 'not found'; then
  run_test test_gpu_nccl mpiexec -n "${gpus:-1}" --allow-run-as-root --oversubscribe \
    $build/tests/test_gpu_nccl
else
  say "| test_gpu_nccl | not run: no mpiexec or MPI libraries here | - |"
fi
say ""

# ---- 3. benchmark ----
if ldd $build/dtrain | grep -q 'not found'; then
  say "dtrain bench not run: $(ldd $build/dtrain | grep 'not found' | tr -s ' \t\n' ' ')"
  exit $failed
fi
torch_ok=0
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null &&
  torch_ok=1
say "MLP 784-512-256-10, one rank on one GPU, samples/s (median of 5 intervals):"
say ""
say "| batch | optimizer | dtrain cuda | GFLOP/s | PyTorch cuda | dtrain / PyTorch |"
say "| --- | --- | --- | --- | --- | --- |"
for batch in 64 256 1024; do
  for optim in sgd adam; do
    extra="optim={kind: sgd, lr: 0.01, momentum: 0.9}"
    [ $optim = adam ] && extra="optim={kind: adam, lr: 0.001}"
    log=$out/bench-$batch-$optim.log
    $build/dtrain bench experiments/bench/mlp.yaml --steps 200 runtime.device=cuda \
      train.batch_size=$batch "$extra" >"$log" 2>&1
    d=$(sed -n 's/^result: samples_per_s=\([0-9.]*\) gflops=\([0-9.]*\).*/\1 \2/p' "$log")
    set -- ${d:-failed -}
    ds=$1 gf=$2
    [ "$ds" = failed ] && failed=1
    ts=-
    ratio=-
    if [ $torch_ok = 1 ]; then
      ts=$(python3 "$here/torch_mlp_cuda.py" --batch $batch --optim $optim 2>>"$log" |
        sed -n 's/^result: samples_per_s=\([0-9.]*\).*/\1/p')
      [ -n "$ts" ] && [ "$ds" != failed ] &&
        ratio=$(awk -v a="$ds" -v b="$ts" 'BEGIN { printf "%.2f", a / b }')
    fi
    say "| $batch | $optim | $ds | $gf | ${ts:--} | $ratio |"
  done
done
exit $failed
