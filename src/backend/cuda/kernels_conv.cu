/* CUDA kernels of the convolutional layers and their launchers (extern
 * "C"): the im2col / col2im folds and block copies around the cuBLAS GEMMs
 * of a convolution, channel bias and sums, pooling, batch and group
 * normalization, local response normalization, upsampling and the
 * per-pixel cross-entropy. The CPU twins are in cpu/cpu_conv.c.
 *
 * Every output element is computed by one thread from its inputs (a
 * gather), so nothing but the confusion counts needs atomics and results
 * do not depend on scheduling: col2im and the pooling and upsampling
 * gradients walk the outputs that read an input element instead of
 * scattering into it. Per-channel and per-group statistics are one block
 * each, summed in double in a fixed order. */
#include <math.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/kernels_util.cuh"

/* ---- convolution: unfolding and block copies ---- */

/* col (c*kh*kw, ns*oh*ow) from samples [s0, s0 + ns) of x (n, c, h, w):
 * row (ch, ki, kj), column s*oh*ow + oy*ow + ox, zero outside the image. */
static __global__ void k_im2col(dt_conv_geom g, const float *x, int64_t s0, int64_t ns,
                                float *col)
{
    const int64_t ohw = g.oh * g.ow, ld = ns * ohw, rows = g.c * g.kh * g.kw;
    GRID_STRIDE(e, rows * ld)
    {
        const int64_t r = e / ld, q = e - r * ld;
        const int64_t s = q / ohw, pix = q - s * ohw, oy = pix / g.ow, ox = pix - oy * g.ow;
        const int64_t ch = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
        const int64_t iy = oy * g.sh - g.ph + ki * g.dh, ix = ox * g.sw - g.pw + kj * g.dw;
        float v = 0.0f;
        if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
            v = x[((s0 + s) * g.c + ch) * g.h * g.w + iy * g.w + ix];
        col[e] = v;
    }
}

/* dx (samples s0.., c, h, w) += the fold of col: each input element sums
 * the column entries that were read from it. */
static __global__ void k_col2im(dt_conv_geom g, const float *col, int64_t s0, int64_t ns,
                                float *dx)
{
    const int64_t ohw = g.oh * g.ow, ld = ns * ohw, hw = g.h * g.w;
    GRID_STRIDE(e, ns * g.c * hw)
    {
        const int64_t s = e / (g.c * hw), rem = e - s * g.c * hw;
        const int64_t ch = rem / hw, iy = (rem - ch * hw) / g.w, ix = rem % g.w;
        float acc = 0.0f;
        for (int64_t ki = 0; ki < g.kh; ki++) {
            const int64_t ty = iy + g.ph - ki * g.dh;
            if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
            for (int64_t kj = 0; kj < g.kw; kj++) {
                const int64_t tx = ix + g.pw - kj * g.dw;
                if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
                const int64_t r = (ch * g.kh + ki) * g.kw + kj;
                acc += col[r * ld + s * ohw + (ty / g.sh) * g.ow + tx / g.sw];
            }
        }
        dx[(s0 + s) * g.c * hw + rem] += acc;
    }
}

/* Between NCHW samples (s0.., oc, ohw) of y and the block (oc, ns*ohw):
 * to_block copies y into blk; else y = beta y + blk (beta 0: overwrite). */
static __global__ void k_conv_shuffle(float *y, int64_t oc, int64_t ohw, int64_t s0,
                                      int64_t ns, float *blk, int to_block, float beta)
{
    const int64_t ld = ns * ohw;
    GRID_STRIDE(e, oc * ld)
    {
        const int64_t o = e / ld, q = e - o * ld, s = q / ohw, pix = q - s * ohw;
        float *a = y + ((s0 + s) * oc + o) * ohw + pix;
        if (to_block) blk[e] = *a;
        else *a = beta == 0.0f ? blk[e] : beta * *a + blk[e];
    }
}

extern "C" void dt_cuk_im2col(cudaStream_t st, const dt_conv_geom *g, const float *x, int64_t s0,
                              int64_t ns, float *col)
{
    const int64_t total = g->c * g->kh * g->kw * ns * g->oh * g->ow;
    if (total <= 0) return;
    k_im2col<<<grid_for(total), THREADS, 0, st>>>(*g, x, s0, ns, col);
    DT_CUDA_LAUNCHED("k_im2col");
}

extern "C" void dt_cuk_col2im(cudaStream_t st, const dt_conv_geom *g, const float *col,
                              int64_t s0, int64_t ns, float *dx)
{
    const int64_t total = ns * g->c * g->h * g->w;
    if (total <= 0) return;
    k_col2im<<<grid_for(total), THREADS, 0, st>>>(*g, col, s0, ns, dx);
    DT_CUDA_LAUNCHED("k_col2im");
}

extern "C" void dt_cuk_conv_shuffle(cudaStream_t st, float *y, int64_t oc, int64_t ohw,
                                    int64_t s0, int64_t ns, float *blk, int to_block,
                                    float beta)
{
    const int64_t total = oc * ns * ohw;
    if (total <= 0) return;
    k_conv_shuffle<<<grid_for(total), THREADS, 0, st>>>(y, oc, ohw, s0, ns, blk, to_block,
                                                        beta);
    DT_CUDA_LAUNCHED("k_conv_shuffle");
}

/* ---- channel bias and channel sums over (n, c, hw) ---- */

static __global__ void k_channel_bias_add(float *y, const float *b, int64_t n, int64_t c,
                                          int64_t hw)
{
    GRID_STRIDE(i, n * c * hw) y[i] += b[(i / hw) % c];
}

/* One block per channel: db = beta db + sum over n and hw (beta 0:
 * overwrite). */
static __global__ void k_channel_sum(float *db, const float *dy, int64_t n, int64_t c,
                                     int64_t hw, float beta)
{
    __shared__ double sh[THREADS];
    const int64_t ch = blockIdx.x;
    double acc = 0.0;
    for (int64_t t = threadIdx.x; t < n * hw; t += THREADS)
        acc += dy[((t / hw) * c + ch) * hw + t % hw];
    const double s = block_sum(acc, sh);
    if (threadIdx.x == 0) db[ch] = beta == 0.0f ? (float)s : beta * db[ch] + (float)s;
}

extern "C" void dt_cuk_channel_bias_add(cudaStream_t st, float *y, const float *b, int64_t n,
                                        int64_t c, int64_t hw)
{
    if (n * c * hw <= 0) return;
    k_channel_bias_add<<<grid_for(n * c * hw), THREADS, 0, st>>>(y, b, n, c, hw);
    DT_CUDA_LAUNCHED("k_channel_bias_add");
}

extern "C" void dt_cuk_channel_sum(cudaStream_t st, float *db, const float *dy, int64_t n,
                                   int64_t c, int64_t hw, float beta)
{
    if (c <= 0) return;
    k_channel_sum<<<(unsigned)c, THREADS, 0, st>>>(db, dy, n, c, hw, beta);
    DT_CUDA_LAUNCHED("k_channel_sum");
}

/* ---- pooling ---- */

/* The window of output (oy, ox) clipped to the image, and the divisor of
 * average pooling, as cpu_conv.c's window_of. */
struct pool_window {
    int64_t y0, y1, x0, x1, count;
};

static __device__ pool_window window_of(const dt_pool_geom &g, int64_t oy, int64_t ox)
{
    const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    const int64_t y1 = y0 + g.kh, x1 = x0 + g.kw;
    const int64_t py1 = y1 < g.h + g.ph ? y1 : g.h + g.ph;
    const int64_t px1 = x1 < g.w + g.pw ? x1 : g.w + g.pw;
    pool_window w;
    w.y0 = y0 < 0 ? 0 : y0;
    w.x0 = x0 < 0 ? 0 : x0;
    w.y1 = y1 < g.h ? y1 : g.h;
    w.x1 = x1 < g.w ? x1 : g.w;
    w.count = g.count_pad ? (py1 - y0) * (px1 - x0) : (w.y1 - w.y0) * (w.x1 - w.x0);
    return w;
}

static __global__ void k_pool_forward(dt_pool_geom g, int64_t planes, const float *x, float *y,
                                      int32_t *arg)
{
    const int64_t out = g.oh * g.ow, in = g.h * g.w;
    GRID_STRIDE(e, planes * out)
    {
        const int64_t p = e / out, o = e - p * out, oy = o / g.ow, ox = o - oy * g.ow;
        const pool_window wd = window_of(g, oy, ox);
        const float *xp = x + p * in;
        if (g.max) {
            float best = -INFINITY;
            int32_t at = (int32_t)(wd.y0 * g.w + wd.x0);
            for (int64_t iy = wd.y0; iy < wd.y1; iy++)
                for (int64_t ix = wd.x0; ix < wd.x1; ix++)
                    if (xp[iy * g.w + ix] > best) {
                        best = xp[iy * g.w + ix];
                        at = (int32_t)(iy * g.w + ix);
                    }
            y[e] = best;
            if (arg) arg[e] = at;
        } else {
            float s = 0.0f;
            for (int64_t iy = wd.y0; iy < wd.y1; iy++)
                for (int64_t ix = wd.x0; ix < wd.x1; ix++) s += xp[iy * g.w + ix];
            y[e] = wd.count > 0 ? s / (float)wd.count : 0.0f;
        }
    }
}

/* dx += the gradients of the outputs whose window holds each element: for
 * max pooling those whose arg-max it is, for average dy / count. */
static __global__ void k_pool_backward(dt_pool_geom g, int64_t planes, const float *dy,
                                       const int32_t *arg, float *dx)
{
    const int64_t out = g.oh * g.ow, in = g.h * g.w;
    GRID_STRIDE(e, planes * in)
    {
        const int64_t p = e / in, at = e - p * in, iy = at / g.w, ix = at - iy * g.w;
        /* oy*sh - ph <= iy < oy*sh - ph + kh, likewise ox */
        const int64_t ly = iy + g.ph - g.kh + 1, lx = ix + g.pw - g.kw + 1;
        const int64_t oy0 = ly <= 0 ? 0 : (ly + g.sh - 1) / g.sh;
        const int64_t ox0 = lx <= 0 ? 0 : (lx + g.sw - 1) / g.sw;
        const int64_t ty = (iy + g.ph) / g.sh, tx = (ix + g.pw) / g.sw;
        const int64_t oy1 = ty < g.oh - 1 ? ty : g.oh - 1;
        const int64_t ox1 = tx < g.ow - 1 ? tx : g.ow - 1;
        float acc = 0.0f;
        for (int64_t oy = oy0; oy <= oy1; oy++)
            for (int64_t ox = ox0; ox <= ox1; ox++) {
                const int64_t o = p * out + oy * g.ow + ox;
                if (g.max) {
                    if (arg[o] == (int32_t)at) acc += dy[o];
                } else {
                    const int64_t cnt = window_of(g, oy, ox).count;
                    if (cnt > 0) acc += dy[o] / (float)cnt;
                }
            }
        dx[e] += acc;
    }
}

extern "C" void dt_cuk_pool_forward(cudaStream_t st, const dt_pool_geom *g, int64_t n,
                                    const float *x, float *y, int32_t *arg)
{
    const int64_t total = n * g->c * g->oh * g->ow;
    if (total <= 0) return;
    k_pool_forward<<<grid_for(total), THREADS, 0, st>>>(*g, n * g->c, x, y, arg);
    DT_CUDA_LAUNCHED("k_pool_forward");
}

extern "C" void dt_cuk_pool_backward(cudaStream_t st, const dt_pool_geom *g, int64_t n,
                                     const float *dy, const int32_t *arg, float *dx)
{
    const int64_t total = n * g->c * g->h * g->w;
    if (total <= 0) return;
    k_pool_backward<<<grid_for(total), THREADS, 0, st>>>(*g, n * g->c, dy, arg, dx);
    DT_CUDA_LAUNCHED("k_pool_backward");
}

/* ---- batch normalization: one block per channel ---- */

static __device__ __forceinline__ int64_t chan_at(int64_t t, int64_t ch, int64_t c, int64_t hw)
{
    return ((t / hw) * c + ch) * hw + t % hw;
}

static __global__ void k_bn_stats(const float *x, int64_t n, int64_t c, int64_t hw, float *mean,
                                  float *var)
{
    __shared__ double sh[THREADS];
    const int64_t ch = blockIdx.x, cnt = n * hw;
    double s = 0.0, ss = 0.0;
    for (int64_t t = threadIdx.x; t < cnt; t += THREADS) s += x[chan_at(t, ch, c, hw)];
    const double mu = block_sum(s, sh) / (double)cnt;
    for (int64_t t = threadIdx.x; t < cnt; t += THREADS) {
        const double d = x[chan_at(t, ch, c, hw)] - mu;
        ss += d * d;
    }
    const double var_sum = block_sum(ss, sh);
    if (threadIdx.x == 0) {
        mean[ch] = (float)mu;
        var[ch] = (float)(var_sum / (double)cnt);
    }
}

static __global__ void k_bn_rstd(const float *var, float eps, int64_t c, float *rstd)
{
    GRID_STRIDE(ch, c) rstd[ch] = 1.0f / sqrtf(var[ch] + eps);
}

static __global__ void k_bn_apply(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                                  const float *mean, const float *rstd, const float *gamma,
                                  const float *beta)
{
    GRID_STRIDE(i, n * c * hw)
    {
        const int64_t ch = (i / hw) % c;
        const float a = gamma[ch] * rstd[ch], b = beta[ch] - mean[ch] * a;
        y[i] = a * x[i] + b;
    }
}

static __global__ void k_bn_backward(const float *x, const float *dy, float *dx, int64_t n,
                                     int64_t c, int64_t hw, const float *mean,
                                     const float *rstd, const float *gamma, float *dgamma,
                                     float *dbeta, float beta, int batch_stats)
{
    __shared__ double sh[THREADS];
    const int64_t ch = blockIdx.x, cnt = n * hw;
    const float mu = mean[ch], r = rstd[ch];
    double s1 = 0.0, s2 = 0.0; /* sum dy, sum dy * xhat */
    for (int64_t t = threadIdx.x; t < cnt; t += THREADS) {
        const int64_t i = chan_at(t, ch, c, hw);
        s1 += dy[i];
        s2 += (double)dy[i] * (x[i] - mu) * r;
    }
    s1 = block_sum(s1, sh);
    s2 = block_sum(s2, sh);
    if (threadIdx.x == 0) {
        dgamma[ch] = beta == 0.0f ? (float)s2 : beta * dgamma[ch] + (float)s2;
        dbeta[ch] = beta == 0.0f ? (float)s1 : beta * dbeta[ch] + (float)s1;
    }
    if (!dx) return;
    const float a = gamma[ch] * r;
    const float m1 = batch_stats ? (float)(s1 / (double)cnt) : 0.0f;
    const float m2 = batch_stats ? (float)(s2 / (double)cnt) : 0.0f;
    for (int64_t t = threadIdx.x; t < cnt; t += THREADS) {
        const int64_t i = chan_at(t, ch, c, hw);
        dx[i] += a * (dy[i] - m1 - (x[i] - mu) * r * m2);
    }
}

extern "C" void dt_cuk_bn_stats(cudaStream_t st, const float *x, int64_t n, int64_t c,
                                int64_t hw, float *mean, float *var)
{
    if (c <= 0) return;
    k_bn_stats<<<(unsigned)c, THREADS, 0, st>>>(x, n, c, hw, mean, var);
    DT_CUDA_LAUNCHED("k_bn_stats");
}

extern "C" void dt_cuk_bn_forward(cudaStream_t st, const float *x, float *y, int64_t n,
                                  int64_t c, int64_t hw, const float *mean, const float *var,
                                  float eps, const float *gamma, const float *beta, float *rstd)
{
    if (c <= 0) return;
    k_bn_rstd<<<grid_for(c), THREADS, 0, st>>>(var, eps, c, rstd);
    DT_CUDA_LAUNCHED("k_bn_rstd");
    if (n * c * hw <= 0) return;
    k_bn_apply<<<grid_for(n * c * hw), THREADS, 0, st>>>(x, y, n, c, hw, mean, rstd, gamma,
                                                         beta);
    DT_CUDA_LAUNCHED("k_bn_apply");
}

extern "C" void dt_cuk_bn_backward(cudaStream_t st, const float *x, const float *dy, float *dx,
                                   int64_t n, int64_t c, int64_t hw, const float *mean,
                                   const float *rstd, const float *gamma, float *dgamma,
                                   float *dbeta, float beta, int batch_stats)
{
    if (c <= 0) return;
    k_bn_backward<<<(unsigned)c, THREADS, 0, st>>>(x, dy, dx, n, c, hw, mean, rstd, gamma,
                                                   dgamma, dbeta, beta, batch_stats);
    DT_CUDA_LAUNCHED("k_bn_backward");
}

/* ---- group / layer normalization: one block per (sample, group) ---- */

static __device__ __forceinline__ float coef(const float *v, int per_elem, int64_t k,
                                             int64_t hw, float dflt)
{
    return v ? v[per_elem ? k : k / hw] : dflt;
}

static __global__ void k_gn_forward(const float *x, float *y, int64_t hw, int64_t groups,
                                    int64_t len, float eps, const float *gamma,
                                    const float *beta, int per_elem, float *stats)
{
    __shared__ double sh[THREADS];
    const int64_t r = blockIdx.x;
    const float *p = x + r * len;
    double s = 0.0, ss = 0.0;
    for (int64_t k = threadIdx.x; k < len; k += THREADS) s += p[k];
    const double mu = block_sum(s, sh) / (double)len;
    for (int64_t k = threadIdx.x; k < len; k += THREADS) ss += (p[k] - mu) * (p[k] - mu);
    ss = block_sum(ss, sh);
    const float rs = (float)(1.0 / sqrt(ss / (double)len + eps));
    if (threadIdx.x == 0) {
        stats[2 * r] = (float)mu;
        stats[2 * r + 1] = rs;
    }
    const int64_t base = (r % groups) * len; /* position within the sample */
    for (int64_t k = threadIdx.x; k < len; k += THREADS) {
        const float xh = (p[k] - (float)mu) * rs;
        y[r * len + k] = coef(gamma, per_elem, base + k, hw, 1.0f) * xh +
                         coef(beta, per_elem, base + k, hw, 0.0f);
    }
}

static __global__ void k_gn_backward_x(const float *x, const float *dy, float *dx, int64_t hw,
                                       int64_t groups, int64_t len, const float *gamma,
                                       int per_elem, const float *stats)
{
    __shared__ double sh[THREADS];
    const int64_t r = blockIdx.x, base = (r % groups) * len;
    const float mu = stats[2 * r], rs = stats[2 * r + 1];
    double m1 = 0.0, m2 = 0.0;
    for (int64_t k = threadIdx.x; k < len; k += THREADS) {
        const float g = coef(gamma, per_elem, base + k, hw, 1.0f) * dy[r * len + k];
        m1 += g;
        m2 += (double)g * (x[r * len + k] - mu) * rs;
    }
    m1 = block_sum(m1, sh) / (double)len;
    m2 = block_sum(m2, sh) / (double)len;
    for (int64_t k = threadIdx.x; k < len; k += THREADS) {
        const float g = coef(gamma, per_elem, base + k, hw, 1.0f) * dy[r * len + k];
        const float xh = (x[r * len + k] - mu) * rs;
        dx[r * len + k] += rs * (g - (float)m1 - xh * (float)m2);
    }
}

/* Per-element affine (layer norm): one thread per element j of (c, hw),
 * summing over the samples in order. */
static __global__ void k_gn_param_elem(const float *x, const float *dy, int64_t n,
                                       int64_t numel, int64_t groups, int64_t len,
                                       const float *stats, float *dgamma, float *dbeta,
                                       float beta)
{
    GRID_STRIDE(j, numel)
    {
        float dg = beta == 0.0f ? 0.0f : beta * dgamma[j];
        float db = beta == 0.0f ? 0.0f : beta * dbeta[j];
        for (int64_t i = 0; i < n; i++) {
            const int64_t r = i * groups + j / len, e = i * numel + j;
            dg += dy[e] * (x[e] - stats[2 * r]) * stats[2 * r + 1];
            db += dy[e];
        }
        dgamma[j] = dg;
        dbeta[j] = db;
    }
}

/* Per-channel affine (group norm): one block per channel. */
static __global__ void k_gn_param_channel(const float *x, const float *dy, int64_t n,
                                          int64_t c, int64_t hw, int64_t groups,
                                          const float *stats, float *dgamma, float *dbeta,
                                          float beta)
{
    __shared__ double sh[THREADS];
    const int64_t ch = blockIdx.x, cg = c / groups;
    double sg = 0.0, sb = 0.0;
    for (int64_t t = threadIdx.x; t < n * hw; t += THREADS) {
        const int64_t i = t / hw, e = chan_at(t, ch, c, hw), r = i * groups + ch / cg;
        sg += (double)(dy[e] * (x[e] - stats[2 * r]) * stats[2 * r + 1]);
        sb += dy[e];
    }
    sg = block_sum(sg, sh);
    sb = block_sum(sb, sh);
    if (threadIdx.x == 0) {
        dgamma[ch] = beta == 0.0f ? (float)sg : beta * dgamma[ch] + (float)sg;
        dbeta[ch] = beta == 0.0f ? (float)sb : beta * dbeta[ch] + (float)sb;
    }
}

extern "C" void dt_cuk_gn_forward(cudaStream_t st, const float *x, float *y, int64_t n,
                                  int64_t c, int64_t hw, int64_t groups, float eps,
                                  const float *gamma, const float *beta, int per_elem,
                                  float *stats)
{
    if (n * groups <= 0) return;
    k_gn_forward<<<(unsigned)(n * groups), THREADS, 0, st>>>(x, y, hw, groups, c / groups * hw,
                                                             eps, gamma, beta, per_elem, stats);
    DT_CUDA_LAUNCHED("k_gn_forward");
}

extern "C" void dt_cuk_gn_backward(cudaStream_t st, const float *x, const float *dy, float *dx,
                                   int64_t n, int64_t c, int64_t hw, int64_t groups,
                                   const float *gamma, int per_elem, const float *stats,
                                   float *dgamma, float *dbeta, float beta)
{
    const int64_t len = c / groups * hw;
    if (gamma && per_elem && c * hw > 0) {
        k_gn_param_elem<<<grid_for(c * hw), THREADS, 0, st>>>(x, dy, n, c * hw, groups, len,
                                                              stats, dgamma, dbeta, beta);
        DT_CUDA_LAUNCHED("k_gn_param_elem");
    } else if (gamma && c > 0) {
        k_gn_param_channel<<<(unsigned)c, THREADS, 0, st>>>(x, dy, n, c, hw, groups, stats,
                                                            dgamma, dbeta, beta);
        DT_CUDA_LAUNCHED("k_gn_param_channel");
    }
    if (!dx || n * groups <= 0) return;
    k_gn_backward_x<<<(unsigned)(n * groups), THREADS, 0, st>>>(x, dy, dx, hw, groups, len,
                                                                gamma, per_elem, stats);
    DT_CUDA_LAUNCHED("k_gn_backward_x");
}

/* ---- local response normalization: one thread per element ---- */

static __global__ void k_lrn_forward(const float *x, float *y, float *d, int64_t n, int64_t c,
                                     int64_t hw, int64_t size, float alpha, float beta, float k)
{
    const int64_t before = size / 2, after = (size - 1) / 2;
    const float a = alpha / (float)size;
    GRID_STRIDE(o, n * c * hw)
    {
        const int64_t i = o / (c * hw), ch = (o / hw) % c, p = o % hw;
        const int64_t lo = ch - before < 0 ? 0 : ch - before;
        const int64_t hi = ch + after >= c ? c - 1 : ch + after;
        float s = 0.0f;
        for (int64_t j = lo; j <= hi; j++) {
            const float v = x[(i * c + j) * hw + p];
            s += v * v;
        }
        const float dv = k + a * s;
        d[o] = dv;
        y[o] = x[o] * powf(dv, -beta);
    }
}

static __global__ void k_lrn_backward(const float *x, const float *d, const float *dy,
                                      float *dx, int64_t n, int64_t c, int64_t hw, int64_t size,
                                      float alpha, float beta)
{
    const int64_t before = size / 2, after = (size - 1) / 2;
    const float a = alpha / (float)size;
    GRID_STRIDE(o, n * c * hw)
    {
        const int64_t i = o / (c * hw), j = (o / hw) % c, p = o % hw;
        const int64_t lo = j - after < 0 ? 0 : j - after;
        const int64_t hi = j + before >= c ? c - 1 : j + before;
        float s = 0.0f;
        for (int64_t ch = lo; ch <= hi; ch++) {
            const int64_t q = (i * c + ch) * hw + p;
            s += dy[q] * x[q] * powf(d[q], -beta - 1.0f);
        }
        dx[o] += dy[o] * powf(d[o], -beta) - 2.0f * a * beta * x[o] * s;
    }
}

extern "C" void dt_cuk_lrn_forward(cudaStream_t st, const float *x, float *y, float *d,
                                   int64_t n, int64_t c, int64_t hw, int64_t size, float alpha,
                                   float beta, float k)
{
    if (n * c * hw <= 0) return;
    k_lrn_forward<<<grid_for(n * c * hw), THREADS, 0, st>>>(x, y, d, n, c, hw, size, alpha,
                                                            beta, k);
    DT_CUDA_LAUNCHED("k_lrn_forward");
}

extern "C" void dt_cuk_lrn_backward(cudaStream_t st, const float *x, const float *d,
                                    const float *dy, float *dx, int64_t n, int64_t c,
                                    int64_t hw, int64_t size, float alpha, float beta)
{
    if (n * c * hw <= 0) return;
    k_lrn_backward<<<grid_for(n * c * hw), THREADS, 0, st>>>(x, d, dy, dx, n, c, hw, size,
                                                             alpha, beta);
    DT_CUDA_LAUNCHED("k_lrn_backward");
}

/* ---- upsampling ---- */

/* Bilinear source of output o (align_corners false), as cpu_conv.c. */
static __device__ void bilin_src(int64_t o, int64_t in, int64_t out, int64_t *i0, int64_t *i1,
                                 float *t)
{
    float s = ((float)o + 0.5f) * (float)in / (float)out - 0.5f;
    if (s < 0.0f) s = 0.0f;
    int64_t a = (int64_t)s;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + 1 < in ? a + 1 : in - 1;
    *t = s - (float)a;
}

/* The weight input row i gets from output row o along one axis. */
static __device__ float bilin_weight(int64_t o, int64_t i, int64_t in, int64_t out)
{
    int64_t i0, i1;
    float t;
    bilin_src(o, in, out, &i0, &i1, &t);
    return (i0 == i ? 1.0f - t : 0.0f) + (i1 == i ? t : 0.0f);
}

/* Output rows that may read input row i: a superset of those that do. */
static __device__ void bilin_range(int64_t i, int64_t in, int64_t out, int64_t *lo, int64_t *hi)
{
    const float r = (float)out / (float)in;
    const int64_t a = (int64_t)floorf(((float)i - 0.5f) * r - 0.5f) - 1;
    const int64_t b = (int64_t)ceilf(((float)i + 1.5f) * r) + 1;
    *lo = a < 0 ? 0 : a;
    *hi = b > out ? out : b;
}

static __global__ void k_upsample_forward(int bilinear, const float *x, float *y,
                                          int64_t planes, int64_t h, int64_t w, int64_t oh,
                                          int64_t ow)
{
    GRID_STRIDE(e, planes * oh * ow)
    {
        const int64_t p = e / (oh * ow), oy = (e / ow) % oh, ox = e % ow;
        const float *src = x + p * h * w;
        if (!bilinear) {
            y[e] = src[(oy * h / oh) * w + ox * w / ow];
            continue;
        }
        int64_t y0, y1, x0, x1;
        float ty, tx;
        bilin_src(oy, h, oh, &y0, &y1, &ty);
        bilin_src(ox, w, ow, &x0, &x1, &tx);
        const float top = (1 - tx) * src[y0 * w + x0] + tx * src[y0 * w + x1];
        const float bottom = (1 - tx) * src[y1 * w + x0] + tx * src[y1 * w + x1];
        y[e] = (1 - ty) * top + ty * bottom;
    }
}

static __global__ void k_upsample_backward(int bilinear, const float *dy, float *dx,
                                           int64_t planes, int64_t h, int64_t w, int64_t oh,
                                           int64_t ow)
{
    GRID_STRIDE(e, planes * h * w)
    {
        const int64_t p = e / (h * w), iy = (e / w) % h, ix = e % w;
        const float *g = dy + p * oh * ow;
        float acc = 0.0f;
        if (!bilinear) {
            /* outputs with oy * h / oh == iy: oy in [ceil(iy oh / h), ceil((iy+1) oh / h)) */
            const int64_t oy0 = (iy * oh + h - 1) / h, oy1 = ((iy + 1) * oh + h - 1) / h;
            const int64_t ox0 = (ix * ow + w - 1) / w, ox1 = ((ix + 1) * ow + w - 1) / w;
            for (int64_t oy = oy0; oy < oy1 && oy < oh; oy++)
                for (int64_t ox = ox0; ox < ox1 && ox < ow; ox++) acc += g[oy * ow + ox];
        } else {
            int64_t oy0, oy1, ox0, ox1;
            bilin_range(iy, h, oh, &oy0, &oy1);
            bilin_range(ix, w, ow, &ox0, &ox1);
            for (int64_t oy = oy0; oy < oy1; oy++) {
                const float wy = bilin_weight(oy, iy, h, oh);
                if (wy == 0.0f) continue;
                for (int64_t ox = ox0; ox < ox1; ox++) {
                    const float wx = bilin_weight(ox, ix, w, ow);
                    if (wx != 0.0f) acc += wy * wx * g[oy * ow + ox];
                }
            }
        }
        dx[e] += acc;
    }
}

extern "C" void dt_cuk_upsample_forward(cudaStream_t st, int bilinear, const float *x, float *y,
                                        int64_t planes, int64_t h, int64_t w, int64_t oh,
                                        int64_t ow)
{
    if (planes * oh * ow <= 0) return;
    k_upsample_forward<<<grid_for(planes * oh * ow), THREADS, 0, st>>>(bilinear, x, y, planes,
                                                                       h, w, oh, ow);
    DT_CUDA_LAUNCHED("k_upsample_forward");
}

extern "C" void dt_cuk_upsample_backward(cudaStream_t st, int bilinear, const float *dy,
                                         float *dx, int64_t planes, int64_t h, int64_t w,
                                         int64_t oh, int64_t ow)
{
    if (planes * h * w <= 0) return;
    k_upsample_backward<<<grid_for(planes * h * w), THREADS, 0, st>>>(bilinear, dy, dx, planes,
                                                                      h, w, oh, ow);
    DT_CUDA_LAUNCHED("k_upsample_backward");
}

/* ---- per-pixel cross-entropy: one thread per pixel ---- */

static __global__ void k_ce_pixels(const float *logits, const float *labels, int64_t rows,
                                   int64_t classes, int64_t hw, float smoothing, float scale,
                                   float *dx, double *pix_loss, double *pix_ok,
                                   unsigned long long *confusion)
{
    const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;
    const float sc = scale / (float)hw;
    GRID_STRIDE(e, rows * hw)
    {
        const int64_t r = e / hw, p = e - r * hw;
        const float *z = logits + r * classes * hw + p;
        float *d = dx + r * classes * hw + p;
        const int64_t label = (int64_t)labels[e];
        int64_t arg = 0;
        for (int64_t j = 1; j < classes; j++) arg = z[j * hw] > z[arg * hw] ? j : arg;
        if (confusion && label >= 0 && label < classes)
            atomicAdd(&confusion[label * classes + arg], 1ull);
        const double mx = z[arg * hw];
        double s = 0.0, tz = 0.0;
        for (int64_t j = 0; j < classes; j++) {
            s += exp((double)z[j * hw] - mx);
            tz += (double)(j == label ? on : off) * z[j * hw];
        }
        const double lse = mx + log(s);
        pix_loss[e] = lse - tz;
        pix_ok[e] = arg == label ? 1.0 : 0.0;
        for (int64_t j = 0; j < classes; j++) {
            const float prob = (float)exp((double)z[j * hw] - lse);
            d[j * hw] = sc * (prob - (j == label ? on : off));
        }
    }
}

/* One block per row: row_loss = mean of its pixels' losses, row_ok = the
 * number of its correct pixels. */
static __global__ void k_ce_pixel_rows(const double *pix_loss, const double *pix_ok, int64_t hw,
                                       double *row_loss, double *row_ok)
{
    __shared__ double sh[THREADS];
    const int64_t r = blockIdx.x;
    double l = 0.0, k = 0.0;
    for (int64_t p = threadIdx.x; p < hw; p += THREADS) {
        l += pix_loss[r * hw + p];
        k += pix_ok[r * hw + p];
    }
    l = block_sum(l, sh);
    k = block_sum(k, sh);
    if (threadIdx.x == 0) {
        row_loss[r] = l / (double)hw;
        row_ok[r] = k;
    }
}

extern "C" void dt_cuk_ce_pixels(cudaStream_t st, const float *logits, const float *labels,
                                 int64_t rows, int64_t classes, int64_t hw, float smoothing,
                                 float scale, float *dx, double *work, int64_t *confusion,
                                 double *sums)
{
    double *pix_loss = work, *pix_ok = work + rows * hw;
    double *row_loss = pix_ok + rows * hw, *row_ok = row_loss + rows;
    if (rows * hw > 0) {
        k_ce_pixels<<<grid_for(rows * hw), THREADS, 0, st>>>(
            logits, labels, rows, classes, hw, smoothing, scale, dx, pix_loss, pix_ok,
            (unsigned long long *)confusion);
        DT_CUDA_LAUNCHED("k_ce_pixels");
        k_ce_pixel_rows<<<(unsigned)rows, THREADS, 0, st>>>(pix_loss, pix_ok, hw, row_loss,
                                                           row_ok);
        DT_CUDA_LAUNCHED("k_ce_pixel_rows");
    }
    const int64_t counted = rows * hw > 0 ? rows : 0;
    k_sum_doubles<<<1, THREADS, 0, st>>>(row_loss, counted, 1, sums);
    DT_CUDA_LAUNCHED("k_sum_doubles (pixel loss)");
    k_sum_doubles<<<1, THREADS, 0, st>>>(row_ok, counted, 1, sums + 1);
    DT_CUDA_LAUNCHED("k_sum_doubles (pixel correct)");
    k_sum_doubles<<<1, THREADS, 0, st>>>(row_ok, 0, 1, sums + 2);
    DT_CUDA_LAUNCHED("k_sum_doubles (pixel top-5)");
}
