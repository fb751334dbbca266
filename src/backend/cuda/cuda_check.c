/* The first-failure record of the CUDA backend and the hints that go with
 * the errors users can do something about. */
#include "backend/cuda/cuda_check.h"

#include <stdio.h>

static char g_failure[1536];
static int g_failed;

int dt_cuda_record(const char *lib, const char *call, const char *file, int line,
                   const char *what, const char *hint)
{
    if (g_failed) return 0;
    g_failed = 1;
    int dev = -1;
    cudaGetDevice(&dev);
    char tail[600] = "";
    if (hint && hint[0]) snprintf(tail, sizeof tail, " (hint: %s)", hint);
    snprintf(g_failure, sizeof g_failure, "%s call %s failed at %s:%d on GPU %d: %s%s", lib,
             call, file, line, dev, what, tail);
    fprintf(stderr, "dtrain: %s\n", g_failure);
    return 0;
}

int dt_cuda_failed(void) { return g_failed; }

const char *dt_cuda_failure(void) { return g_failure; }

static const char *rt_hint(cudaError_t e)
{
    switch (e) {
    case cudaErrorMemoryAllocation:
        return "the model, its activations or the batch do not fit in GPU memory: lower "
               "train.batch_size (or train.micro_batch with accumulation)";
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
        return "no usable GPU or driver: check nvidia-smi, or set runtime.device=cpu";
    case cudaErrorInvalidDevice:
        return "runtime.gpu names a device that is not visible (see CUDA_VISIBLE_DEVICES)";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
        return "this build has no code for this GPU: reconfigure with "
               "-DDT_CUDA_ARCHITECTURES=<its compute capability, e.g. 90 or 100>";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorMisalignedAddress:
        return "a kernel faulted, which is a bug in dtrain: rerun under compute-sanitizer "
               "with CUDA_LAUNCH_BLOCKING=1 to find the op";
    default: return "";
    }
}

int dt_cuda_check_rt(cudaError_t e, const char *call, const char *file, int line)
{
    if (e == cudaSuccess) return 1;
    char what[256];
    snprintf(what, sizeof what, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    return dt_cuda_record("CUDA", call, file, line, what, rt_hint(e));
}

/* cuBLAS's status names, here because cuBLAS itself is loaded late. */
static const char *blas_status_name(cublasStatus_t e)
{
    switch (e) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
    }
}

int dt_cuda_check_blas(cublasStatus_t e, const char *call, const char *file, int line)
{
    if (e == CUBLAS_STATUS_SUCCESS) return 1;
    const char *hint = e == CUBLAS_STATUS_ALLOC_FAILED || e == CUBLAS_STATUS_NOT_INITIALIZED
                           ? "cuBLAS could not get GPU memory or a context: lower "
                             "train.batch_size or check the GPU with nvidia-smi"
                       : e == CUBLAS_STATUS_INVALID_VALUE
                           ? "a matrix shape or leading dimension is invalid: a bug in dtrain"
                           : "";
    return dt_cuda_record("cuBLAS", call, file, line, blas_status_name(e), hint);
}
