#!/usr/bin/env bash
# Build the GPU executables on a machine that has dtrain's build dependencies
# (MPI, HDF5, OpenBLAS, libyaml, cJSON and the CUDA toolkit; no GPU needed)
# and gather what a GPU machine without those development files needs to run
# them: build-gpu/ with dtrain, tests/test_gpu_* and tests/gpu_bench, and build-gpu/lib with
# the shared libraries they load that are neither part of the C library, nor
# the GPU driver, nor the CUDA toolkit (cuBLAS and NCCL are large and are
# taken from the GPU machine's own toolkit or PyTorch wheels; run.sh finds
# them). Then carry build-gpu/ to the GPU machine and run
# experiments/gpu/run.sh there: it uses the bundle instead of building.
#
# usage: experiments/gpu/bundle.sh      (DT_CUDA_ARCHITECTURES, default 90)
#
# The MPI-free tests (test_gpu_ops, test_gpu_train) need only build-gpu/lib.
# dtrain and test_gpu_nccl call MPI_Init, which also needs Open MPI's
# run-time (mpiexec, orted and its plugins) installed on the GPU machine;
# without it run.sh reports them as not run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build=build-gpu
cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release -DDT_CUDA=ON -DDT_BUILD_TESTS=ON \
  -DDT_CUDA_ARCHITECTURES="${DT_CUDA_ARCHITECTURES:-90}" >/dev/null
cmake --build $build -j"${JOBS:-2}" --target dtrain test_gpu_ops test_gpu_train test_gpu_nccl \
  gpu_bench
mkdir -p $build/lib
# Not carried: the C library and its parts, the driver, and cuBLAS/NCCL.
skip='/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libnvidia[^/]*'
skip+='|libcublas|libcublasLt|libnccl|libstdc\+\+|libgcc_s)\.so'
for exe in $build/dtrain $build/tests/test_gpu_ops $build/tests/test_gpu_train \
  $build/tests/gpu_bench $build/tests/test_gpu_nccl; do
  ldd "$exe" | awk '/=> \//{print $3}' | grep -Ev "$skip" | while read -r lib; do
    cp -Lu "$lib" $build/lib/
  done
done
du -sh $build/lib
echo "bundle ready: carry $build/ (and the source tree) to the GPU machine, then run"
echo "  experiments/gpu/run.sh"
