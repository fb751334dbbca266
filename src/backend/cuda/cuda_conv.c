/* The CUDA backend's convolutional-network ops: convolution as im2col (or
 * col2im) plus one cuBLAS GEMM per chunk of samples and group, as the CPU
 * backend lowers it (cpu/cpu_conv.c), and the launchers of pooling,
 * normalization, upsampling and the per-pixel cross-entropy.
 *
 * A chunk of S samples is unfolded side by side into one column block
 * (c*kh*kw, S*oh*ow), multiplied by the weight into an output block
 * (oc, S*oh*ow), and copied back to NCHW. S depends on the layer only
 * (about 4M floats of columns), so the workspace is a property of the
 * layer and results do not depend on the batch size. */
#include <math.h>
#include <stdlib.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernels.h"

#define FAILED() dt_cuda_failed()
#define ST() dt_cuda_compute_stream()

static int64_t col_rows(const dt_conv_geom *g) { return g->c * g->kh * g->kw; }
static int64_t col_cols(const dt_conv_geom *g) { return g->oh * g->ow; }

static int64_t chunk_samples(const dt_conv_geom *g)
{
    const int64_t per = col_rows(g) * col_cols(g);
    const int64_t s = ((int64_t)1 << 22) / (per > 0 ? per : 1);
    return s < 1 ? 1 : s;
}

int64_t dt_cuda_conv2d_workspace(const dt_conv_geom *g)
{
    return chunk_samples(g) * col_cols(g) * (col_rows(g) + g->oc) + 16;
}

void dt_cuda_conv2d_forward(const dt_conv_geom *g, int64_t n, const float *x, const float *w,
                            const float *bias, float *y, float beta, float *work)
{
    if (FAILED()) return;
    const int64_t ohw = col_cols(g), chunk = chunk_samples(g), ocg = g->oc / g->groups;
    const int64_t kg = col_rows(g) / g->groups;
    for (int64_t s0 = 0; s0 < n; s0 += chunk) {
        const int64_t ns = n - s0 < chunk ? n - s0 : chunk, ld = ns * ohw;
        float *col = work, *blk = work + col_rows(g) * ld;
        dt_cuk_im2col(ST(), g, x, s0, ns, col);
        /* blk_g (ocg, ld) = W_g (ocg, kg) col_g (kg, ld) */
        for (int64_t gi = 0; gi < g->groups; gi++)
            dt_cuda_gemm(0, 0, (int)ocg, (int)ld, (int)kg, 1.0f, w + gi * ocg * kg, (int)kg,
                         col + gi * kg * ld, (int)ld, 0.0f, blk + gi * ocg * ld, (int)ld);
        dt_cuk_conv_shuffle(ST(), y, g->oc, ohw, s0, ns, blk, 0, beta);
    }
    if (bias) dt_cuk_channel_bias_add(ST(), y, bias, n, g->oc, ohw);
}

void dt_cuda_conv2d_backward_data(const dt_conv_geom *g, int64_t n, const float *dy,
                                  const float *w, float *dx, float *work)
{
    if (FAILED()) return;
    const int64_t ohw = col_cols(g), chunk = chunk_samples(g), ocg = g->oc / g->groups;
    const int64_t kg = col_rows(g) / g->groups;
    for (int64_t s0 = 0; s0 < n; s0 += chunk) {
        const int64_t ns = n - s0 < chunk ? n - s0 : chunk, ld = ns * ohw;
        float *col = work, *blk = work + col_rows(g) * ld;
        dt_cuk_conv_shuffle(ST(), (float *)dy, g->oc, ohw, s0, ns, blk, 1, 0.0f);
        /* col_g (kg, ld) = W_g^T (kg, ocg) dy_g (ocg, ld) */
        for (int64_t gi = 0; gi < g->groups; gi++)
            dt_cuda_gemm(1, 0, (int)kg, (int)ld, (int)ocg, 1.0f, w + gi * ocg * kg, (int)kg,
                         blk + gi * ocg * ld, (int)ld, 0.0f, col + gi * kg * ld, (int)ld);
        dt_cuk_col2im(ST(), g, col, s0, ns, dx);
    }
}

void dt_cuda_conv2d_backward_filter(const dt_conv_geom *g, int64_t n, const float *x,
                                    const float *dy, float *dw, float *db, float beta,
                                    float *work)
{
    if (FAILED()) return;
    const int64_t ohw = col_cols(g), chunk = chunk_samples(g), ocg = g->oc / g->groups;
    const int64_t kg = col_rows(g) / g->groups;
    if (n == 0) {
        dt_cuk_scale(ST(), dw, beta, g->oc * kg);
        if (db) dt_cuk_scale(ST(), db, beta, g->oc);
        return;
    }
    for (int64_t s0 = 0; s0 < n; s0 += chunk) {
        const int64_t ns = n - s0 < chunk ? n - s0 : chunk, ld = ns * ohw;
        float *col = work, *blk = work + col_rows(g) * ld;
        dt_cuk_im2col(ST(), g, x, s0, ns, col);
        dt_cuk_conv_shuffle(ST(), (float *)dy, g->oc, ohw, s0, ns, blk, 1, 0.0f);
        /* dW_g (ocg, kg) = b dW_g + dy_g (ocg, ld) col_g^T (ld, kg) */
        for (int64_t gi = 0; gi < g->groups; gi++)
            dt_cuda_gemm(0, 1, (int)ocg, (int)kg, (int)ld, 1.0f, blk + gi * ocg * ld, (int)ld,
                         col + gi * kg * ld, (int)ld, s0 == 0 ? beta : 1.0f,
                         dw + gi * ocg * kg, (int)kg);
    }
    if (db) dt_cuk_channel_sum(ST(), db, dy, n, g->oc, ohw, beta);
}

void dt_cuda_channel_bias_add(float *y, const float *b, int64_t n, int64_t c, int64_t hw)
{
    if (!FAILED()) dt_cuk_channel_bias_add(ST(), y, b, n, c, hw);
}

void dt_cuda_channel_sum(float *db, const float *dy, int64_t n, int64_t c, int64_t hw,
                         float beta)
{
    if (!FAILED()) dt_cuk_channel_sum(ST(), db, dy, n, c, hw, beta);
}

void dt_cuda_pool2d_forward(const dt_pool_geom *g, int64_t n, const float *x, float *y,
                            int32_t *arg)
{
    if (!FAILED()) dt_cuk_pool_forward(ST(), g, n, x, y, arg);
}

void dt_cuda_pool2d_backward(const dt_pool_geom *g, int64_t n, const float *dy,
                             const int32_t *arg, float *dx)
{
    if (!FAILED()) dt_cuk_pool_backward(ST(), g, n, dy, arg, dx);
}

void dt_cuda_batchnorm_stats(const float *x, int64_t n, int64_t c, int64_t hw, float *mean,
                             float *var)
{
    if (!FAILED()) dt_cuk_bn_stats(ST(), x, n, c, hw, mean, var);
}

void dt_cuda_batchnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                               const float *mean, const float *var, float eps,
                               const float *gamma, const float *beta, float *rstd)
{
    if (!FAILED()) dt_cuk_bn_forward(ST(), x, y, n, c, hw, mean, var, eps, gamma, beta, rstd);
}

void dt_cuda_batchnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                int64_t c, int64_t hw, const float *mean, const float *rstd,
                                const float *gamma, float *dgamma, float *dbeta, float beta,
                                int batch_stats)
{
    if (!FAILED())
        dt_cuk_bn_backward(ST(), x, dy, dx, n, c, hw, mean, rstd, gamma, dgamma, dbeta, beta,
                           batch_stats);
}

void dt_cuda_groupnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                               int64_t groups, float eps, const float *gamma,
                               const float *beta, int per_elem, float *stats)
{
    if (!FAILED())
        dt_cuk_gn_forward(ST(), x, y, n, c, hw, groups, eps, gamma, beta, per_elem, stats);
}

void dt_cuda_groupnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                int64_t c, int64_t hw, int64_t groups, const float *gamma,
                                int per_elem, const float *stats, float *dgamma, float *dbeta,
                                float beta)
{
    if (!FAILED())
        dt_cuk_gn_backward(ST(), x, dy, dx, n, c, hw, groups, gamma, per_elem, stats, dgamma,
                           dbeta, beta);
}

void dt_cuda_lrn_forward(const float *x, float *y, float *d, int64_t n, int64_t c, int64_t hw,
                         int64_t size, float alpha, float beta, float k)
{
    if (!FAILED()) dt_cuk_lrn_forward(ST(), x, y, d, n, c, hw, size, alpha, beta, k);
}

void dt_cuda_lrn_backward(const float *x, const float *d, const float *dy, float *dx,
                          int64_t n, int64_t c, int64_t hw, int64_t size, float alpha,
                          float beta)
{
    if (!FAILED()) dt_cuk_lrn_backward(ST(), x, d, dy, dx, n, c, hw, size, alpha, beta);
}

void dt_cuda_upsample_forward(int bilinear, const float *x, float *y, int64_t planes,
                              int64_t h, int64_t w, int64_t oh, int64_t ow)
{
    if (!FAILED()) dt_cuk_upsample_forward(ST(), bilinear, x, y, planes, h, w, oh, ow);
}

void dt_cuda_upsample_backward(int bilinear, const float *dy, float *dx, int64_t planes,
                               int64_t h, int64_t w, int64_t oh, int64_t ow)
{
    if (!FAILED()) dt_cuk_upsample_backward(ST(), bilinear, dy, dx, planes, h, w, oh, ow);
}

/* The confusion counts (host memory) are gathered on the device in a
 * zeroed int64 buffer behind the per-pixel work and added to the host's
 * after the sums come back. */
dt_loss_sums dt_cuda_cross_entropy_pixels(const float *logits, const float *labels,
                                          int64_t rows, int64_t classes, int64_t hw,
                                          float smoothing, float scale, float *dx,
                                          int64_t *confusion)
{
    const int64_t work_doubles = 2 * (rows * hw + rows) + 1;
    const int64_t cells = confusion ? classes * classes : 0;
    double *work = FAILED() ? NULL
                            : dt_cuda_scratch((size_t)work_doubles * sizeof(double) +
                                              (size_t)cells * sizeof(int64_t));
    if (!work) return (dt_loss_sums){.loss = NAN};
    int64_t *dconf = confusion ? (int64_t *)(work + work_doubles) : NULL;
    if (dconf && !DT_CUDA_CHECK(cudaMemsetAsync(dconf, 0, (size_t)cells * sizeof(int64_t),
                                                ST())))
        return (dt_loss_sums){.loss = NAN};
    dt_cuk_ce_pixels(ST(), logits, labels, rows, classes, hw, smoothing, scale, dx, work, dconf,
                     dt_cuda_loss_sums());
    const dt_loss_sums sums = dt_cuda_finish_loss();
    if (!dconf || FAILED()) return sums;

    int64_t *counts = malloc((size_t)cells * sizeof(int64_t));
    if (!counts) {
        dt_cuda_record("dtrain", "malloc", __FILE__, __LINE__, "out of host memory",
                       "the confusion matrix of cross_entropy_pixels");
        return (dt_loss_sums){.loss = NAN};
    }
    if (dt_cuda_counts_to_host(counts, dconf, cells))
        for (int64_t i = 0; i < cells; i++) confusion[i] += counts[i];
    free(counts);
    return FAILED() ? (dt_loss_sums){.loss = NAN} : sums;
}
