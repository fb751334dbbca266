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

/* Losses: per-row loss (double) and correct flags into row_loss, row_ok
 * (and row_ok5, the top-5 flags), then sums[0] = total loss, sums[1] =
 * correct rows, sums[2] = top-5 rows (0 for mse and gaussian_nll). */
void dt_cuk_cross_entropy(cudaStream_t st, const float *logits, const float *labels,
                          int64_t rows, int64_t classes, float smoothing, float scale,
                          float *dx, double *row_loss, double *row_ok, double *row_ok5,
                          double *sums);
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

/* AMSGrad, Adagrad, Adadelta, RMSprop (buf, gavg may be NULL) and LAMB's
 * direction; the scalars as cpu/cpu_optim.c derives them. */
void dt_cuk_amsgrad(cudaStream_t st, float *p, const float *g, float *m, float *v, float *vmax,
                    int64_t n, float b1, float b2, float eps, float step_size,
                    float inv_sqrt_bc2, float decay, float l2);
void dt_cuk_adagrad(cudaStream_t st, float *p, const float *g, float *sum, int64_t n, float lr,
                    float eps, float wd);
void dt_cuk_adadelta(cudaStream_t st, float *p, const float *g, float *sq, float *acc,
                     int64_t n, float lr, float rho, float eps, float wd);
void dt_cuk_rmsprop(cudaStream_t st, float *p, const float *g, float *sq, float *buf,
                    float *gavg, int64_t n, float lr, float alpha, float eps, float wd,
                    float mu);
void dt_cuk_lamb_direction(cudaStream_t st, const float *p, const float *g, float *m, float *v,
                           float *u, int64_t n, float b1, float b2, float eps, float wd,
                           float inv_bc1, float inv_bc2);

/* ---- kernels_conv.cu ---- */

/* Convolution around the GEMMs: samples [s0, s0 + ns) of x unfolded into
 * col (c*kh*kw, ns*oh*ow); the fold of col added into dx; and the copy
 * between NCHW y (.., oc, ohw) and the block (oc, ns*ohw): to_block copies
 * y into blk, else y = beta y + blk (beta 0: overwrite). */
void dt_cuk_im2col(cudaStream_t st, const dt_conv_geom *g, const float *x, int64_t s0,
                   int64_t ns, float *col);
void dt_cuk_col2im(cudaStream_t st, const dt_conv_geom *g, const float *col, int64_t s0,
                   int64_t ns, float *dx);
void dt_cuk_conv_shuffle(cudaStream_t st, float *y, int64_t oc, int64_t ohw, int64_t s0,
                         int64_t ns, float *blk, int to_block, float beta);
void dt_cuk_channel_bias_add(cudaStream_t st, float *y, const float *b, int64_t n, int64_t c,
                             int64_t hw);
void dt_cuk_channel_sum(cudaStream_t st, float *db, const float *dy, int64_t n, int64_t c,
                        int64_t hw, float beta);
void dt_cuk_pool_forward(cudaStream_t st, const dt_pool_geom *g, int64_t n, const float *x,
                         float *y, int32_t *arg);
void dt_cuk_pool_backward(cudaStream_t st, const dt_pool_geom *g, int64_t n, const float *dy,
                          const int32_t *arg, float *dx);
void dt_cuk_bn_stats(cudaStream_t st, const float *x, int64_t n, int64_t c, int64_t hw,
                     float *mean, float *var);
void dt_cuk_bn_forward(cudaStream_t st, const float *x, float *y, int64_t n, int64_t c,
                       int64_t hw, const float *mean, const float *var, float eps,
                       const float *gamma, const float *beta, float *rstd);
void dt_cuk_bn_backward(cudaStream_t st, const float *x, const float *dy, float *dx, int64_t n,
                        int64_t c, int64_t hw, const float *mean, const float *rstd,
                        const float *gamma, float *dgamma, float *dbeta, float beta,
                        int batch_stats);
void dt_cuk_gn_forward(cudaStream_t st, const float *x, float *y, int64_t n, int64_t c,
                       int64_t hw, int64_t groups, float eps, const float *gamma,
                       const float *beta, int per_elem, float *stats);
void dt_cuk_gn_backward(cudaStream_t st, const float *x, const float *dy, float *dx, int64_t n,
                        int64_t c, int64_t hw, int64_t groups, const float *gamma,
                        int per_elem, const float *stats, float *dgamma, float *dbeta,
                        float beta);
void dt_cuk_lrn_forward(cudaStream_t st, const float *x, float *y, float *d, int64_t n,
                        int64_t c, int64_t hw, int64_t size, float alpha, float beta, float k);
void dt_cuk_lrn_backward(cudaStream_t st, const float *x, const float *d, const float *dy,
                         float *dx, int64_t n, int64_t c, int64_t hw, int64_t size,
                         float alpha, float beta);
void dt_cuk_upsample_forward(cudaStream_t st, int bilinear, const float *x, float *y,
                             int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow);
void dt_cuk_upsample_backward(cudaStream_t st, int bilinear, const float *dy, float *dx,
                              int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow);
/* Per-pixel cross-entropy; work holds 2 (rows*hw + rows) doubles;
 * confusion (device, classes x classes int64, may be NULL) is added to;
 * sums[0..2] = loss, correct pixels, 0. */
void dt_cuk_ce_pixels(cudaStream_t st, const float *logits, const float *labels, int64_t rows,
                      int64_t classes, int64_t hw, float smoothing, float scale, float *dx,
                      double *work, int64_t *confusion, double *sums);

/* ---- kernels_seq.cu ---- */

/* One step of a recurrent cell (backward 0: forward). */
void dt_cuk_cell(cudaStream_t st, const dt_cell_step *s, int backward);
/* rows_copy (add 0) and rows_add (add 1). */
void dt_cuk_rows(cudaStream_t st, float *dst, int64_t ldd, const float *src, int64_t lds,
                 int64_t rows, int64_t cols, const float *mask, int64_t ld_mask, int add);
void dt_cuk_seq_mask(cudaStream_t st, const float *lengths, int64_t rows, int64_t steps,
                     float *mask);
void dt_cuk_seq_lengths(cudaStream_t st, const float *ids, int64_t rows, int64_t steps,
                        float pad, float *lengths);
/* *bad (device int64, zeroed by the caller) += ids out of range. */
void dt_cuk_embed_forward(cudaStream_t st, const float *ids, int64_t n, const float *table,
                          int64_t vocab, int64_t dim, float *out, int64_t *bad);
void dt_cuk_embed_backward(cudaStream_t st, const float *ids, int64_t n, const float *dout,
                           int64_t vocab, int64_t dim, float *dtable);

/* ---- kernels_attn.cu ---- */

/* Attention blocks per chunk for sequences of `steps`: the workspace holds
 * three (steps, steps) tiles per block of a chunk. */
int64_t dt_cuk_attn_chunk_blocks(int64_t steps);
/* Attention forward (backward 0) or backward over every block of a;
 * dindex: device copy of a->index (when a->dropout > 0). */
void dt_cuk_attention(cudaStream_t st, const dt_attn_args *a, const int64_t *dindex,
                      int backward);
void dt_cuk_token_segments(cudaStream_t st, const float *ids, int64_t rows, int64_t steps,
                           float sep, float *seg);
/* Per-token cross-entropy; row_buffers: 3 x rows doubles; sums[0..2] =
 * loss over target rows, correct target rows, target rows. */
void dt_cuk_token_cross_entropy(cudaStream_t st, const float *logits, const float *labels,
                                int64_t rows, int64_t classes, float smoothing, float scale,
                                float *dx, double *row_buffers, double *sums);

#ifdef __cplusplus
}
#endif

#endif
