/* Checked calls into the CUDA runtime and cuBLAS, for the C and the CUDA
 * files of the backend alike.
 *
 * Backend ops return nothing, so a failed call is recorded, not returned:
 * the FIRST failure's message (call, file:line, the library's error string
 * and a hint) is kept, every later op does nothing, and the next sync()
 * returns DT_ERR_BACKEND with that message. After a failure the device's
 * results are meaningless, so nothing tries to carry on. */
#ifndef DT_BACKEND_CUDA_CUDA_CHECK_H
#define DT_BACKEND_CUDA_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Record a failure (only the first is kept). Returns 0. */
int dt_cuda_record(const char *lib, const char *call, const char *file, int line,
                   const char *what, const char *hint);
/* 1 once any call has failed. */
int dt_cuda_failed(void);
/* The recorded message ("" if none). */
const char *dt_cuda_failure(void);

/* 1 on success; else records the failure and returns 0. */
int dt_cuda_check_rt(cudaError_t e, const char *call, const char *file, int line);
int dt_cuda_check_blas(cublasStatus_t e, const char *call, const char *file, int line);

#ifdef __cplusplus
}
#endif

#define DT_CUDA_CHECK(call) dt_cuda_check_rt((call), #call, __FILE__, __LINE__)
#define DT_CUBLAS_CHECK(call) dt_cuda_check_blas((call), #call, __FILE__, __LINE__)
/* After a kernel launch: launch-configuration errors show up here at once,
 * faults inside the kernel at the next synchronizing call. */
#define DT_CUDA_LAUNCHED(name) dt_cuda_check_rt(cudaGetLastError(), name, __FILE__, __LINE__)

#endif
