/* The CPU kernels of the convolutional layers (cpu_conv.c), named so that
 * cpu.c can list them in its ops table with one macro. */
#ifndef DT_BACKEND_CPU_CPU_CONV_H
#define DT_BACKEND_CPU_CPU_CONV_H

#include "backend/backend.h"

int64_t dt_cpu_conv2d_workspace(const dt_conv_geom *g);
void dt_cpu_conv2d_forward(const dt_conv_geom *g, int64_t n, const float *x, const float *w,
                               const float *bias, float *y, float beta, float *work);
void dt_cpu_conv2d_backward_data(const dt_conv_geom *g, int64_t n, const float *dy,
                                     const float *w, float *dx, float *work);
void dt_cpu_conv2d_backward_filter(const dt_conv_geom *g, int64_t n, const float *x,
                                       const float *dy, float *dw, float *db, float beta,
                                       float *work);
void dt_cpu_channel_bias_add(float *y, const float *b, int64_t n, int64_t c, int64_t hw);
void dt_cpu_channel_sum(float *db, const float *dy, int64_t n, int64_t c, int64_t hw,
                            float beta);
void dt_cpu_pool2d_forward(const dt_pool_geom *g, int64_t n, const float *x, float *y,
                               int32_t *arg);
void dt_cpu_pool2d_backward(const dt_pool_geom *g, int64_t n, const float *dy,
                                const int32_t *arg, float *dx);
void dt_cpu_batchnorm_stats(const float *x, int64_t n, int64_t c, int64_t hw, float *mean,
                                float *var);
void dt_cpu_batchnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                                  const float *mean, const float *var, float eps,
                                  const float *gamma, const float *beta, float *rstd);
void dt_cpu_batchnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                   int64_t c, int64_t hw, const float *mean, const float *rstd,
                                   const float *gamma, float *dgamma, float *dbeta, float beta,
                                   int batch_stats);
void dt_cpu_groupnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                                  int64_t groups, float eps, const float *gamma,
                                  const float *beta, int per_elem, float *stats);
void dt_cpu_groupnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                   int64_t c, int64_t hw, int64_t groups, const float *gamma,
                                   int per_elem, const float *stats, float *dgamma,
                                   float *dbeta, float beta);
void dt_cpu_lrn_forward(const float *x, float *y, float *d, int64_t n, int64_t c, int64_t hw,
                            int64_t size, float alpha, float beta, float k);
void dt_cpu_lrn_backward(const float *x, const float *d, const float *dy, float *dx,
                             int64_t n, int64_t c, int64_t hw, int64_t size, float alpha,
                             float beta);
void dt_cpu_upsample_forward(int bilinear, const float *x, float *y, int64_t planes,
                                 int64_t h, int64_t w, int64_t oh, int64_t ow);
void dt_cpu_upsample_backward(int bilinear, const float *dy, float *dx, int64_t planes,
                                  int64_t h, int64_t w, int64_t oh, int64_t ow);
dt_loss_sums dt_cpu_cross_entropy_pixels(const float *logits, const float *labels,
                                             int64_t rows, int64_t classes, int64_t hw,
                                             float smoothing, float scale, float *dx,
                                             int64_t *confusion);

#define DT_CPU_CONV_OPS \
    .conv2d_workspace = dt_cpu_conv2d_workspace, \
    .conv2d_forward = dt_cpu_conv2d_forward, \
    .conv2d_backward_data = dt_cpu_conv2d_backward_data, \
    .conv2d_backward_filter = dt_cpu_conv2d_backward_filter, \
    .channel_bias_add = dt_cpu_channel_bias_add, \
    .channel_sum = dt_cpu_channel_sum, \
    .pool2d_forward = dt_cpu_pool2d_forward, \
    .pool2d_backward = dt_cpu_pool2d_backward, \
    .batchnorm_stats = dt_cpu_batchnorm_stats, \
    .batchnorm_forward = dt_cpu_batchnorm_forward, \
    .batchnorm_backward = dt_cpu_batchnorm_backward, \
    .groupnorm_forward = dt_cpu_groupnorm_forward, \
    .groupnorm_backward = dt_cpu_groupnorm_backward, \
    .lrn_forward = dt_cpu_lrn_forward, \
    .lrn_backward = dt_cpu_lrn_backward, \
    .upsample_forward = dt_cpu_upsample_forward, \
    .upsample_backward = dt_cpu_upsample_backward, \
    .cross_entropy_pixels = dt_cpu_cross_entropy_pixels

#endif
