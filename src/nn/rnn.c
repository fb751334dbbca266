/* Recurrent layers: Elman RNN (tanh or relu), LSTM and GRU, as torch.nn.RNN,
 * torch.nn.LSTM and torch.nn.GRU with batch_first=True.
 *
 * Input (B, T, C) per pass: each sample is (T, C), or (1, T, C) so that an
 * image (1, 28, 28) is read as 28 steps of 28 features in place. Output the
 * sequence (B, T, D*H) of the top layer or its final state (B, D*H), with D
 * = 2 for bidirectional layers (forward and reverse halves concatenated, as
 * PyTorch). Gate order, parameter names (weight_ih_l{k}, weight_hh_l{k},
 * bias_ih_l{k}, bias_hh_l{k}, "_reverse" for the backward direction),
 * shapes and the U(-1/sqrt(H), 1/sqrt(H)) initialization follow PyTorch, so
 * parameter counts match one for one.
 *
 * Keys: hidden, layers (1), dropout between layers (0), bidirectional
 * (false), return (sequence | last), nonlinearity (rnn: tanh | relu),
 * max_length (0: any; a longer input is an error), forget_bias (lstm: a
 * constant added to the forget gate's pre-activation, as TensorFlow's
 * LSTM cell; 0, PyTorch's cell, by default). Further `inputs` after
 * the sequence give the initial state: h0, then (lstm) c0, each (L*D, H)
 * per sample; without them the state starts at zero.
 *
 * Sequence lengths mask padding: a step at or past a sequence's length
 * leaves its state unchanged and outputs zeros, so padded steps change
 * neither the final state nor the loss. The lengths come from the pass
 * (dt_pass.lengths) or, with the key pad_from: NAME (the last of `inputs`,
 * holding T token ids per sample), from the first occurrence of pad_id
 * (default 0) in those ids.
 *
 * The work is in GEMMs: per layer and direction one (B*T, I) x (I, G*H)
 * input projection for all steps, one (B, H) x (H, G*H) product per step,
 * and in backward three products over all B*T rows for the weight and
 * input gradients. Everything forward computes for backward (activated
 * gates, states, GRU's hidden projection) lives in the layer's scratch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer.h"

/* Scratch regions, each (n, per-sample size) at pass time. */
enum {
    R_GATES, /* L*D x (T, G*H) activated gates */
    R_H,     /* L*D x (T+1, H) hidden states, the initial one included */
    R_C,     /* L*D x (T+1, H) lstm cell states */
    R_HN,    /* L*D x (T, H) gru: W_hn h_prev + b_hn */
    R_Y,     /* L x (T, D*H) layer outputs */
    R_DMASK, /* L-1 x (T, D*H) inter-layer dropout masks */
    R_XDROP, /* L-1 x (T, D*H) inputs of the upper layers after dropout */
    R_MASK,  /* (T) sequence mask */
    R_DG,    /* (T, G*H) gate gradients */
    R_DGH,   /* (T, G*H) gru: gradients of the hidden projection */
    R_DXA,   /* (T, D*H) input gradients of an upper layer, twice */
    R_DXB,
    R_DDROP, /* (T, D*H) output gradient after dropout backward */
    R_GATHER, /* (T, H) previous states in step order */
    R_DH,    /* (3, H): dh, dh of the previous step, dc */
    R_HPROJ, /* (3H) gru hidden projection of one step */
    R_LEN,   /* (1) sequence length from the token ids */
    R_COUNT
};

typedef struct rnn_priv {
    dt_cell_kind cell;
    dt_act act;
    int64_t T, C, H, L, D, G;
    int ret_seq, n_state;
    int pad_input; /* index of the token-id input, or -1 */
    float dropout, pad_id, forget_bias;
    int64_t size[R_COUNT]; /* floats per sample */
    int64_t off[R_COUNT];  /* prefix sums of size */
} rnn_priv;

#define MAX_STACK (DT_MAX_PARAMS / 4)

static float *region(const dt_layer *l, int r, int64_t n)
{
    const rnn_priv *q = l->priv;
    return l->scratch + q->off[r] * n;
}

static void plan_scratch(rnn_priv *q)
{
    const int64_t T = q->T, H = q->H, GH = q->G * q->H, DH = q->D * q->H, LD = q->L * q->D;
    const int lstm = q->cell == DT_CELL_LSTM, gru = q->cell == DT_CELL_GRU;
    int64_t *s = q->size;
    s[R_GATES] = LD * T * GH;
    s[R_H] = LD * (T + 1) * H;
    s[R_C] = lstm ? LD * (T + 1) * H : 0;
    s[R_HN] = gru ? LD * T * H : 0;
    s[R_Y] = q->L * T * DH;
    s[R_DMASK] = s[R_XDROP] = q->dropout > 0.0f ? (q->L - 1) * T * DH : 0;
    s[R_MASK] = T;
    s[R_DG] = T * GH;
    s[R_DGH] = gru ? T * GH : 0;
    s[R_DXA] = s[R_DXB] = q->L > 1 ? T * DH : 0;
    s[R_DDROP] = q->L > 1 && q->dropout > 0.0f ? T * DH : 0;
    s[R_GATHER] = T * H;
    s[R_DH] = 3 * H;
    s[R_HPROJ] = gru ? GH : 0;
    s[R_LEN] = 1;
    int64_t at = 0;
    for (int r = 0; r < R_COUNT; r++) {
        q->off[r] = at;
        at += s[r];
    }
}

/* The sequence input's (T, C): (T, C) or (1, T, C) per sample. */
static dt_status sequence_shape(dt_layer *l, int64_t *T, int64_t *C)
{
    const dt_shape *s = &l->in_shape[0];
    char buf[64];
    if (s->ndim == 2 || (s->ndim == 3 && s->dim[0] == 1)) {
        *T = s->dim[s->ndim - 2];
        *C = s->dim[s->ndim - 1];
        return DT_OK;
    }
    return dt_error_set(DT_ERR_SHAPE, "expected a sequence input (T, C) or (1, T, C) per "
                        "sample, found %s", dt_shape_str(s, buf, sizeof buf));
}

/* Inputs after the sequence: h0 (and c0 for lstm), each L*D*H per sample. */
static dt_status check_state_inputs(dt_layer *l, const rnn_priv *q)
{
    const int most = q->cell == DT_CELL_LSTM ? 2 : 1;
    const int states = l->n_in - 1 - (q->pad_input >= 0);
    if (states > most)
        return dt_error_set(DT_ERR_CONFIG, "%d inputs; expected the sequence and at most %d "
                            "initial state%s (%s)", l->n_in, most, most > 1 ? "s" : "",
                            most > 1 ? "h0, c0" : "h0");
    for (int i = 1; i <= states; i++) {
        char buf[64];
        const int64_t want = q->L * q->D * q->H;
        if (dt_shape_numel(&l->in_shape[i]) != want)
            return dt_error_set(DT_ERR_SHAPE, "initial state %s (input %d) has shape %s; "
                                "expected (%lld, %lld) = layers x directions, hidden",
                                i == 1 ? "h0" : "c0", i + 1,
                                dt_shape_str(&l->in_shape[i], buf, sizeof buf),
                                (long long)(q->L * q->D), (long long)q->H);
    }
    return DT_OK;
}

static void declare_params(dt_layer *l, const rnn_priv *q)
{
    const int64_t GH = q->G * q->H;
    for (int k = 0; k < (int)q->L && k < MAX_STACK; k++)
        for (int d = 0; d < (int)q->D; d++) {
            const int64_t in = k == 0 ? q->C : q->D * q->H;
            const char *sfx = d ? "_reverse" : "";
            char name[40];
            const int64_t wih[2] = {GH, in}, whh[2] = {GH, q->H};
            snprintf(name, sizeof name, "weight_ih_l%d%s", k, sfx);
            dt_layer_add_param(l, name, 2, wih, DT_INIT_UNIFORM_FAN_IN, q->H, GH);
            snprintf(name, sizeof name, "weight_hh_l%d%s", k, sfx);
            dt_layer_add_param(l, name, 2, whh, DT_INIT_UNIFORM_FAN_IN, q->H, GH);
            snprintf(name, sizeof name, "bias_ih_l%d%s", k, sfx);
            dt_layer_add_param(l, name, 1, &GH, DT_INIT_UNIFORM_FAN_IN, q->H, GH)->no_decay = 1;
            snprintf(name, sizeof name, "bias_hh_l%d%s", k, sfx);
            dt_layer_add_param(l, name, 1, &GH, DT_INIT_UNIFORM_FAN_IN, q->H, GH)->no_decay = 1;
        }
}

static dt_status read_keys(dt_layer *l, dt_cfg *cfg, rnn_priv *q)
{
    static const char *const returns[] = {"sequence", "last", NULL};
    static const char *const nonlin[] = {"tanh", "relu", NULL};
    int64_t v;
    int flag, e;
    double p;
    DT_TRY(dt_cfg_int_req(cfg, "hidden", 1, 1 << 16, &q->H));
    DT_TRY(dt_cfg_int(cfg, "layers", 1, 1, MAX_STACK, &q->L));
    DT_TRY(dt_cfg_float(cfg, "dropout", 0.0, 0.0, 0.999999, &p));
    DT_TRY(dt_cfg_bool(cfg, "bidirectional", 0, &flag));
    DT_TRY(dt_cfg_enum(cfg, "return", "sequence", returns, &e));
    q->dropout = (float)p;
    q->D = flag ? 2 : 1;
    q->ret_seq = e == 0;
    q->act = DT_ACT_TANH;
    if (q->cell == DT_CELL_RNN) {
        DT_TRY(dt_cfg_enum(cfg, "nonlinearity", "tanh", nonlin, &e));
        q->act = e ? DT_ACT_RELU : DT_ACT_TANH;
    }
    if (q->cell == DT_CELL_LSTM) {
        DT_TRY(dt_cfg_float(cfg, "forget_bias", 0.0, -100.0, 100.0, &p));
        q->forget_bias = (float)p;
    }
    if (q->L * q->D > MAX_STACK)
        return dt_cfg_error(dt_cfg_get(cfg, "layers"), "layers x directions at most 8",
                            "%lld layers x %lld directions", (long long)q->L, (long long)q->D);
    DT_TRY(dt_cfg_int(cfg, "max_length", 0, 0, 1 << 30, &v));
    if (v && q->T > v)
        return dt_cfg_error(dt_cfg_get(cfg, "max_length"),
                            "input sequences of at most max_length steps",
                            "sequences of %lld steps for max_length %lld", (long long)q->T,
                            (long long)v);
    (void)l;
    return DT_OK;
}


static dt_status rnn_setup(dt_layer *l, dt_cfg *cfg, dt_cell_kind cell)
{
    rnn_priv *q = dt_calloc(1, sizeof *q);
    l->priv = q;
    q->cell = cell;
    q->G = cell == DT_CELL_LSTM ? 4 : cell == DT_CELL_GRU ? 3 : 1;
    DT_TRY(sequence_shape(l, &q->T, &q->C));
    DT_TRY(read_keys(l, cfg, q));
    DT_TRY(dt_layer_pad_input(l, cfg, q->T, &q->pad_input, &q->pad_id));
    DT_TRY(check_state_inputs(l, q));
    q->n_state = l->n_in - 1 - (q->pad_input >= 0);
    declare_params(l, q);
    plan_scratch(q);

    const int64_t dims[2] = {q->T, q->D * q->H};
    l->out_shape = q->ret_seq ? dt_shape_make(2, dims) : dt_shape_make(1, dims + 1);
    l->units = q->D * q->H;
    return DT_OK;
}

static dt_status rnn_setup_elman(dt_layer *l, dt_cfg *cfg)
{
    return rnn_setup(l, cfg, DT_CELL_RNN);
}

static dt_status rnn_setup_lstm(dt_layer *l, dt_cfg *cfg)
{
    return rnn_setup(l, cfg, DT_CELL_LSTM);
}

static dt_status rnn_setup_gru(dt_layer *l, dt_cfg *cfg)
{
    return rnn_setup(l, cfg, DT_CELL_GRU);
}

/* Where one direction of one layer keeps its tensors during a pass. */
typedef struct dir_view {
    int64_t kd, I; /* index k*D + d; input features */
    int d;
    const float *in; /* (n, T, I) */
    float *gates, *hs, *cs, *hn;
    const dt_param *w_ih, *w_hh, *b_ih, *b_hh;
} dir_view;

/* The input of layer k: the sequence, or the output of layer k-1 (after
 * dropout in training). */
static const float *layer_input(const dt_layer *l, const dt_pass *p, int64_t k)
{
    const rnn_priv *q = l->priv;
    const int64_t n = p->n, seq = q->T * q->D * q->H;
    if (k == 0) return l->x[0];
    if (p->training && q->dropout > 0.0f) return region(l, R_XDROP, n) + (k - 1) * n * seq;
    return region(l, R_Y, n) + (k - 1) * n * seq;
}

static dir_view view_of(const dt_layer *l, const dt_pass *p, int64_t k, int d)
{
    const rnn_priv *q = l->priv;
    const int64_t n = p->n, kd = k * q->D + d;
    const int64_t T = q->T, H = q->H;
    dir_view v = {.kd = kd, .d = d, .I = k == 0 ? q->C : q->D * H,
                  .in = layer_input(l, p, k)};
    v.gates = region(l, R_GATES, n) + kd * n * T * q->G * H;
    v.hs = region(l, R_H, n) + kd * n * (T + 1) * H;
    v.cs = q->cell == DT_CELL_LSTM ? region(l, R_C, n) + kd * n * (T + 1) * H : NULL;
    v.hn = q->cell == DT_CELL_GRU ? region(l, R_HN, n) + kd * n * T * H : NULL;
    v.w_ih = &l->params[4 * kd];
    v.w_hh = &l->params[4 * kd + 1];
    v.b_ih = &l->params[4 * kd + 2];
    v.b_hh = &l->params[4 * kd + 3];
    return v;
}

static int masked(const dt_layer *l, const dt_pass *p)
{
    return p->lengths || ((const rnn_priv *)l->priv)->pad_input >= 0;
}

/* State slots: the initial state is slot 0 (forward) or T (reverse); step
 * t reads slot prev and writes slot cur. */
static int64_t slot_prev(const rnn_priv *q, int d, int64_t t) { (void)q; return d ? t + 1 : t; }
static int64_t slot_cur(const rnn_priv *q, int d, int64_t t) { (void)q; return d ? t : t + 1; }

static dt_cell_step step_args(const dt_layer *l, const dt_pass *p, const dir_view *v,
                              int64_t t)
{
    const rnn_priv *q = l->priv;
    const int64_t T = q->T, H = q->H, GH = q->G * H;
    const int64_t prev = slot_prev(q, v->d, t), cur = slot_cur(q, v->d, t);
    dt_cell_step s = {.kind = q->cell, .act = q->act, .forget_bias = q->forget_bias,
                      .rows = p->n, .hidden = H,
                      .gates = v->gates + t * GH, .ld_gates = T * GH,
                      .h_prev = v->hs + prev * H, .h = v->hs + cur * H, .ld_state = (T + 1) * H,
                      .mask = masked(l, p) ? region(l, R_MASK, p->n) + t : NULL, .ld_mask = T};
    if (v->cs) {
        s.c_prev = v->cs + prev * H;
        s.c = v->cs + cur * H;
    }
    if (v->hn) {
        s.hproj = region(l, R_HPROJ, p->n);
        s.hn = v->hn + t * H;
        s.ld_hn = T * H;
    }
    return s;
}

/* Initial state of one direction into its start slot: from the inputs, or 0. */
static void load_initial_state(const dt_layer *l, const dt_pass *p, const dir_view *v)
{
    const rnn_priv *q = l->priv;
    const int64_t H = q->H, lds = (q->T + 1) * H, ld_in = q->L * q->D * H;
    const int64_t start = v->d ? q->T : 0;
    const float *h0 = q->n_state >= 1 ? l->x[1] + v->kd * H : NULL;
    const float *c0 = q->n_state >= 2 ? l->x[2] + v->kd * H : NULL;
    p->be->rows_copy(v->hs + start * H, lds, h0, ld_in, p->n, H, NULL, 0);
    if (v->cs) p->be->rows_copy(v->cs + start * H, lds, c0, ld_in, p->n, H, NULL, 0);
}

/* One direction of layer k forward; its outputs go to y (n, T, D*H). */
static void direction_forward(const dt_layer *l, const dt_pass *p, const dir_view *v, float *y)
{
    const rnn_priv *q = l->priv;
    const dt_backend *be = p->be;
    const int n = (int)p->n, T = (int)q->T, H = (int)q->H, GH = (int)(q->G * q->H);
    const int I = (int)v->I, lds = (T + 1) * H, DH = (int)(q->D * q->H);

    be->gemm(0, 1, n * T, GH, I, 1.0f, v->in, I, v->w_ih->data, I, 0.0f, v->gates, GH);
    be->add_bias(v->gates, v->b_ih->data, (int64_t)n * T, GH);
    if (q->cell != DT_CELL_GRU) be->add_bias(v->gates, v->b_hh->data, (int64_t)n * T, GH);
    load_initial_state(l, p, v);

    for (int s = 0; s < T; s++) {
        const int64_t t = v->d ? T - 1 - s : s;
        const dt_cell_step st = step_args(l, p, v, t);
        if (q->cell == DT_CELL_GRU) {
            float *hq = region(l, R_HPROJ, n);
            be->gemm(0, 1, n, GH, H, 1.0f, st.h_prev, lds, v->w_hh->data, H, 0.0f, hq, GH);
            be->add_bias(hq, v->b_hh->data, n, GH);
        } else {
            be->gemm(0, 1, n, GH, H, 1.0f, st.h_prev, lds, v->w_hh->data, H, 1.0f, st.gates,
                     T * GH);
        }
        be->cell_forward(&st);
        be->rows_copy(y + t * DH + v->d * H, (int64_t)T * DH, st.h, lds, n, H, st.mask, T);
    }
}

static void rnn_forward(dt_layer *l, const dt_pass *p)
{
    const rnn_priv *q = l->priv;
    const int64_t n = p->n, T = q->T, H = q->H, DH = q->D * H, seq = T * DH;
    if (n == 0) return;
    const float *len = p->lengths;
    if (q->pad_input >= 0) {
        float *own = region(l, R_LEN, n);
        p->be->seq_lengths(l->x[q->pad_input], n, T, q->pad_id, own);
        len = own;
    }
    if (len) p->be->seq_mask(len, n, T, region(l, R_MASK, n));

    const int drop = p->training && q->dropout > 0.0f;
    for (int64_t k = 0; k < q->L; k++) {
        float *y = region(l, R_Y, n) + k * n * seq;
        if (k == q->L - 1 && q->ret_seq) y = l->out;
        for (int d = 0; d < q->D; d++) {
            const dir_view v = view_of(l, p, k, d);
            direction_forward(l, p, &v, y);
        }
        if (k < q->L - 1 && drop) {
            const dt_rng rng = dt_rng_make(p->seed, DT_RNG_DROPOUT, (uint32_t)p->step,
                                           (uint32_t)l->index | (uint32_t)(k + 1) << 16);
            p->be->dropout_forward(y, region(l, R_XDROP, n) + k * n * seq,
                                   region(l, R_DMASK, n) + k * n * seq, n, seq, p->index, &rng,
                                   q->dropout);
        }
    }
    if (q->ret_seq) return;
    for (int d = 0; d < q->D; d++) {
        const dir_view v = view_of(l, p, q->L - 1, d);
        const int64_t last = d ? 0 : T;
        p->be->rows_copy(l->out + d * H, DH, v.hs + last * H, (T + 1) * H, n, H, NULL, 0);
    }
}

/* Weight and input gradients of one direction from its gate gradients. */
static void direction_weight_grads(const dt_layer *l, const dt_pass *p, const dir_view *v,
                                   float *dx, float beta)
{
    const rnn_priv *q = l->priv;
    const dt_backend *be = p->be;
    const int n = (int)p->n, T = (int)q->T, H = (int)q->H, GH = (int)(q->G * q->H);
    const int I = (int)v->I, rows = n * T;
    const float *dg = region(l, R_DG, n);
    const float *dgh = q->cell == DT_CELL_GRU ? region(l, R_DGH, n) : dg;
    float *prev = region(l, R_GATHER, n);

    be->gemm(1, 0, GH, I, rows, 1.0f, dg, GH, v->in, I, beta, v->w_ih->grad, I);
    be->sum_rows(v->b_ih->grad, dg, rows, GH, beta);
    be->sum_rows(v->b_hh->grad, dgh, rows, GH, beta);
    /* The state each step read, in step order: slots 0..T-1 going forward,
     * 1..T going backward, contiguous within a sample. */
    be->rows_copy(prev, (int64_t)T * H, v->hs + (v->d ? H : 0), (int64_t)(T + 1) * H, n,
                  (int64_t)T * H, NULL, 0);
    be->gemm(1, 0, GH, H, rows, 1.0f, dgh, GH, prev, H, beta, v->w_hh->grad, H);
    if (dx) be->gemm(0, 0, rows, I, GH, 1.0f, dg, GH, v->w_ih->data, I, 1.0f, dx, I);
}

/* Backpropagation through time for one direction. dy (n, T, D*H) is the
 * gradient of this layer's sequence output (NULL: none); dlast (n, D*H) that
 * of its final state (NULL: none). Input gradients are added into dx. */
static void direction_backward(const dt_layer *l, const dt_pass *p, const dir_view *v,
                               const float *dy, const float *dlast, float *dx, float beta)
{
    const rnn_priv *q = l->priv;
    const dt_backend *be = p->be;
    const int n = (int)p->n, T = (int)q->T, H = (int)q->H, GH = (int)(q->G * q->H);
    const int DH = (int)(q->D * q->H), LDH = (int)(q->L * q->D * q->H);
    float *dh = region(l, R_DH, n), *dh2 = dh + n * H, *dc = dh + 2 * n * H;
    float *dg = region(l, R_DG, n), *dgh = q->cell == DT_CELL_GRU ? region(l, R_DGH, n) : dg;

    if (dlast) be->rows_copy(dh, H, dlast + v->d * H, DH, n, H, NULL, 0);
    else be->fill(dh, 0.0f, (int64_t)n * H);
    be->fill(dc, 0.0f, (int64_t)n * H);
    for (int s = T - 1; s >= 0; s--) {
        const int64_t t = v->d ? T - 1 - s : s;
        dt_cell_step st = step_args(l, p, v, t);
        if (dy) be->rows_add(dh, H, dy + t * DH + v->d * H, (int64_t)T * DH, n, H, st.mask, T);
        st.dh = dh;
        st.dc = dc;
        st.dh_prev = dh2;
        st.dgates = dg + t * GH;
        st.dgates_h = q->cell == DT_CELL_GRU ? dgh + t * GH : NULL;
        st.ld_dgates = (int64_t)T * GH;
        be->cell_backward(&st);
        be->gemm(0, 0, n, H, GH, 1.0f, dgh + t * GH, T * GH, v->w_hh->data, H, 1.0f, dh2, H);
        float *tmp = dh;
        dh = dh2;
        dh2 = tmp;
    }
    /* dh and dc now hold the gradients of the initial state. */
    if (q->n_state >= 1 && l->dx[1]) be->rows_add(l->dx[1] + v->kd * H, LDH, dh, H, n, H, NULL, 0);
    if (q->n_state >= 2 && l->dx[2]) be->rows_add(l->dx[2] + v->kd * H, LDH, dc, H, n, H, NULL, 0);
    direction_weight_grads(l, p, v, dx, beta);
}

static void zero_param_grads(dt_layer *l, const dt_pass *p)
{
    for (int k = 0; p->overwrite_grads && k < l->n_params; k++)
        p->be->fill(l->params[k].grad, 0.0f, dt_shape_numel(&l->params[k].shape));
}

static void rnn_backward(dt_layer *l, const dt_pass *p)
{
    const rnn_priv *q = l->priv;
    const int64_t n = p->n, seq = q->T * q->D * q->H;
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    if (n == 0) {
        zero_param_grads(l, p);
        return;
    }
    const int drop = p->training && q->dropout > 0.0f;
    const float *dy = q->ret_seq ? l->dout : NULL;
    const float *dlast = q->ret_seq ? NULL : l->dout;
    for (int64_t k = q->L - 1; k >= 0; k--) {
        float *dx = k ? region(l, k % 2 ? R_DXA : R_DXB, n) : l->dx[0];
        if (k) p->be->fill(dx, 0.0f, n * seq);
        for (int d = 0; d < q->D; d++) {
            const dir_view v = view_of(l, p, k, d);
            direction_backward(l, p, &v, dy, k == q->L - 1 ? dlast : NULL, dx, beta);
        }
        if (k == 0) break;
        dy = dx;
        if (drop) {
            float *dd = region(l, R_DDROP, n);
            p->be->fill(dd, 0.0f, n * seq);
            p->be->mul_add(dd, dx, region(l, R_DMASK, n) + (k - 1) * n * seq, n * seq);
            dy = dd;
        }
    }
}

static int64_t rnn_macs(const dt_layer *l)
{
    const rnn_priv *q = l->priv;
    int64_t total = 0;
    for (int64_t k = 0; k < q->L; k++) {
        const int64_t in = k == 0 ? q->C : q->D * q->H;
        total += q->D * q->T * (in + q->H) * q->G * q->H;
    }
    return total;
}

static int64_t rnn_scratch(const dt_layer *l)
{
    const rnn_priv *q = l->priv;
    return q->off[R_COUNT - 1] + q->size[R_COUNT - 1];
}

static void rnn_destroy(dt_layer *l)
{
    free(l->priv);
    l->priv = NULL;
}

#define RNN_KIND(sym, name, setup_fn)                                                      \
    const dt_layer_ops sym = {.kind = name,                                                \
                              .multi_input = 1,                                            \
                              .setup = setup_fn,                                           \
                              .forward = rnn_forward,                                      \
                              .backward = rnn_backward,                                    \
                              .macs = rnn_macs,                                            \
                              .scratch_per_sample = rnn_scratch,                           \
                              .destroy = rnn_destroy}

RNN_KIND(dt_rnn_ops, "rnn", rnn_setup_elman);
RNN_KIND(dt_lstm_ops, "lstm", rnn_setup_lstm);
RNN_KIND(dt_gru_ops, "gru", rnn_setup_gru);
