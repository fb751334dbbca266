/* CUDA kernels of the transformer ops and their launchers (extern "C"):
 * scaled dot-product attention over (sample, head) blocks, BERT's token
 * types and the per-token cross-entropy. The CPU twins are in
 * cpu/cpu_attn.c.
 *
 * Attention works on a chunk of `nb` blocks at a time, blocks k0 .. k0+nb
 * of the n * heads (sample, head) blocks, with (T, T) tiles in the
 * workspace: P (probabilities), Pd (after dropout) and dP (their
 * gradient). Each product is one thread per output element summing in
 * order, each softmax row one warp, so nothing depends on scheduling, and
 * dropout draws the CPU's Philox numbers (mask bit-identical). */
#include <math.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/kernels_util.cuh"
#include "core/philox.h"

/* The geometry of a chunk, passed by value. */
struct attn_chunk {
    int64_t T, D, H, C, k0, nb;
    float scale;
};

static __device__ __forceinline__ const float *q_of(const float *qkv, const attn_chunk &a,
                                                    int64_t k)
{
    const int64_t b = k / a.H, h = k % a.H;
    return qkv + b * a.T * 3 * a.C + h * a.D;
}

/* Keys query i of sample b may see: j < limit (as cpu_attn.c). */
static __device__ __forceinline__ int64_t key_limit(const float *lengths, int causal,
                                                    int64_t T, int64_t b, int64_t i)
{
    int64_t len = T;
    if (lengths) {
        const float l = lengths[b];
        len = l < 0.0f ? 0 : l < (float)T ? (int64_t)l : T;
    }
    if (causal && i + 1 < len) len = i + 1;
    return len;
}

/* P[kk][i][j] = scale * q_i . k_j */
static __global__ void k_attn_scores(attn_chunk a, const float *qkv, float *P)
{
    GRID_STRIDE(e, a.nb * a.T * a.T)
    {
        const int64_t kk = e / (a.T * a.T), i = (e / a.T) % a.T, j = e % a.T;
        const float *q = q_of(qkv, a, a.k0 + kk), *k = q + a.C;
        float s = 0.0f;
        for (int64_t d = 0; d < a.D; d++) s += q[i * 3 * a.C + d] * k[j * 3 * a.C + d];
        P[e] = a.scale * s;
    }
}

/* Masked softmax of each row in place, one warp per (block, query) row. */
static __global__ void k_attn_softmax(attn_chunk a, const float *lengths, int causal, float *P)
{
    const int64_t row = (int64_t)blockIdx.x * (THREADS / WARP) + threadIdx.x / WARP;
    const int lane = (int)(threadIdx.x % WARP);
    if (row >= a.nb * a.T) return;
    const int64_t kk = row / a.T, i = row % a.T, b = (a.k0 + kk) / a.H;
    const int64_t lim = key_limit(lengths, causal, a.T, b, i);
    float *p = P + row * a.T;
    float mx = -INFINITY;
    for (int64_t j = lane; j < lim; j += WARP) mx = fmaxf(mx, p[j]);
    for (int o = WARP / 2; o > 0; o /= 2) mx = fmaxf(mx, __shfl_down_sync(0xffffffffu, mx, o));
    mx = __shfl_sync(0xffffffffu, mx, 0);
    float sum = 0.0f;
    for (int64_t j = lane; j < lim; j += WARP) sum += (p[j] = expf(p[j] - mx));
    sum = warp_sum(sum);
    const float inv = lim ? 1.0f / sum : 0.0f;
    for (int64_t j = lane; j < a.T; j += WARP) p[j] = j < lim ? p[j] * inv : 0.0f;
}

/* Pd = P with inverted dropout: uniform number ((index[b] H + h) T + i) T + j. */
static __global__ void k_attn_dropout(attn_chunk a, const float *P, float *Pd,
                                      const int64_t *index, dt_rng rng, float p)
{
    const float keep = 1.0f / (1.0f - p);
    GRID_STRIDE(e, a.nb * a.T * a.T)
    {
        const int64_t k = a.k0 + e / (a.T * a.T), b = k / a.H, h = k % a.H;
        const uint64_t n = ((uint64_t)index[b] * (uint64_t)a.H + (uint64_t)h) *
                               (uint64_t)(a.T * a.T) + (uint64_t)(e % (a.T * a.T));
        Pd[e] = dt_philox_unit(dt_philox_u32(rng.key, rng.ctr_hi, n)) >= p ? P[e] * keep : 0.0f;
    }
}

/* ctx[b, i, h D + d] = sum_j P[i][j] v_j[d] */
static __global__ void k_attn_context(attn_chunk a, const float *P, const float *qkv, float *ctx)
{
    GRID_STRIDE(e, a.nb * a.T * a.D)
    {
        const int64_t kk = e / (a.T * a.D), i = (e / a.D) % a.T, d = e % a.D;
        const int64_t k = a.k0 + kk, b = k / a.H, h = k % a.H;
        const float *v = q_of(qkv, a, k) + 2 * a.C, *p = P + (kk * a.T + i) * a.T;
        float s = 0.0f;
        for (int64_t j = 0; j < a.T; j++) s += p[j] * v[j * 3 * a.C + d];
        ctx[(b * a.T + i) * a.C + h * a.D + d] = s;
    }
}

/* dP[i][j] = sum_d dO_i[d] v_j[d] */
static __global__ void k_attn_dprobs(attn_chunk a, const float *qkv, const float *dctx,
                                     float *dP)
{
    GRID_STRIDE(e, a.nb * a.T * a.T)
    {
        const int64_t kk = e / (a.T * a.T), i = (e / a.T) % a.T, j = e % a.T;
        const int64_t k = a.k0 + kk, b = k / a.H, h = k % a.H;
        const float *v = q_of(qkv, a, k) + 2 * a.C, *g = dctx + (b * a.T + i) * a.C + h * a.D;
        float s = 0.0f;
        for (int64_t d = 0; d < a.D; d++) s += g[d] * v[j * 3 * a.C + d];
        dP[e] = s;
    }
}

/* dS = P (dP - rowsum(dP P)) in place over dP, one warp per row; with
 * dropout dP first becomes the gradient of P through the mask of Pd. */
static __global__ void k_attn_softmax_grad(attn_chunk a, const float *P, const float *Pd,
                                           float keep, float *dP)
{
    const int64_t row = (int64_t)blockIdx.x * (THREADS / WARP) + threadIdx.x / WARP;
    const int lane = (int)(threadIdx.x % WARP);
    if (row >= a.nb * a.T) return;
    const float *p = P + row * a.T;
    float *d = dP + row * a.T;
    if (Pd)
        for (int64_t j = lane; j < a.T; j += WARP)
            d[j] = Pd[row * a.T + j] != 0.0f ? d[j] * keep : 0.0f;
    float dot = 0.0f;
    for (int64_t j = lane; j < a.T; j += WARP) dot += d[j] * p[j];
    dot = warp_sum(dot);
    for (int64_t j = lane; j < a.T; j += WARP) d[j] = p[j] * (d[j] - dot);
}

/* The three input gradients of block k, written (not added):
 * dq_i = scale sum_j dS[i][j] k_j, dk_j = scale sum_i dS[i][j] q_i,
 * dv_j = sum_i Pd[i][j] dO_i. */
static __global__ void k_attn_dqkv(attn_chunk a, const float *qkv, const float *dctx,
                                   const float *Puse, const float *dS, float *dqkv)
{
    GRID_STRIDE(e, a.nb * 3 * a.T * a.D)
    {
        const int64_t kk = e / (3 * a.T * a.D), part = (e / (a.T * a.D)) % 3;
        const int64_t t = (e / a.D) % a.T, d = e % a.D;
        const int64_t k = a.k0 + kk, b = k / a.H, h = k % a.H;
        const float *q = q_of(qkv, a, k), *kv = q + a.C;
        const float *S = dS + kk * a.T * a.T, *Pb = Puse + kk * a.T * a.T;
        const int64_t ld = 3 * a.C;
        float s = 0.0f;
        if (part == 0) {
            for (int64_t j = 0; j < a.T; j++) s += S[t * a.T + j] * kv[j * ld + d];
            s *= a.scale;
        } else if (part == 1) {
            for (int64_t i = 0; i < a.T; i++) s += S[i * a.T + t] * q[i * ld + d];
            s *= a.scale;
        } else {
            const float *g = dctx + b * a.T * a.C + h * a.D + d;
            for (int64_t i = 0; i < a.T; i++) s += Pb[i * a.T + t] * g[i * a.C];
        }
        dqkv[(b * a.T + t) * ld + part * a.C + h * a.D + d] = s;
    }
}

static unsigned grid_warps(int64_t rows)
{
    return (unsigned)((rows + THREADS / WARP - 1) / (THREADS / WARP));
}

/* P (and Pd with dropout) of the chunk. */
static void chunk_probs(cudaStream_t st, const attn_chunk &c, const dt_attn_args *a,
                        const int64_t *dindex, float *P, float *Pd)
{
    k_attn_scores<<<grid_for(c.nb * c.T * c.T), THREADS, 0, st>>>(c, a->qkv, P);
    DT_CUDA_LAUNCHED("k_attn_scores");
    k_attn_softmax<<<grid_warps(c.nb * c.T), THREADS, 0, st>>>(c, a->lengths, a->causal, P);
    DT_CUDA_LAUNCHED("k_attn_softmax");
    if (a->dropout > 0.0f) {
        k_attn_dropout<<<grid_for(c.nb * c.T * c.T), THREADS, 0, st>>>(c, P, Pd, dindex,
                                                                      *a->rng, a->dropout);
        DT_CUDA_LAUNCHED("k_attn_dropout");
    }
}

extern "C" int64_t dt_cuk_attn_chunk_blocks(int64_t steps)
{
    const int64_t tile = steps * steps > 0 ? steps * steps : 1;
    const int64_t nb = ((int64_t)1 << 22) / tile;
    return nb < 1 ? 1 : nb;
}

extern "C" void dt_cuk_attention(cudaStream_t st, const dt_attn_args *a, const int64_t *dindex,
                                 int backward)
{
    const int64_t T = a->steps, blocks = a->n * a->heads;
    const int64_t per = dt_cuk_attn_chunk_blocks(T);
    float *P = a->work, *Pd = P + per * T * T, *dP = Pd + per * T * T;
    const float keep = a->dropout > 0.0f ? 1.0f / (1.0f - a->dropout) : 1.0f;
    for (int64_t k0 = 0; k0 < blocks; k0 += per) {
        const attn_chunk c = {T, a->head_dim, a->heads, a->heads * a->head_dim, k0,
                              blocks - k0 < per ? blocks - k0 : per, a->scale};
        chunk_probs(st, c, a, dindex, P, Pd);
        const float *use = a->dropout > 0.0f ? Pd : P;
        if (!backward) {
            k_attn_context<<<grid_for(c.nb * T * c.D), THREADS, 0, st>>>(c, use, a->qkv,
                                                                         a->ctx);
            DT_CUDA_LAUNCHED("k_attn_context");
            continue;
        }
        k_attn_dprobs<<<grid_for(c.nb * T * T), THREADS, 0, st>>>(c, a->qkv, a->dctx, dP);
        DT_CUDA_LAUNCHED("k_attn_dprobs");
        k_attn_softmax_grad<<<grid_warps(c.nb * T), THREADS, 0, st>>>(
            c, P, a->dropout > 0.0f ? Pd : NULL, keep, dP);
        DT_CUDA_LAUNCHED("k_attn_softmax_grad");
        k_attn_dqkv<<<grid_for(c.nb * 3 * T * c.D), THREADS, 0, st>>>(c, a->qkv, a->dctx, use,
                                                                      dP, a->dqkv);
        DT_CUDA_LAUNCHED("k_attn_dqkv");
    }
}

/* ---- token types and the per-token cross-entropy ---- */

static __global__ void k_token_segments(const float *ids, int64_t rows, int64_t steps, float sep,
                                        float *seg)
{
    GRID_STRIDE(r, rows)
    {
        float type = 0.0f;
        for (int64_t t = 0; t < steps; t++) {
            seg[r * steps + t] = type;
            if (ids[r * steps + t] == sep) type = 1.0f;
        }
    }
}

extern "C" void dt_cuk_token_segments(cudaStream_t st, const float *ids, int64_t rows,
                                      int64_t steps, float sep, float *seg)
{
    if (rows <= 0) return;
    k_token_segments<<<grid_for(rows), THREADS, 0, st>>>(ids, rows, steps, sep, seg);
    DT_CUDA_LAUNCHED("k_token_segments");
}

/* One warp per row: a row whose label is outside [0, classes) gets a zero
 * gradient and no loss; else cpu_attn.c's token_row. */
static __global__ void k_token_ce(const float *logits, const float *labels, int64_t rows,
                                  int64_t classes, float smoothing, float scale, float *dx,
                                  double *row_loss, double *row_ok, double *row_target)
{
    const int64_t r = (int64_t)blockIdx.x * (THREADS / WARP) + threadIdx.x / WARP;
    const int lane = (int)(threadIdx.x % WARP);
    if (r >= rows) return;
    const float *z = logits + r * classes;
    float *d = dx + r * classes;
    const float y = labels[r];
    if (!(y >= 0.0f && y < (float)classes)) {
        for (int64_t j = lane; j < classes; j += WARP) d[j] = 0.0f;
        if (lane == 0) row_loss[r] = row_ok[r] = row_target[r] = 0.0;
        return;
    }
    const int64_t label = (int64_t)y;
    const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;
    float best;
    const int64_t arg = warp_argmax(z, classes, &best);
    const float mx = z[arg];
    float s = 0.0f, zsum = 0.0f;
    for (int64_t j = lane; j < classes; j += WARP) {
        s += expf(z[j] - mx);
        zsum += z[j];
    }
    s = warp_sum(s);
    zsum = warp_sum(zsum);
    const float inv = scale / s;
    for (int64_t j = lane; j < classes; j += WARP)
        d[j] = expf(z[j] - mx) * inv - scale * off - (j == label ? scale * (on - off) : 0.0f);
    if (lane == 0) {
        const double lse = (double)mx + log((double)s);
        row_loss[r] = lse - ((double)(on - off) * z[label] + (double)off * zsum);
        row_ok[r] = arg == label ? 1.0 : 0.0;
        row_target[r] = 1.0;
    }
}

extern "C" void dt_cuk_token_cross_entropy(cudaStream_t st, const float *logits,
                                           const float *labels, int64_t rows, int64_t classes,
                                           float smoothing, float scale, float *dx,
                                           double *row_buffers, double *sums)
{
    double *row_loss = row_buffers, *row_ok = row_loss + rows, *row_target = row_ok + rows;
    if (rows > 0) {
        k_token_ce<<<grid_warps(rows), THREADS, 0, st>>>(logits, labels, rows, classes,
                                                         smoothing, scale, dx, row_loss,
                                                         row_ok, row_target);
        DT_CUDA_LAUNCHED("k_token_ce");
    }
    double *const from[3] = {row_loss, row_ok, row_target};
    for (int k = 0; k < 3; k++) {
        k_sum_doubles<<<1, THREADS, 0, st>>>(from[k], rows, 1, sums + k);
        DT_CUDA_LAUNCHED("k_sum_doubles (token loss)");
    }
}
