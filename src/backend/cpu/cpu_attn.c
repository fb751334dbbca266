/* The CPU backend's transformer ops: scaled dot-product attention over
 * (sample, head) blocks, BERT's token types and the per-token
 * cross-entropy. See backend/backend.h for the contracts.
 *
 * Attention runs one (sample, head) block per OpenMP iteration. Each block
 * is a handful of single-threaded GEMMs of (T, T) by (T, D) on a (T, T)
 * tile in the calling thread's part of the workspace (OpenBLAS's OpenMP
 * build runs a GEMM called inside a parallel region on the calling thread),
 * so the scores of one block stay in cache and the batch never holds a
 * (B, heads, T, T) tensor. Backward recomputes the scores instead of
 * keeping them: one more (T, T, D) product per block, a few percent of a
 * layer's work at T = 128, C = 256. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_attn.h"
#include "backend/cpu/cpu_math.h"
#include "core/rng.h"

/* Tiles per thread: probabilities, dropped probabilities, their gradient. */
#define ATTN_TILES 3

int64_t dt_cpu_attention_workspace(int64_t steps, int64_t heads)
{
    (void)heads;
    return (int64_t)omp_get_max_threads() * ATTN_TILES * steps * steps;
}

/* Keys query i may see: j < limit. */
static int64_t key_limit(const dt_attn_args *a, int64_t b, int64_t i)
{
    int64_t len = a->steps;
    if (a->lengths) {
        const float l = a->lengths[b];
        len = l < 0.0f ? 0 : l < (float)a->steps ? (int64_t)l : a->steps;
    }
    if (a->causal && i + 1 < len) len = i + 1;
    return len;
}

/* P (T, T) = masked softmax over the keys of scale * Q K^T for block
 * (b, h); entries past a row's key limit are 0. */
static void block_probs(const dt_attn_args *a, int64_t b, int64_t h, float *P)
{
    const int64_t T = a->steps, D = a->head_dim, C = a->heads * D;
    const float *q = a->qkv + b * T * 3 * C + h * D;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)D, a->scale, q,
                (int)(3 * C), q + C, (int)(3 * C), 0.0f, P, (int)T);
    for (int64_t i = 0; i < T; i++) {
        float *row = P + i * T;
        const int64_t lim = key_limit(a, b, i);
        float mx = -INFINITY, sum = 0.0f;
        for (int64_t j = 0; j < lim; j++) mx = row[j] > mx ? row[j] : mx;
        for (int64_t j = 0; j < lim; j++) sum += (row[j] = dt_vexpf(row[j] - mx));
        const float inv = lim ? 1.0f / sum : 0.0f;
        for (int64_t j = 0; j < lim; j++) row[j] *= inv;
        for (int64_t j = lim; j < T; j++) row[j] = 0.0f;
    }
}

/* Pd = P with dropout applied (kept entries scaled by 1 / (1 - p)); the
 * uniforms go through Pd first. */
static void block_dropout(const dt_attn_args *a, int64_t b, int64_t h, const float *P,
                          float *Pd)
{
    const int64_t T = a->steps;
    const float p = a->dropout, keep = 1.0f / (1.0f - p);
    const uint64_t first = ((uint64_t)a->index[b] * (uint64_t)a->heads + (uint64_t)h) *
                           (uint64_t)(T * T);
    dt_rng_fill_unit(a->rng, first, Pd, T * T);
    for (int64_t e = 0; e < T * T; e++) Pd[e] = Pd[e] >= p ? P[e] * keep : 0.0f;
}

/* Threads the workspace has room for. */
static int attn_threads(const dt_attn_args *a)
{
    const int64_t per = ATTN_TILES * a->steps * a->steps;
    int64_t t = per ? a->work_floats / per : 1;
    const int64_t want = omp_get_max_threads();
    t = t < want ? t : want;
    return t > 0 ? (int)t : 1;
}

void dt_cpu_attention_forward(const dt_attn_args *a)
{
    const int64_t T = a->steps, D = a->head_dim, H = a->heads, C = H * D;
    const int64_t blocks = a->n * H;
#pragma omp parallel num_threads(attn_threads(a)) if (blocks > 1)
    {
        float *P = a->work + (int64_t)omp_get_thread_num() * ATTN_TILES * T * T;
        float *Pd = P + T * T;
#pragma omp for schedule(static)
        for (int64_t k = 0; k < blocks; k++) {
            const int64_t b = k / H, h = k % H;
            block_probs(a, b, h, P);
            const float *use = P;
            if (a->dropout > 0.0f) {
                block_dropout(a, b, h, P, Pd);
                use = Pd;
            }
            const float *v = a->qkv + b * T * 3 * C + 2 * C + h * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)T,
                        1.0f, use, (int)T, v, (int)(3 * C), 0.0f, a->ctx + b * T * C + h * D,
                        (int)C);
        }
    }
}

/* dS = P * (dP - rowsum(dP * P)), in place over dP; with dropout, dP is
 * first the gradient of the dropped probabilities, masked by Pd. */
static void block_softmax_grad(const dt_attn_args *a, const float *P, const float *Pd, float *dP)
{
    const int64_t T = a->steps;
    const float keep = a->dropout > 0.0f ? 1.0f / (1.0f - a->dropout) : 1.0f;
    for (int64_t i = 0; i < T; i++) {
        const float *p = P + i * T;
        float *d = dP + i * T;
        if (Pd)
            for (int64_t j = 0; j < T; j++) d[j] = Pd[i * T + j] != 0.0f ? d[j] * keep : 0.0f;
        float dot = 0.0f;
        for (int64_t j = 0; j < T; j++) dot += d[j] * p[j];
        for (int64_t j = 0; j < T; j++) d[j] = p[j] * (d[j] - dot);
    }
}

void dt_cpu_attention_backward(const dt_attn_args *a)
{
    const int64_t T = a->steps, D = a->head_dim, H = a->heads, C = H * D;
    const int64_t blocks = a->n * H;
    const int ld = (int)(3 * C);
#pragma omp parallel num_threads(attn_threads(a)) if (blocks > 1)
    {
        float *P = a->work + (int64_t)omp_get_thread_num() * ATTN_TILES * T * T;
        float *Pd = P + T * T, *dP = Pd + T * T;
#pragma omp for schedule(static)
        for (int64_t k = 0; k < blocks; k++) {
            const int64_t b = k / H, h = k % H;
            const float *q = a->qkv + b * T * 3 * C + h * D, *kk = q + C, *v = q + 2 * C;
            const float *dout = a->dctx + b * T * C + h * D;
            float *dq = a->dqkv + b * T * 3 * C + h * D, *dk = dq + C, *dv = dq + 2 * C;
            block_probs(a, b, h, P);
            const int drop = a->dropout > 0.0f;
            if (drop) block_dropout(a, b, h, P, Pd);

            /* dV = Pd^T dO ; dPd = dO V^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f,
                        drop ? Pd : P, (int)T, dout, (int)C, 0.0f, dv, ld);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)D, 1.0f,
                        dout, (int)C, v, ld, 0.0f, dP, (int)T);
            block_softmax_grad(a, P, drop ? Pd : NULL, dP);
            /* dQ = scale dS K ; dK = scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)T,
                        a->scale, dP, (int)T, kk, ld, 0.0f, dq, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)D, (int)T,
                        a->scale, dP, (int)T, q, ld, 0.0f, dk, ld);
        }
    }
}

void dt_cpu_token_segments(const float *ids, int64_t rows, int64_t steps, float sep, float *seg)
{
    for (int64_t r = 0; r < rows; r++) {
        float type = 0.0f;
        for (int64_t t = 0; t < steps; t++) {
            seg[r * steps + t] = type;
            if (ids[r * steps + t] == sep) type = 1.0f;
        }
    }
}

/* One row: loss, gradient and whether the arg-max is the label. */
static double token_row(const float *z, int64_t label, int64_t classes, float smoothing,
                        float scale, float *d, int *correct)
{
    const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;
    int64_t arg = 0;
    for (int64_t j = 1; j < classes; j++) arg = z[j] > z[arg] ? j : arg;
    *correct = arg == label;
    const float mx = z[arg];
    float s = 0.0f, zsum = 0.0f;
    for (int64_t j = 0; j < classes; j++) {
        const float e = dt_vexpf(z[j] - mx);
        d[j] = e;
        s += e;
        zsum += z[j];
    }
    /* loss = logsumexp(z) - sum_j t_j z_j, with sum_j t_j = 1 */
    const double lse = (double)mx + log((double)s);
    const double tz = (double)(on - off) * z[label] + (double)off * zsum;
    const float inv = scale / s;
    for (int64_t j = 0; j < classes; j++) d[j] = d[j] * inv - scale * off;
    d[label] -= scale * (on - off);
    return lse - tz;
}

dt_loss_sums dt_cpu_token_cross_entropy(const float *logits, const float *labels, int64_t rows,
                                        int64_t classes, float smoothing, float scale,
                                        float *dx)
{
    double loss = 0.0;
    int64_t correct = 0, targets = 0;
    /* Rows are independent; the reduction's order varies with the thread
     * count only in the double-precision loss sum. */
#pragma omp parallel for if (rows * classes > 65536) schedule(static) \
    reduction(+ : loss, correct, targets)
    for (int64_t r = 0; r < rows; r++) {
        const float y = labels[r];
        float *d = dx + r * classes;
        if (!(y >= 0.0f && y < (float)classes)) {
            memset(d, 0, (size_t)classes * sizeof *d);
            continue;
        }
        int ok;
        loss += token_row(logits + r * classes, (int64_t)y, classes, smoothing, scale, d, &ok);
        correct += ok;
        targets++;
    }
    return (dt_loss_sums){.loss = loss, .correct = correct, .targets = targets};
}
