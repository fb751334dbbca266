/* CPU kernels of the convolutional layers: convolution lowered to GEMM,
 * pooling, batch / group normalization, local response normalization,
 * upsampling and the per-pixel cross-entropy.
 *
 * Convolution unfolds a chunk of samples side by side into one column block
 * (c * kh * kw, S * oh * ow) (im2col; for a 1x1 convolution with stride 1
 * and no padding a plain copy of the planes) and multiplies it by the weight
 * in one GEMM per group, which OpenBLAS runs on the rank's threads; the
 * result block (oc, S * oh * ow) is copied back to NCHW. The unfolding and
 * the copies are spread over the OpenMP threads. The block sizes depend on
 * the layer only, so results do not depend on the batch split. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_conv.h"
#include "core/status.h"

#define PAR_MIN 32768

static int64_t col_rows(const dt_conv_geom *g) { return g->c * g->kh * g->kw; }
static int64_t col_cols(const dt_conv_geom *g) { return g->oh * g->ow; }

static int is_pointwise(const dt_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* Samples unfolded together: the column block (c*kh*kw, S*oh*ow) holds
 * about 2M floats, so one GEMM per chunk and group is large enough for
 * OpenBLAS to run near its peak, and the block stays in the caches' reach. */
static int64_t chunk_samples(const dt_conv_geom *g)
{
    const int64_t per = col_rows(g) * col_cols(g);
    const int64_t s = ((int64_t)1 << 21) / (per > 0 ? per : 1);
    return s < 1 ? 1 : s;
}

/* Workspace: the column block and an (oc, S*oh*ow) block of outputs. */
int64_t dt_cpu_conv2d_workspace(const dt_conv_geom *g)
{
    return chunk_samples(g) * col_cols(g) * (col_rows(g) + g->oc) + 16;
}

/* The ox range [lo, hi) whose input column ox*s + off lies in [0, in). */
static void valid_range(int64_t out, int64_t in, int64_t s, int64_t off, int64_t *lo,
                        int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = in - off <= 0 ? 0 : (in - off + s - 1) / s;
    if (a > out) a = out;
    if (b > out) b = out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* x (c, h, w) -> columns: row r = (ch, ki, kj) at col + r * ld, oh*ow long.
 * A 1x1 convolution with stride 1 and no padding copies whole planes. */
static void im2col(const dt_conv_geom *g, const float *x, float *col, int64_t ld)
{
    const int64_t hw = g->h * g->w;
    if (is_pointwise(g)) {
        for (int64_t ch = 0; ch < g->c; ch++)
            memcpy(col + ch * ld, x + ch * hw, (size_t)hw * sizeof *col);
        return;
    }
    for (int64_t ch = 0; ch < g->c; ch++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float *row = col + ((ch * g->kh + ki) * g->kw + kj) * ld;
                const float *plane = x + ch * hw;
                const int64_t offx = kj * g->dw - g->pw;
                int64_t lo, hi;
                valid_range(g->ow, g->w, g->sw, offx, &lo, &hi);
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    float *r = row + oy * g->ow;
                    const int64_t iy = oy * g->sh - g->ph + ki * g->dh;
                    if (iy < 0 || iy >= g->h) {
                        memset(r, 0, (size_t)g->ow * sizeof *r);
                        continue;
                    }
                    const float *src = plane + iy * g->w + offx;
                    for (int64_t ox = 0; ox < lo; ox++) r[ox] = 0.0f;
                    if (g->sw == 1) memcpy(r + lo, src + lo, (size_t)(hi - lo) * sizeof *r);
                    else
                        for (int64_t ox = lo; ox < hi; ox++) r[ox] = src[ox * g->sw];
                    for (int64_t ox = hi; ox < g->ow; ox++) r[ox] = 0.0f;
                }
            }
}

/* dx (c, h, w) += fold of the columns (row stride ld). */
static void col2im(const dt_conv_geom *g, const float *col, int64_t ld, float *dx)
{
    const int64_t hw = g->h * g->w;
    for (int64_t ch = 0; ch < g->c; ch++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *row = col + ((ch * g->kh + ki) * g->kw + kj) * ld;
                float *plane = dx + ch * hw;
                const int64_t offx = kj * g->dw - g->pw;
                int64_t lo, hi;
                valid_range(g->ow, g->w, g->sw, offx, &lo, &hi);
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    const int64_t iy = oy * g->sh - g->ph + ki * g->dh;
                    if (iy < 0 || iy >= g->h) continue;
                    const float *r = row + oy * g->ow;
                    float *dst = plane + iy * g->w + offx;
                    for (int64_t ox = lo; ox < hi; ox++) dst[ox * g->sw] += r[ox];
                }
            }
}

/* Samples [s0, s0 + ns) of x (n, c, h, w) into the column block. */
static void unfold(const dt_conv_geom *g, const float *x, int64_t s0, int64_t ns, float *col)
{
    const int64_t in = g->c * g->h * g->w, ohw = col_cols(g), ld = ns * ohw;
#pragma omp parallel for if (ns > 1 && ld * col_rows(g) > PAR_MIN) schedule(static)
    for (int64_t s = 0; s < ns; s++) im2col(g, x + (s0 + s) * in, col + s * ohw, ld);
}

/* Between NCHW samples (s0.., oc, ohw) and the block (oc, ns*ohw):
 * to_block copies y into blk; else y = beta y + blk. */
static void shuffle(const dt_conv_geom *g, float *y, int64_t s0, int64_t ns, float *blk,
                    int to_block, float beta)
{
    const int64_t ohw = col_cols(g), ld = ns * ohw, out = g->oc * ohw;
#pragma omp parallel for collapse(2) if (ld * g->oc > PAR_MIN) schedule(static)
    for (int64_t s = 0; s < ns; s++)
        for (int64_t o = 0; o < g->oc; o++) {
            float *a = y + (s0 + s) * out + o * ohw, *b = blk + o * ld + s * ohw;
            if (to_block) memcpy(b, a, (size_t)ohw * sizeof *a);
            else if (beta == 0.0f) memcpy(a, b, (size_t)ohw * sizeof *a);
            else
                for (int64_t p = 0; p < ohw; p++) a[p] = beta * a[p] + b[p];
        }
}

void dt_cpu_channel_bias_add(float *y, const float *b, int64_t n, int64_t c, int64_t hw)
{
#pragma omp parallel for collapse(2) if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++) {
            float *p = y + (i * c + ch) * hw;
            const float v = b[ch];
            for (int64_t k = 0; k < hw; k++) p[k] += v;
        }
}

void dt_cpu_channel_sum(float *db, const float *dy, int64_t n, int64_t c, int64_t hw,
                        float beta)
{
#pragma omp parallel for if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = dy + (i * c + ch) * hw;
            float part = 0.0f;
            for (int64_t k = 0; k < hw; k++) part += p[k];
            s += part;
        }
        db[ch] = beta * db[ch] + (float)s;
    }
}

/* C = op(A) op(B) + beta C in row-major order (alpha 1): the convolution
 * kernels call it once per chunk and group. */
static void gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void dt_cpu_conv2d_forward(const dt_conv_geom *g, int64_t n, const float *x, const float *w,
                           const float *bias, float *y, float beta, float *work)
{
    const int64_t ohw = col_cols(g), chunk = chunk_samples(g), ocg = g->oc / g->groups;
    const int64_t kg = col_rows(g) / g->groups;
    for (int64_t s0 = 0; s0 < n; s0 += chunk) {
        const int64_t ns = n - s0 < chunk ? n - s0 : chunk, ld = ns * ohw;
        float *col = work, *blk = work + col_rows(g) * ld;
        unfold(g, x, s0, ns, col);
        /* blk_g (ocg, ld) = W_g (ocg, kg) col_g (kg, ld) */
        for (int64_t gi = 0; gi < g->groups; gi++)
            gemm(0, 0, ocg, ld, kg, w + gi * ocg * kg, kg, col + gi * kg * ld, ld, 0.0f,
                 blk + gi * ocg * ld, ld);
        shuffle(g, y, s0, ns, blk, 0, beta);
    }
    if (bias) dt_cpu_channel_bias_add(y, bias, n, g->oc, ohw);
}

void dt_cpu_conv2d_backward_data(const dt_conv_geom *g, int64_t n, const float *dy,
                                 const float *w, float *dx, float *work)
{
    const int64_t ohw = col_cols(g), chunk = chunk_samples(g), ocg = g->oc / g->groups;
    const int64_t kg = col_rows(g) / g->groups, in = g->c * g->h * g->w;
    for (int64_t s0 = 0; s0 < n; s0 += chunk) {
        const int64_t ns = n - s0 < chunk ? n - s0 : chunk, ld = ns * ohw;
        float *col = work, *blk = work + col_rows(g) * ld;
        shuffle(g, (float *)dy, s0, ns, blk, 1, 0.0f);
        /* col_g (kg, ld) = W_g^T (kg, ocg) dy_g (ocg, ld) */
        for (int64_t gi = 0; gi < g->groups; gi++)
            gemm(1, 0, kg, ld, ocg, w + gi * ocg * kg, kg, blk + gi * ocg * ld, ld, 0.0f,
                 col + gi * kg * ld, ld);
#pragma omp parallel for if (ns > 1 && ld * col_rows(g) > PAR_MIN) schedule(static)
        for (int64_t s = 0; s < ns; s++) col2im(g, col + s * ohw, ld, dx + (s0 + s) * in);
    }
}

void dt_cpu_conv2d_backward_filter(const dt_conv_geom *g, int64_t n, const float *x,
                                   const float *dy, float *dw, float *db, float beta,
                                   float *work)
{
    const int64_t ohw = col_cols(g), chunk = chunk_samples(g), ocg = g->oc / g->groups;
    const int64_t kg = col_rows(g) / g->groups;
    if (n == 0) {
        for (int64_t k = 0; k < g->oc * kg; k++) dw[k] *= beta;
        if (db)
            for (int64_t k = 0; k < g->oc; k++) db[k] *= beta;
        return;
    }
    for (int64_t s0 = 0; s0 < n; s0 += chunk) {
        const int64_t ns = n - s0 < chunk ? n - s0 : chunk, ld = ns * ohw;
        float *col = work, *blk = work + col_rows(g) * ld;
        unfold(g, x, s0, ns, col);
        shuffle(g, (float *)dy, s0, ns, blk, 1, 0.0f);
        /* dW_g (ocg, kg) = b dW_g + dy_g (ocg, ld) col_g^T (ld, kg) */
        for (int64_t gi = 0; gi < g->groups; gi++)
            gemm(0, 1, ocg, kg, ld, blk + gi * ocg * ld, ld, col + gi * kg * ld, ld,
                 s0 == 0 ? beta : 1.0f, dw + gi * ocg * kg, kg);
    }
    if (db) dt_cpu_channel_sum(db, dy, n, g->oc, ohw, beta);
}

/* ---- pooling ---- */

/* The input window [y0, y1) x [x0, x1) of output (oy, ox), clipped to the
 * image, and the divisor of average pooling (the window within the padded
 * image when count_pad, else the clipped window). */
typedef struct pool_window {
    int64_t y0, y1, x0, x1, count;
} pool_window;

static pool_window window_of(const dt_pool_geom *g, int64_t oy, int64_t ox)
{
    const int64_t y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
    const int64_t y1 = y0 + g->kh, x1 = x0 + g->kw;
    const int64_t py1 = y1 < g->h + g->ph ? y1 : g->h + g->ph;
    const int64_t px1 = x1 < g->w + g->pw ? x1 : g->w + g->pw;
    pool_window w = {.y0 = y0 < 0 ? 0 : y0, .x0 = x0 < 0 ? 0 : x0,
                     .y1 = y1 < g->h ? y1 : g->h, .x1 = x1 < g->w ? x1 : g->w};
    w.count = g->count_pad ? (py1 - y0) * (px1 - x0) : (w.y1 - w.y0) * (w.x1 - w.x0);
    return w;
}

static void pool_plane(const dt_pool_geom *g, const float *x, float *y, int32_t *arg)
{
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            const pool_window wd = window_of(g, oy, ox);
            const int64_t y0 = wd.y0, y1 = wd.y1, x0 = wd.x0, x1 = wd.x1;
            const int64_t o = oy * g->ow + ox;
            if (g->max) {
                float best = -INFINITY;
                int32_t at = (int32_t)(y0 * g->w + x0);
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++)
                        if (x[iy * g->w + ix] > best) {
                            best = x[iy * g->w + ix];
                            at = (int32_t)(iy * g->w + ix);
                        }
                y[o] = best;
                arg[o] = at;
            } else {
                float s = 0.0f;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) s += x[iy * g->w + ix];
                const int64_t cnt = wd.count;
                y[o] = cnt > 0 ? s / (float)cnt : 0.0f;
            }
        }
}

void dt_cpu_pool2d_forward(const dt_pool_geom *g, int64_t n, const float *x, float *y,
                               int32_t *arg)
{
    const int64_t planes = n * g->c, in = g->h * g->w, out = g->oh * g->ow;
#pragma omp parallel for if (planes * in > PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++)
        pool_plane(g, x + p * in, y + p * out, arg ? arg + p * out : NULL);
}

static void unpool_avg(const dt_pool_geom *g, const float *dy, float *dx)
{
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            const pool_window wd = window_of(g, oy, ox);
            const int64_t y0 = wd.y0, y1 = wd.y1, x0 = wd.x0, x1 = wd.x1;
            const int64_t cnt = wd.count;
            if (cnt <= 0) continue;
            const float v = dy[oy * g->ow + ox] / (float)cnt;
            for (int64_t iy = y0; iy < y1; iy++)
                for (int64_t ix = x0; ix < x1; ix++) dx[iy * g->w + ix] += v;
        }
}

void dt_cpu_pool2d_backward(const dt_pool_geom *g, int64_t n, const float *dy,
                                const int32_t *arg, float *dx)
{
    const int64_t planes = n * g->c, in = g->h * g->w, out = g->oh * g->ow;
#pragma omp parallel for if (planes * in > PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        if (g->max)
            for (int64_t o = 0; o < out; o++) dx[p * in + arg[p * out + o]] += dy[p * out + o];
        else
            unpool_avg(g, dy + p * out, dx + p * in);
    }
}

/* ---- batch normalization ---- */

void dt_cpu_batchnorm_stats(const float *x, int64_t n, int64_t c, int64_t hw, float *mean,
                                float *var)
{
    const double cnt = (double)(n * hw);
#pragma omp parallel for if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0.0, ss = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * hw;
            for (int64_t k = 0; k < hw; k++) s += p[k];
        }
        const double mu = s / cnt;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * hw;
            for (int64_t k = 0; k < hw; k++) ss += (p[k] - mu) * (p[k] - mu);
        }
        mean[ch] = (float)mu;
        var[ch] = (float)(ss / cnt);
    }
}

void dt_cpu_batchnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                                  const float *mean, const float *var, float eps,
                                  const float *gamma, const float *beta, float *rstd)
{
    for (int64_t ch = 0; ch < c; ch++) rstd[ch] = 1.0f / sqrtf(var[ch] + eps);
#pragma omp parallel for collapse(2) if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float a = gamma[ch] * rstd[ch], b = beta[ch] - mean[ch] * a;
            const float *p = x + (i * c + ch) * hw;
            float *q = y + (i * c + ch) * hw;
            for (int64_t k = 0; k < hw; k++) q[k] = a * p[k] + b;
        }
}

void dt_cpu_batchnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                   int64_t c, int64_t hw, const float *mean, const float *rstd,
                                   const float *gamma, float *dgamma, float *dbeta, float beta,
                                   int batch_stats)
{
    const double cnt = (double)(n * hw);
#pragma omp parallel for if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double s1 = 0.0, s2 = 0.0; /* sum dy, sum dy * xhat */
        const float mu = mean[ch], r = rstd[ch];
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * hw, *d = dy + (i * c + ch) * hw;
            for (int64_t k = 0; k < hw; k++) {
                s1 += d[k];
                s2 += (double)d[k] * (p[k] - mu) * r;
            }
        }
        dgamma[ch] = beta * dgamma[ch] + (float)s2;
        dbeta[ch] = beta * dbeta[ch] + (float)s1;
        if (!dx) continue;
        const float a = gamma[ch] * r;
        const float m1 = batch_stats ? (float)(s1 / cnt) : 0.0f;
        const float m2 = batch_stats ? (float)(s2 / cnt) : 0.0f;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * hw, *d = dy + (i * c + ch) * hw;
            float *q = dx + (i * c + ch) * hw;
            for (int64_t k = 0; k < hw; k++) q[k] += a * (d[k] - m1 - (p[k] - mu) * r * m2);
        }
    }
}

/* ---- group / layer / instance normalization ---- */

/* Affine coefficient of element k (channel k / hw) of a sample. */
static inline float coef(const float *v, int per_elem, int64_t k, int64_t hw, float dflt)
{
    return v ? v[per_elem ? k : k / hw] : dflt;
}

void dt_cpu_groupnorm_forward(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                                  int64_t groups, float eps, const float *gamma,
                                  const float *beta, int per_elem, float *stats)
{
    const int64_t len = c / groups * hw, numel = c * hw;
#pragma omp parallel for if (n * numel > PAR_MIN) schedule(static)
    for (int64_t r = 0; r < n * groups; r++) {
        const float *p = x + r * len;
        double s = 0.0, ss = 0.0;
        for (int64_t k = 0; k < len; k++) s += p[k];
        const double mu = s / (double)len;
        for (int64_t k = 0; k < len; k++) ss += (p[k] - mu) * (p[k] - mu);
        const float rs = (float)(1.0 / sqrt(ss / (double)len + eps));
        stats[2 * r] = (float)mu;
        stats[2 * r + 1] = rs;
        const int64_t base = (r % groups) * len; /* position within the sample */
        for (int64_t k = 0; k < len; k++) {
            const float xh = (p[k] - (float)mu) * rs;
            y[r * len + k] = coef(gamma, per_elem, base + k, hw, 1.0f) * xh +
                             coef(beta, per_elem, base + k, hw, 0.0f);
        }
    }
    (void)numel;
}

void dt_cpu_groupnorm_backward(const float *x, const float *dy, float *dx, int64_t n,
                                   int64_t c, int64_t hw, int64_t groups, const float *gamma,
                                   int per_elem, const float *stats, float *dgamma,
                                   float *dbeta, float beta)
{
    const int64_t len = c / groups * hw, numel = c * hw;
    const int64_t np = gamma ? (per_elem ? numel : c) : 0;
    for (int64_t k = 0; k < np; k++) {
        dgamma[k] *= beta;
        dbeta[k] *= beta;
    }
    /* Parameter gradients: serial over rows, so sums keep one order. */
    for (int64_t r = 0; gamma && r < n * groups; r++) {
        const float mu = stats[2 * r], rs = stats[2 * r + 1];
        const int64_t base = (r % groups) * len;
        for (int64_t k = 0; k < len; k++) {
            const int64_t j = per_elem ? base + k : (base + k) / hw;
            dgamma[j] += dy[r * len + k] * (x[r * len + k] - mu) * rs;
            dbeta[j] += dy[r * len + k];
        }
    }
    if (!dx) return;
#pragma omp parallel for if (n * numel > PAR_MIN) schedule(static)
    for (int64_t r = 0; r < n * groups; r++) {
        const float mu = stats[2 * r], rs = stats[2 * r + 1];
        const int64_t base = (r % groups) * len;
        double m1 = 0.0, m2 = 0.0;
        for (int64_t k = 0; k < len; k++) {
            const float g = coef(gamma, per_elem, base + k, hw, 1.0f) * dy[r * len + k];
            m1 += g;
            m2 += (double)g * (x[r * len + k] - mu) * rs;
        }
        m1 /= (double)len;
        m2 /= (double)len;
        for (int64_t k = 0; k < len; k++) {
            const float g = coef(gamma, per_elem, base + k, hw, 1.0f) * dy[r * len + k];
            const float xh = (x[r * len + k] - mu) * rs;
            dx[r * len + k] += rs * (g - (float)m1 - xh * (float)m2);
        }
    }
}

/* ---- local response normalization ---- */

void dt_cpu_lrn_forward(const float *x, float *y, float *d, int64_t n, int64_t c, int64_t hw,
                            int64_t size, float alpha, float beta, float k)
{
    const int64_t before = size / 2, after = (size - 1) / 2;
    const float a = alpha / (float)size;
#pragma omp parallel for collapse(2) if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++) {
            const int64_t lo = ch - before < 0 ? 0 : ch - before;
            const int64_t hi = ch + after >= c ? c - 1 : ch + after;
            for (int64_t p = 0; p < hw; p++) {
                float s = 0.0f;
                for (int64_t j = lo; j <= hi; j++) {
                    const float v = x[(i * c + j) * hw + p];
                    s += v * v;
                }
                const int64_t o = (i * c + ch) * hw + p;
                d[o] = k + a * s;
                y[o] = x[o] * powf(d[o], -beta);
            }
        }
}

/* dx_j += dy_j d_j^-b - 2 a b / size * x_j * sum over channels c whose window
 * holds j of dy_c x_c d_c^(-b-1) */
void dt_cpu_lrn_backward(const float *x, const float *d, const float *dy, float *dx,
                             int64_t n, int64_t c, int64_t hw, int64_t size, float alpha,
                             float beta)
{
    const int64_t before = size / 2, after = (size - 1) / 2;
    const float a = alpha / (float)size;
#pragma omp parallel for collapse(2) if (n * c * hw > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < c; j++) {
            /* channel ch's window [ch - before, ch + after] holds j when
             * j - after <= ch <= j + before */
            const int64_t lo = j - after < 0 ? 0 : j - after;
            const int64_t hi = j + before >= c ? c - 1 : j + before;
            for (int64_t p = 0; p < hw; p++) {
                float s = 0.0f;
                for (int64_t ch = lo; ch <= hi; ch++) {
                    const int64_t o = (i * c + ch) * hw + p;
                    s += dy[o] * x[o] * powf(d[o], -beta - 1.0f);
                }
                const int64_t o = (i * c + j) * hw + p;
                dx[o] += dy[o] * powf(d[o], -beta) - 2.0f * a * beta * x[o] * s;
            }
        }
}

/* ---- upsampling ---- */

/* Source coordinate of output o for bilinear (align_corners false): the two
 * neighbours and the weight of the second. */
static void bilin_src(int64_t o, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *t)
{
    float s = ((float)o + 0.5f) * (float)in / (float)out - 0.5f;
    if (s < 0.0f) s = 0.0f;
    int64_t a = (int64_t)s;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + 1 < in ? a + 1 : in - 1;
    *t = s - (float)a;
}

void dt_cpu_upsample_forward(int bilinear, const float *x, float *y, int64_t planes,
                                 int64_t h, int64_t w, int64_t oh, int64_t ow)
{
#pragma omp parallel for if (planes * oh * ow > PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *src = x + p * h * w;
        float *dst = y + p * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                if (!bilinear) {
                    dst[oy * ow + ox] = src[(oy * h / oh) * w + ox * w / ow];
                    continue;
                }
                int64_t y0, y1, x0, x1;
                float ty, tx;
                bilin_src(oy, h, oh, &y0, &y1, &ty);
                bilin_src(ox, w, ow, &x0, &x1, &tx);
                const float top = (1 - tx) * src[y0 * w + x0] + tx * src[y0 * w + x1];
                const float bottom = (1 - tx) * src[y1 * w + x0] + tx * src[y1 * w + x1];
                dst[oy * ow + ox] = (1 - ty) * top + ty * bottom;
            }
    }
}

void dt_cpu_upsample_backward(int bilinear, const float *dy, float *dx, int64_t planes,
                                  int64_t h, int64_t w, int64_t oh, int64_t ow)
{
#pragma omp parallel for if (planes * oh * ow > PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *src = dy + p * oh * ow;
        float *dst = dx + p * h * w;
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                const float g = src[oy * ow + ox];
                if (!bilinear) {
                    dst[(oy * h / oh) * w + ox * w / ow] += g;
                    continue;
                }
                int64_t y0, y1, x0, x1;
                float ty, tx;
                bilin_src(oy, h, oh, &y0, &y1, &ty);
                bilin_src(ox, w, ow, &x0, &x1, &tx);
                dst[y0 * w + x0] += (1 - ty) * (1 - tx) * g;
                dst[y0 * w + x1] += (1 - ty) * tx * g;
                dst[y1 * w + x0] += ty * (1 - tx) * g;
                dst[y1 * w + x1] += ty * tx * g;
            }
    }
}

/* ---- per-pixel cross-entropy ---- */

dt_loss_sums dt_cpu_cross_entropy_pixels(const float *logits, const float *labels,
                                             int64_t rows, int64_t classes, int64_t hw,
                                             float smoothing, float scale, float *dx,
                                             int64_t *confusion)
{
    double loss = 0.0;
    int64_t correct = 0;
    const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;
    const float sc = scale / (float)hw;
    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * classes * hw;
        float *d = dx + r * classes * hw;
        double sample = 0.0;
        for (int64_t p = 0; p < hw; p++) {
            const int64_t label = (int64_t)labels[r * hw + p];
            int64_t arg = 0;
            for (int64_t j = 1; j < classes; j++) arg = z[j * hw + p] > z[arg * hw + p] ? j : arg;
            correct += arg == label;
            if (confusion) confusion[label * classes + arg]++;
            const double mx = z[arg * hw + p];
            double s = 0.0, tz = 0.0;
            for (int64_t j = 0; j < classes; j++) {
                s += exp((double)z[j * hw + p] - mx);
                tz += (double)(j == label ? on : off) * z[j * hw + p];
            }
            const double lse = mx + log(s);
            sample += lse - tz;
            for (int64_t j = 0; j < classes; j++) {
                const float prob = (float)exp((double)z[j * hw + p] - lse);
                d[j * hw + p] = sc * (prob - (j == label ? on : off));
            }
        }
        loss += sample / (double)hw;
    }
    return (dt_loss_sums){.loss = loss, .correct = correct};
}
