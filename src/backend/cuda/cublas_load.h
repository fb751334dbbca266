/* cuBLAS, loaded when the CUDA backend opens instead of when the program
 * starts: mapping cuBLAS's libraries costs about 0.2 s, which every CPU run
 * of a CUDA build would otherwise pay. Only the calls the backend makes are
 * resolved; their fields carry the API's names, so checked calls read (and
 * report) as the API calls they are. */
#ifndef DT_BACKEND_CUDA_CUBLAS_LOAD_H
#define DT_BACKEND_CUDA_CUBLAS_LOAD_H

#include <cublas_v2.h>

typedef struct dt_cublas_api {
    cublasStatus_t (*cublasCreate)(cublasHandle_t *handle);
    cublasStatus_t (*cublasSetStream)(cublasHandle_t handle, cudaStream_t stream);
    cublasStatus_t (*cublasSetMathMode)(cublasHandle_t handle, cublasMath_t mode);
    cublasStatus_t (*cublasSgemm)(cublasHandle_t handle, cublasOperation_t ta,
                                  cublasOperation_t tb, int m, int n, int k, const float *alpha,
                                  const float *a, int lda, const float *b, int ldb,
                                  const float *beta, float *c, int ldc);
} dt_cublas_api;

/* Load cuBLAS once (by its soname, then from the toolkit found at build
 * time). NULL on failure, with the reason and a hint in why. */
const dt_cublas_api *dt_cublas_load(char *why, int cap);

#endif
