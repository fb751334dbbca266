/* CUDA kernels of the sequence ops and their launchers (extern "C"): the
 * elementwise part of one step of an RNN, LSTM or GRU cell, masked row
 * copies between strided buffers, sequence masks and lengths, and
 * embedding gather and scatter. The CPU twins are in cpu/cpu_rnn.c.
 *
 * Cells run one thread per (row, hidden unit), which owns that unit's
 * entries of every gate block, so a step is one pass as on the CPU. The
 * embedding gradient adds rows with float atomics: a token's rows land in
 * an order that varies between runs, so results agree with the CPU's to
 * rounding, not bit for bit. */
#include <math.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/kernels_util.cuh"

static __device__ __forceinline__ float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static __device__ __forceinline__ int row_valid(const dt_cell_step &s, int64_t r)
{
    return !s.mask || s.mask[r * s.ld_mask] != 0.0f;
}

static __global__ void k_lstm_forward(dt_cell_step s)
{
    const int64_t H = s.hidden;
    GRID_STRIDE(e, s.rows * H)
    {
        const int64_t r = e / H, j = e - r * H;
        float *g = s.gates + r * s.ld_gates;
        const float cp = s.c_prev[r * s.ld_state + j], hp = s.h_prev[r * s.ld_state + j];
        const float i = sigm(g[j]), f = sigm(g[H + j] + s.forget_bias);
        const float gg = tanhf(g[2 * H + j]), o = sigm(g[3 * H + j]);
        g[j] = i;
        g[H + j] = f;
        g[2 * H + j] = gg;
        g[3 * H + j] = o;
        const float cn = f * cp + i * gg;
        const int valid = row_valid(s, r);
        s.c[r * s.ld_state + j] = valid ? cn : cp;
        s.h[r * s.ld_state + j] = valid ? o * tanhf(cn) : hp;
    }
}

static __global__ void k_lstm_backward(dt_cell_step s)
{
    const int64_t H = s.hidden;
    GRID_STRIDE(e, s.rows * H)
    {
        const int64_t r = e / H, j = e - r * H;
        const float *g = s.gates + r * s.ld_gates;
        float *dg = s.dgates + r * s.ld_dgates;
        const float dh = s.dh[r * H + j];
        if (!row_valid(s, r)) {
            dg[j] = dg[H + j] = dg[2 * H + j] = dg[3 * H + j] = 0.0f;
            s.dh_prev[r * H + j] = dh;
            continue;
        }
        const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
        const float tc = tanhf(s.c[r * s.ld_state + j]);
        const float dct = s.dc[r * H + j] + dh * o * (1.0f - tc * tc);
        dg[j] = dct * gg * i * (1.0f - i);
        dg[H + j] = dct * s.c_prev[r * s.ld_state + j] * f * (1.0f - f);
        dg[2 * H + j] = dct * i * (1.0f - gg * gg);
        dg[3 * H + j] = dh * tc * o * (1.0f - o);
        s.dc[r * H + j] = dct * f;
        s.dh_prev[r * H + j] = 0.0f;
    }
}

static __global__ void k_gru_forward(dt_cell_step s)
{
    const int64_t H = s.hidden;
    GRID_STRIDE(e, s.rows * H)
    {
        const int64_t r = e / H, j = e - r * H;
        float *g = s.gates + r * s.ld_gates;
        const float *hq = s.hproj + r * 3 * H;
        const float hp = s.h_prev[r * s.ld_state + j];
        const float rr = sigm(g[j] + hq[j]), z = sigm(g[H + j] + hq[H + j]);
        const float n = tanhf(g[2 * H + j] + rr * hq[2 * H + j]);
        g[j] = rr;
        g[H + j] = z;
        g[2 * H + j] = n;
        s.hn[r * s.ld_hn + j] = hq[2 * H + j];
        s.h[r * s.ld_state + j] = row_valid(s, r) ? (1.0f - z) * n + z * hp : hp;
    }
}

static __global__ void k_gru_backward(dt_cell_step s)
{
    const int64_t H = s.hidden;
    GRID_STRIDE(e, s.rows * H)
    {
        const int64_t r = e / H, j = e - r * H;
        const float *g = s.gates + r * s.ld_gates;
        float *dgi = s.dgates + r * s.ld_dgates, *dgh = s.dgates_h + r * s.ld_dgates;
        const float dh = s.dh[r * H + j];
        if (!row_valid(s, r)) {
            dgi[j] = dgi[H + j] = dgi[2 * H + j] = 0.0f;
            dgh[j] = dgh[H + j] = dgh[2 * H + j] = 0.0f;
            s.dh_prev[r * H + j] = dh;
            continue;
        }
        const float rr = g[j], z = g[H + j], n = g[2 * H + j];
        const float hp = s.h_prev[r * s.ld_state + j], hn = s.hn[r * s.ld_hn + j];
        const float da = dh * (1.0f - z) * (1.0f - n * n);
        const float dr = da * hn * rr * (1.0f - rr);
        const float dz = dh * (hp - n) * z * (1.0f - z);
        dgi[j] = dgh[j] = dr;
        dgi[H + j] = dgh[H + j] = dz;
        dgi[2 * H + j] = da;
        dgh[2 * H + j] = da * rr;
        s.dh_prev[r * H + j] = dh * z;
    }
}

static __global__ void k_elman_forward(dt_cell_step s)
{
    const int64_t H = s.hidden;
    const int relu = s.act == DT_ACT_RELU;
    GRID_STRIDE(e, s.rows * H)
    {
        const int64_t r = e / H, j = e - r * H;
        float *g = s.gates + r * s.ld_gates;
        const float y = relu ? (g[j] > 0.0f ? g[j] : 0.0f) : tanhf(g[j]);
        g[j] = y;
        s.h[r * s.ld_state + j] = row_valid(s, r) ? y : s.h_prev[r * s.ld_state + j];
    }
}

static __global__ void k_elman_backward(dt_cell_step s)
{
    const int64_t H = s.hidden;
    const int relu = s.act == DT_ACT_RELU;
    GRID_STRIDE(e, s.rows * H)
    {
        const int64_t r = e / H, j = e - r * H;
        const float gj = s.gates[r * s.ld_gates + j], dh = s.dh[r * H + j];
        const float d = relu ? (gj > 0.0f ? dh : 0.0f) : dh * (1.0f - gj * gj);
        const int valid = row_valid(s, r);
        s.dgates[r * s.ld_dgates + j] = valid ? d : 0.0f;
        s.dh_prev[r * H + j] = valid ? 0.0f : dh;
    }
}

extern "C" void dt_cuk_cell(cudaStream_t st, const dt_cell_step *s, int backward)
{
    const int64_t total = s->rows * s->hidden;
    if (total <= 0) return;
    const unsigned grid = grid_for(total);
    switch (s->kind) {
    case DT_CELL_RNN:
        if (backward) k_elman_backward<<<grid, THREADS, 0, st>>>(*s);
        else k_elman_forward<<<grid, THREADS, 0, st>>>(*s);
        break;
    case DT_CELL_LSTM:
        if (backward) k_lstm_backward<<<grid, THREADS, 0, st>>>(*s);
        else k_lstm_forward<<<grid, THREADS, 0, st>>>(*s);
        break;
    case DT_CELL_GRU:
        if (backward) k_gru_backward<<<grid, THREADS, 0, st>>>(*s);
        else k_gru_forward<<<grid, THREADS, 0, st>>>(*s);
        break;
    default:
        dt_cuda_record("dtrain", "dt_cuk_cell", __FILE__, __LINE__, "unknown cell kind",
                       "a layer passed a dt_cell_kind the CUDA backend does not know");
        return;
    }
    DT_CUDA_LAUNCHED(backward ? "cell backward kernel" : "cell forward kernel");
}

/* ---- masked rows, masks and lengths ---- */

/* add 0: dst = src where the mask is set, else 0 (src NULL: 0);
 * add 1: dst += src where the mask is set. */
static __global__ void k_rows(float *dst, int64_t ldd, const float *src, int64_t lds,
                              int64_t rows, int64_t cols, const float *mask, int64_t ld_mask,
                              int add)
{
    GRID_STRIDE(e, rows * cols)
    {
        const int64_t r = e / cols, j = e - r * cols;
        const int keep = !mask || mask[r * ld_mask] != 0.0f;
        if (add) {
            if (keep) dst[r * ldd + j] += src[r * lds + j];
        } else {
            dst[r * ldd + j] = keep && src ? src[r * lds + j] : 0.0f;
        }
    }
}

static __global__ void k_seq_mask(const float *lengths, int64_t rows, int64_t steps,
                                  float *mask)
{
    GRID_STRIDE(e, rows * steps)
    {
        const int64_t r = e / steps, t = e - r * steps;
        mask[e] = (float)t < lengths[r] ? 1.0f : 0.0f;
    }
}

static __global__ void k_seq_lengths(const float *ids, int64_t rows, int64_t steps, float pad,
                                     float *lengths)
{
    GRID_STRIDE(r, rows)
    {
        int64_t t = 0;
        while (t < steps && ids[r * steps + t] != pad) t++;
        lengths[r] = (float)t;
    }
}

extern "C" void dt_cuk_rows(cudaStream_t st, float *dst, int64_t ldd, const float *src,
                            int64_t lds, int64_t rows, int64_t cols, const float *mask,
                            int64_t ld_mask, int add)
{
    if (rows * cols <= 0 || (add && !src)) return;
    k_rows<<<grid_for(rows * cols), THREADS, 0, st>>>(dst, ldd, src, lds, rows, cols, mask,
                                                      ld_mask, add);
    DT_CUDA_LAUNCHED(add ? "k_rows (add)" : "k_rows (copy)");
}

extern "C" void dt_cuk_seq_mask(cudaStream_t st, const float *lengths, int64_t rows,
                                int64_t steps, float *mask)
{
    if (rows * steps <= 0) return;
    k_seq_mask<<<grid_for(rows * steps), THREADS, 0, st>>>(lengths, rows, steps, mask);
    DT_CUDA_LAUNCHED("k_seq_mask");
}

extern "C" void dt_cuk_seq_lengths(cudaStream_t st, const float *ids, int64_t rows,
                                   int64_t steps, float pad, float *lengths)
{
    if (rows <= 0) return;
    k_seq_lengths<<<grid_for(rows), THREADS, 0, st>>>(ids, rows, steps, pad, lengths);
    DT_CUDA_LAUNCHED("k_seq_lengths");
}

/* ---- embeddings ---- */

/* An id as a row of the table, or -1 when it is not an integer in range. */
static __device__ __forceinline__ int64_t embed_row(float id, int64_t vocab)
{
    if (!(id >= 0.0f && id < (float)vocab) || id != floorf(id)) return -1;
    return (int64_t)id;
}

static __global__ void k_embed_forward(const float *ids, int64_t n, const float *table,
                                       int64_t vocab, int64_t dim, float *out,
                                       unsigned long long *bad)
{
    GRID_STRIDE(e, n * dim)
    {
        const int64_t i = e / dim, j = e - i * dim, row = embed_row(ids[i], vocab);
        out[e] = row < 0 ? 0.0f : table[row * dim + j];
        if (row < 0 && j == 0) atomicAdd(bad, 1ull);
    }
}

static __global__ void k_embed_backward(const float *ids, int64_t n, const float *dout,
                                        int64_t vocab, int64_t dim, float *dtable)
{
    GRID_STRIDE(e, n * dim)
    {
        const int64_t i = e / dim, j = e - i * dim, row = embed_row(ids[i], vocab);
        if (row >= 0) atomicAdd(&dtable[row * dim + j], dout[e]);
    }
}

extern "C" void dt_cuk_embed_forward(cudaStream_t st, const float *ids, int64_t n,
                                     const float *table, int64_t vocab, int64_t dim, float *out,
                                     int64_t *bad)
{
    if (n * dim <= 0) return;
    k_embed_forward<<<grid_for(n * dim), THREADS, 0, st>>>(ids, n, table, vocab, dim, out,
                                                           (unsigned long long *)bad);
    DT_CUDA_LAUNCHED("k_embed_forward");
}

extern "C" void dt_cuk_embed_backward(cudaStream_t st, const float *ids, int64_t n,
                                      const float *dout, int64_t vocab, int64_t dim,
                                      float *dtable)
{
    if (n * dim <= 0) return;
    k_embed_backward<<<grid_for(n * dim), THREADS, 0, st>>>(ids, n, dout, vocab, dim, dtable);
    DT_CUDA_LAUNCHED("k_embed_backward");
}
