/* Internal to the CUDA backend: what cuda_backend.c shares with the files
 * that hold the rest of its ops (cuda_conv.c, cuda_seq.c), and the names of
 * those ops, listed into the table with one macro per file. */
#ifndef DT_BACKEND_CUDA_CUDA_OPS_H
#define DT_BACKEND_CUDA_CUDA_OPS_H

#include <cuda_runtime_api.h>

#include "backend/backend.h"

/* The compute stream every op queues on. */
cudaStream_t dt_cuda_compute_stream(void);
/* Device scratch of at least `bytes` (grown on demand, shared by the ops,
 * valid until the next call), or NULL after a failure. */
void *dt_cuda_scratch(size_t bytes);
/* Row-major C(m,n) = alpha op(A) op(B) + beta C through cuBLAS. */
void dt_cuda_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* Device buffer of 3 doubles the loss kernels sum into, and the sums
 * copied back to the host (waits for the stream). */
double *dt_cuda_loss_sums(void);
dt_loss_sums dt_cuda_finish_loss(void);
/* Copy n int64 counts back to the host (waits for the stream); 0 after a
 * failure. */
int dt_cuda_counts_to_host(int64_t *host, const int64_t *dev, int64_t n);

/* cuda_conv.c */
int64_t dt_cuda_conv2d_workspace(const dt_conv_geom *g);
void dt_cuda_conv2d_forward(const dt_conv_geom *g, int64_t n, const float *x, const float *w,
                            const float *bias, float *y, float beta, float *work);
void dt_cuda_conv2d_backward_data(const dt_conv_geom *g, int64_t n, const float *dy,
                                  const float *w, float *dx, float *work);
void dt_cuda_conv2d_backward_filter(const dt_conv_geom *g, int64_t n, const float *x,
                                    const float *dy, float *dw, float *db, float beta,
                                    float *work);
void dt_cuda_channel_bias_add(float *y, const float *b, int64_t n, int64_t c, int64_t hw);
void dt_cuda_channel_sum(float *db, const float *dy, int64_t n, int64_t c, int64_t hw,
                         float beta);
void dt_cuda_pool2d_forward(const dt_pool_geom *g, int64_t n, const float *x, float *y,
                            int32_t *arg);
void dt_cuda_pool2d_backward(const dt_pool_geom *g, int64_t n, const float *dy,
                             const int32_t *arg, float *dx);
void dt_cuda_batchnorm_stats(const float *x, int64_t n, int64_t c, int64_t hw, float *mean,
                             float *var);
void dt_cuda_batchnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                               const float *mean, const float *var, float eps,
                               const float *gamma, const float *beta, float *rstd);
void dt_cuda_batchnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                int64_t c, int64_t hw, const float *mean, const float *rstd,
                                const float *gamma, float *dgamma, float *dbeta, float beta,
                                int batch_stats);
void dt_cuda_groupnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                               int64_t groups, float eps, const float *gamma,
                               const float *beta, int per_elem, float *stats);
void dt_cuda_groupnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                int64_t c, int64_t hw, int64_t groups, const float *gamma,
                                int per_elem, const float *stats, float *dgamma, float *dbeta,
                                float beta);
void dt_cuda_lrn_forward(const float *x, float *y, float *d, int64_t n, int64_t c, int64_t hw,
                         int64_t size, float alpha, float beta, float k);
void dt_cuda_lrn_backward(const float *x, const float *d, const float *dy, float *dx,
                          int64_t n, int64_t c, int64_t hw, int64_t size, float alpha,
                          float beta);
void dt_cuda_upsample_forward(int bilinear, const float *x, float *y, int64_t planes,
                              int64_t h, int64_t w, int64_t oh, int64_t ow);
void dt_cuda_upsample_backward(int bilinear, const float *dy, float *dx, int64_t planes,
                               int64_t h, int64_t w, int64_t oh, int64_t ow);
dt_loss_sums dt_cuda_cross_entropy_pixels(const float *logits, const float *labels,
                                          int64_t rows, int64_t classes, int64_t hw,
                                          float smoothing, float scale, float *dx,
                                          int64_t *confusion);

#define DT_CUDA_CONV_OPS \
    .conv2d_workspace = dt_cuda_conv2d_workspace, \
    .conv2d_forward = dt_cuda_conv2d_forward, \
    .conv2d_backward_data = dt_cuda_conv2d_backward_data, \
    .conv2d_backward_filter = dt_cuda_conv2d_backward_filter, \
    .channel_bias_add = dt_cuda_channel_bias_add, \
    .channel_sum = dt_cuda_channel_sum, \
    .pool2d_forward = dt_cuda_pool2d_forward, \
    .pool2d_backward = dt_cuda_pool2d_backward, \
    .batchnorm_stats = dt_cuda_batchnorm_stats, \
    .batchnorm_forward = dt_cuda_batchnorm_forward, \
    .batchnorm_backward = dt_cuda_batchnorm_backward, \
    .groupnorm_forward = dt_cuda_groupnorm_forward, \
    .groupnorm_backward = dt_cuda_groupnorm_backward, \
    .lrn_forward = dt_cuda_lrn_forward, \
    .lrn_backward = dt_cuda_lrn_backward, \
    .upsample_forward = dt_cuda_upsample_forward, \
    .upsample_backward = dt_cuda_upsample_backward, \
    .cross_entropy_pixels = dt_cuda_cross_entropy_pixels

/* cuda_seq.c (sequences and transformers) */
void dt_cuda_cell_forward(const dt_cell_step *s);
void dt_cuda_cell_backward(const dt_cell_step *s);
void dt_cuda_rows_copy(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                       int64_t cols, const float *mask, int64_t ld_mask);
void dt_cuda_rows_add(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                      int64_t cols, const float *mask, int64_t ld_mask);
void dt_cuda_seq_mask(const float *lengths, int64_t rows, int64_t steps, float *mask);
void dt_cuda_seq_lengths(const float *ids, int64_t rows, int64_t steps, float pad,
                         float *lengths);
int64_t dt_cuda_embed_forward(const float *ids, int64_t n, const float *table, int64_t vocab,
                              int64_t dim, float *out);
void dt_cuda_embed_backward(const float *ids, int64_t n, const float *dout, int64_t vocab,
                            int64_t dim, float *dtable);

int64_t dt_cuda_attention_workspace(int64_t steps, int64_t heads);
void dt_cuda_attention_forward(const dt_attn_args *a);
void dt_cuda_attention_backward(const dt_attn_args *a);
void dt_cuda_token_segments(const float *ids, int64_t rows, int64_t steps, float sep,
                            float *seg);
dt_loss_sums dt_cuda_token_cross_entropy(const float *logits, const float *labels,
                                         int64_t rows, int64_t classes, float smoothing,
                                         float scale, float *dx);

#define DT_CUDA_SEQ_OPS \
    .cell_forward = dt_cuda_cell_forward, \
    .cell_backward = dt_cuda_cell_backward, \
    .rows_copy = dt_cuda_rows_copy, \
    .rows_add = dt_cuda_rows_add, \
    .seq_mask = dt_cuda_seq_mask, \
    .seq_lengths = dt_cuda_seq_lengths, \
    .embed_forward = dt_cuda_embed_forward, \
    .embed_backward = dt_cuda_embed_backward, \
    .attention_workspace = dt_cuda_attention_workspace, \
    .attention_forward = dt_cuda_attention_forward, \
    .attention_backward = dt_cuda_attention_backward, \
    .token_segments = dt_cuda_token_segments, \
    .token_cross_entropy = dt_cuda_token_cross_entropy

#endif
