/* The launchers of the CUDA kernels (kernels.cu), callable from C.
 *
 * Each enqueues its kernels on `st` and returns at once; launch errors are
 * recorded through cuda_check.h. Pointers are device memory unless marked
 * host. The semantics are those of the op of the same name in
 * backend/backend.h; where a result goes back to the host, the launcher
 * writes it to device memory and the caller copies it. */
#ifndef DT_BACKEND_CUDA_KERNELS_H
#define DT_BACKEND_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "backend/backend.h"

void dt_cuk_fill(cudaStream_t st, float *x, float v, int64_t n);
void dt_cuk_add_bias(cudaStream_t st, float *y, const float *bias, int64_t rows, int64_t cols);
void dt_cuk_sum_rows(cudaStream_t st, float *out, const float *x, int64_t rows, int64_t cols,
                     float beta);
void dt_cuk_axpy(cudaStream_t st, float *y, const float *x, float a, int64_t n);
void dt_cuk_scale(cudaStream_t st, float *x, float a, int64_t n);

/* Blocks the two-pass reductions use for n elements, and the partials
 * buffer (doubles) they need. */
int dt_cuk_reduce_blocks(int64_t n);
/* out[0] = sum of x^2 in double; partial holds dt_cuk_reduce_blocks(n). */
void dt_cuk_sumsq(cudaStream_t st, const float *x, int64_t n, double *partial, double *out);
/* *flag |= 1 if any element is not finite (flag zeroed by the caller). */
void dt_cuk_nonfinite(cudaStream_t st, const float *x, int64_t n, int *flag);

void dt_cuk_act_forward(cudaStream_t st, dt_act act, float alpha, const float *x, float *y,
                        int64_t n);
void dt_cuk_act_backward(cudaStream_t st, dt_act act, float alpha, const float *x,
                         const float *y, const float *dy, float *dx, int64_t n);
void dt_cuk_softmax_forward(cudaStream_t st, const float *x, float *y, int64_t rows,
                            int64_t cols);
void dt_cuk_softmax_backward(cudaStream_t st, const float *y, const float *dy, float *dx,
                             int64_t rows, int64_t cols);

/* index: device copy of the rows' global sample indices. */
void dt_cuk_dropout(cudaStream_t st, const float *x, float *y, float *mask, int64_t rows,
                    int64_t cols, const int64_t *index, dt_rng rng, float p);
void dt_cuk_mul_add(cudaStream_t st, float *dx, const float *dy, const float *mask, int64_t n);

/* Losses: per-row loss (double) and correct flag into row_loss/row_ok,
 * then sums[0] = total loss, sums[1] = correct rows. */
void dt_cuk_cross_entropy(cudaStream_t st, const float *logits, const float *labels,
                          int64_t rows, int64_t classes, float smoothing, float scale,
                          float *dx, double *row_loss, double *row_ok, double *sums);
void dt_cuk_mse(cudaStream_t st, const float *pred, const float *target, int64_t rows,
                int64_t dim, float scale, float *dx, double *row_loss, double *row_ok,
                double *sums);
void dt_cuk_gaussian_nll(cudaStream_t st, const float *pred, const float *target, int64_t rows,
                         int64_t dim, float scale, float *dx, double *row_loss,
                         double *row_ok, double *sums);

/* Optimizer steps; the scalars are those of the CPU loops (see cpu.c). */
void dt_cuk_sgd_plain(cudaStream_t st, float *p, const float *g, int64_t n, float lr, float wd);
void dt_cuk_sgd_momentum(cudaStream_t st, float *p, const float *g, float *v, int64_t n,
                         float lr, float wd, float mom, float carry, float take,
                         float nesterov);
void dt_cuk_adam(cudaStream_t st, float *p, const float *g, float *m, float *v, int64_t n,
                 float b1, float b2, float eps, float step_size, float inv_sqrt_bc2,
                 float decay, float l2);

#ifdef __cplusplus
}
#endif

#endif
