/* CPU kernels for sequence models: the fused elementwise part of one time
 * step of an Elman RNN, LSTM and GRU cell (forward and backward), masked row
 * copies between strided (B, T, C) buffers, sequence masks from lengths, and
 * embedding gather/scatter.
 *
 * The matrix products of a step are GEMMs the layer calls; these kernels do
 * what follows them, one pass over each row, so a step touches its gate
 * buffer once. Rows are independent, so the loops split them over threads. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_math.h"
#include "backend/cpu/cpu_rnn.h"
#include "core/status.h"

/* Elements of a step below which the loop stays on the calling thread. */
#define RNN_PAR_MIN 8192

static inline int row_valid(const dt_cell_step *s, int64_t r)
{
    return !s->mask || s->mask[r * s->ld_mask] != 0.0f;
}

/* The row kernels below take restrict pointers to one row of each buffer:
 * with them the compiler vectorizes the loops (their rows never overlap),
 * and the activations of cpu_math.h keep them free of calls. A padding row
 * is computed like any other and then overwritten, so the loops have no
 * branches. */
static inline void carry_state(float *c, const float *cp, float *h, const float *hp, int64_t H)
{
    if (c) memcpy(c, cp, (size_t)H * sizeof *c);
    memcpy(h, hp, (size_t)H * sizeof *h);
}

/* gates (4H) i f g o -> activated; c = f c_prev + i g; h = o tanh(c). */
static inline void lstm_row_forward(float *restrict g, const float *restrict cp,
                                    float *restrict c, float *restrict h, int64_t H, float fb)
{
    for (int64_t j = 0; j < H; j++) {
        const float i = dt_vsigmoidf(g[j]), f = dt_vsigmoidf(g[H + j] + fb);
        const float gg = dt_vtanhf(g[2 * H + j]), o = dt_vsigmoidf(g[3 * H + j]);
        g[j] = i;
        g[H + j] = f;
        g[2 * H + j] = gg;
        g[3 * H + j] = o;
        const float cn = f * cp[j] + i * gg;
        c[j] = cn;
        h[j] = o * dt_vtanhf(cn);
    }
}

static void lstm_forward(const dt_cell_step *s)
{
    const int64_t H = s->hidden, lds = s->ld_state;
#pragma omp parallel for if (s->rows * H > RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        float *c = s->c + r * lds, *h = s->h + r * lds;
        const float *cp = s->c_prev + r * lds;
        lstm_row_forward(s->gates + r * s->ld_gates, cp, c, h, H, s->forget_bias);
        if (!row_valid(s, r)) carry_state(c, cp, h, s->h_prev + r * lds, H);
    }
}

static inline void lstm_row_backward(const float *restrict g, const float *restrict cp,
                                     const float *restrict c, const float *restrict dh,
                                     float *restrict dc, float *restrict dhp,
                                     float *restrict dg, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
        const float tc = dt_vtanhf(c[j]);
        const float dct = dc[j] + dh[j] * o * (1.0f - tc * tc);
        dg[j] = dct * gg * i * (1.0f - i);
        dg[H + j] = dct * cp[j] * f * (1.0f - f);
        dg[2 * H + j] = dct * i * (1.0f - gg * gg);
        dg[3 * H + j] = dh[j] * tc * o * (1.0f - o);
        dc[j] = dct * f;
        dhp[j] = 0.0f;
    }
}

static void lstm_backward(const dt_cell_step *s)
{
    const int64_t H = s->hidden, lds = s->ld_state;
#pragma omp parallel for if (s->rows * H > RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const float *dh = s->dh + r * H;
        float *dhp = s->dh_prev + r * H, *dg = s->dgates + r * s->ld_dgates;
        if (!row_valid(s, r)) {
            memset(dg, 0, (size_t)(4 * H) * sizeof *dg);
            memcpy(dhp, dh, (size_t)H * sizeof *dhp);
            continue;
        }
        lstm_row_backward(s->gates + r * s->ld_gates, s->c_prev + r * lds, s->c + r * lds, dh,
                          s->dc + r * H, dhp, dg, H);
    }
}

/* r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r hn), h = (1-z) n + z h_prev,
 * with x the input projection (in gates) and h_* the hidden one (hq). */
static inline void gru_row_forward(float *restrict g, const float *restrict hq,
                                   const float *restrict hp, float *restrict h,
                                   float *restrict hn, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        const float rr = dt_vsigmoidf(g[j] + hq[j]), z = dt_vsigmoidf(g[H + j] + hq[H + j]);
        const float n = dt_vtanhf(g[2 * H + j] + rr * hq[2 * H + j]);
        g[j] = rr;
        g[H + j] = z;
        g[2 * H + j] = n;
        hn[j] = hq[2 * H + j];
        h[j] = (1.0f - z) * n + z * hp[j];
    }
}

static void gru_forward(const dt_cell_step *s)
{
    const int64_t H = s->hidden, lds = s->ld_state;
#pragma omp parallel for if (s->rows * H > RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const float *hp = s->h_prev + r * lds;
        float *h = s->h + r * lds;
        gru_row_forward(s->gates + r * s->ld_gates, s->hproj + r * 3 * H, hp, h,
                        s->hn + r * s->ld_hn, H);
        if (!row_valid(s, r)) carry_state(NULL, NULL, h, hp, H);
    }
}

static inline void gru_row_backward(const float *restrict g, const float *restrict hn,
                                    const float *restrict hp, const float *restrict dh,
                                    float *restrict dhp, float *restrict dgi,
                                    float *restrict dgh, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        const float rr = g[j], z = g[H + j], n = g[2 * H + j];
        const float da = dh[j] * (1.0f - z) * (1.0f - n * n);
        const float dr = da * hn[j] * rr * (1.0f - rr);
        const float dz = dh[j] * (hp[j] - n) * z * (1.0f - z);
        dgi[j] = dgh[j] = dr;
        dgi[H + j] = dgh[H + j] = dz;
        dgi[2 * H + j] = da;
        dgh[2 * H + j] = da * rr;
        dhp[j] = dh[j] * z;
    }
}

static void gru_backward(const dt_cell_step *s)
{
    const int64_t H = s->hidden, lds = s->ld_state;
#pragma omp parallel for if (s->rows * H > RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const float *dh = s->dh + r * H;
        float *dhp = s->dh_prev + r * H;
        float *dgi = s->dgates + r * s->ld_dgates, *dgh = s->dgates_h + r * s->ld_dgates;
        if (!row_valid(s, r)) {
            memset(dgi, 0, (size_t)(3 * H) * sizeof *dgi);
            memset(dgh, 0, (size_t)(3 * H) * sizeof *dgh);
            memcpy(dhp, dh, (size_t)H * sizeof *dhp);
            continue;
        }
        gru_row_backward(s->gates + r * s->ld_gates, s->hn + r * s->ld_hn, s->h_prev + r * lds,
                         dh, dhp, dgi, dgh, H);
    }
}

/* h = act(gates); gates keeps h for backward. */
static void elman_forward(const dt_cell_step *s)
{
    const int relu = s->act == DT_ACT_RELU;
#pragma omp parallel for if (s->rows * s->hidden > RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const int64_t H = s->hidden; /* per row: a register in the loops below */
        float *restrict g = s->gates + r * s->ld_gates;
        const float *hp = s->h_prev + r * s->ld_state;
        float *restrict h = s->h + r * s->ld_state;
        const int valid = row_valid(s, r);
        for (int64_t j = 0; j < H; j++) {
            const float y = relu ? (g[j] > 0.0f ? g[j] : 0.0f) : dt_vtanhf(g[j]);
            g[j] = y;
            h[j] = y;
        }
        if (!valid) carry_state(NULL, NULL, h, hp, H);
    }
}

static void elman_backward(const dt_cell_step *s)
{
    const int relu = s->act == DT_ACT_RELU;
#pragma omp parallel for if (s->rows * s->hidden > RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const int64_t H = s->hidden; /* per row: a register in the loops below */
        const float *restrict g = s->gates + r * s->ld_gates, *restrict dh = s->dh + r * H;
        float *restrict dg = s->dgates + r * s->ld_dgates, *restrict dhp = s->dh_prev + r * H;
        const int valid = row_valid(s, r);
        for (int64_t j = 0; j < H; j++) {
            const float d = relu ? (g[j] > 0.0f ? dh[j] : 0.0f) : dh[j] * (1.0f - g[j] * g[j]);
            dg[j] = valid ? d : 0.0f;
            dhp[j] = valid ? 0.0f : dh[j];
        }
    }
}

void dt_cpu_cell_forward(const dt_cell_step *s)
{
    switch (s->kind) {
    case DT_CELL_RNN: elman_forward(s); break;
    case DT_CELL_LSTM: lstm_forward(s); break;
    case DT_CELL_GRU: gru_forward(s); break;
    default: DT_ASSERT(!"unknown cell kind");
    }
}

void dt_cpu_cell_backward(const dt_cell_step *s)
{
    switch (s->kind) {
    case DT_CELL_RNN: elman_backward(s); break;
    case DT_CELL_LSTM: lstm_backward(s); break;
    case DT_CELL_GRU: gru_backward(s); break;
    default: DT_ASSERT(!"unknown cell kind");
    }
}

void dt_cpu_rows_copy(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                      int64_t cols, const float *mask, int64_t ld_mask)
{
#pragma omp parallel for if (rows * cols > 4 * RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *d = dst + r * ldd;
        if (!src || (mask && mask[r * ld_mask] == 0.0f))
            memset(d, 0, (size_t)cols * sizeof *d);
        else
            memcpy(d, src + r * lds, (size_t)cols * sizeof *d);
    }
}

void dt_cpu_rows_add(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                     int64_t cols, const float *mask, int64_t ld_mask)
{
#pragma omp parallel for if (rows * cols > 4 * RNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        if (mask && mask[r * ld_mask] == 0.0f) continue;
        float *d = dst + r * ldd;
        const float *x = src + r * lds;
        for (int64_t j = 0; j < cols; j++) d[j] += x[j];
    }
}

void dt_cpu_seq_mask(const float *lengths, int64_t rows, int64_t steps, float *mask)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < steps; t++) mask[r * steps + t] = (float)t < lengths[r];
}

void dt_cpu_seq_lengths(const float *ids, int64_t rows, int64_t steps, float pad,
                        float *lengths)
{
    for (int64_t r = 0; r < rows; r++) {
        int64_t t = 0;
        while (t < steps && ids[r * steps + t] != pad) t++;
        lengths[r] = (float)t;
    }
}

/* An id as a row of the table, or -1 when it is not an integer in range. */
static int64_t embed_row(float id, int64_t vocab)
{
    if (!(id >= 0.0f && id < (float)vocab) || id != floorf(id)) return -1;
    return (int64_t)id;
}

int64_t dt_cpu_embed_forward(const float *ids, int64_t n, const float *table, int64_t vocab,
                             int64_t dim, float *out)
{
    int64_t bad = 0;
#pragma omp parallel for if (n * dim > 4 * RNN_PAR_MIN) schedule(static) reduction(+ : bad)
    for (int64_t i = 0; i < n; i++) {
        const int64_t row = embed_row(ids[i], vocab);
        bad += row < 0;
        if (row < 0) memset(out + i * dim, 0, (size_t)dim * sizeof *out);
        else memcpy(out + i * dim, table + row * dim, (size_t)dim * sizeof *out);
    }
    return bad;
}

/* Serial over tokens so every table row sums its gradients in one order. */
void dt_cpu_embed_backward(const float *ids, int64_t n, const float *dout, int64_t vocab,
                           int64_t dim, float *dtable)
{
    for (int64_t i = 0; i < n; i++) {
        const int64_t row = embed_row(ids[i], vocab);
        if (row < 0) continue;
        float *d = dtable + row * dim;
        const float *g = dout + i * dim;
        for (int64_t j = 0; j < dim; j++) d[j] += g[j];
    }
}
