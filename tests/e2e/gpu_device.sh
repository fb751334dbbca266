#!/usr/bin/env bash
# runtime.device and runtime.gpu: a bad value names the key; asking for a
# GPU where none is visible (or in a build without CUDA) fails on every rank
# with a message saying why, never a crash or a hang; more ranks on a node
# than GPUs is refused. Where a GPU is present, one rank benchmarks on it.
# No data needed: `dtrain bench` takes the shapes from the config.
source "$(dirname "$0")/common.bash"
export DT_E2E_TIMEOUT=60
work=$(mktemp -d e2e-gpu.XXXX)
cfg="$SRC/experiments/bench/mlp.yaml"
quick=(--steps 2 --warmup 1 --intervals 1)


expect_fail "runtime.device.*expected one of 'cpu', 'cuda'.*'gpu'" \
  mpi 1 bench "$cfg" "${quick[@]}" runtime.device=gpu
expect_fail "runtime.gpu" mpi 1 bench "$cfg" "${quick[@]}" runtime.device=cpu runtime.gpu=-5

"$DTRAIN" --version | tee "$work/version"
grep -q "^backends: cpu" "$work/version" || fail "--version lists no backends"
grep -q "^communicators: MPI" "$work/version" || fail "--version lists no communicators"

gpus=$(nvidia-smi -L 2>/dev/null | wc -l || true)
if [ "${gpus:-0}" -eq 0 ]; then
  expect_fail "no CUDA GPU is visible|built without CUDA" \
    mpi 2 bench "$cfg" "${quick[@]}" runtime.device=cuda
  expect_fail "no CUDA GPU is visible|built without CUDA" \
    mpi 1 bench "$cfg" "${quick[@]}" runtime.device=cuda runtime.gpu=0
else
  grep -q "cuda" "$work/version" || { echo "a GPU but no CUDA backend built"; exit 77; }
  expect_fail "$((gpus + 1)) ranks on this node but $gpus GPU" \
    mpi $((gpus + 1)) bench "$cfg" "${quick[@]}" runtime.device=cuda
  mpi 1 bench "$cfg" "${quick[@]}" runtime.device=cuda | tee "$work/out"
  grep -q "^result: samples_per_s=" "$work/out" || fail "no result from the GPU bench"
fi
rm -rf "$work"
