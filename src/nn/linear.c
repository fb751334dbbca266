/* Fully connected layer: y = x W^T + b, as torch.nn.Linear.
 *
 * x (B, in), W (units, in), b (units), y (B, units). The input may have any
 * per-sample shape; it is read as (B, numel). With per_token: true the map
 * applies to the last axis only, as torch.nn.Linear does to a (B, T, C)
 * tensor: (..., C) -> (..., units), one GEMM over all B*T rows.
 *
 * tie: LAYER borrows the weight of an earlier layer instead of owning one
 * (the first parameter of LAYER, which must have the shape (units, in)):
 * BERT's MLM decoder and GPT's LM head use the token embedding's table
 * (vocab, dim) this way, with a bias of their own. `units` may then be left
 * out; it is the table's first dimension.
 *
 * only_targets: true (per-token maps) computes the rows that have a target
 * only, when the pass carries per-token labels (training and evaluation
 * with a token loss): the other rows are 0, which the loss never reads.
 * For a masked-LM decoder that is 15% of the rows, and the decoder over a
 * vocabulary is the largest GEMM of a small BERT. The rows are gathered
 * into a dense block (the embedding gather of the backend), multiplied,
 * and scattered back; backward does the same with the output gradient.
 * Without labels (prediction) every row is computed.
 *
 * Keys: units, bias (true), init (default | xavier | he | normal, with
 * init_std: N(0, init_std) weights and zero bias, as BERT), per_token
 * (false), tie, only_targets (false). */
#include <stdlib.h>

#include "nn/layer.h"

typedef struct linear_priv {
    int64_t rows; /* rows per sample: 1, or the tokens of a per-token map */
    int64_t in;   /* features per row */
    int only_targets;
    int64_t picked; /* only_targets: rows computed by the last forward, or -1: all */
} linear_priv;

static const dt_param *weight(const dt_layer *l)
{
    return l->tied ? l->tied : &l->params[0];
}

static const dt_param *bias(const dt_layer *l)
{
    const int k = l->tied ? 0 : 1;
    return l->n_params > k ? &l->params[k] : NULL;
}

/* Rows and features: the whole sample, or its last axis. */
static void linear_dims(dt_layer *l, int per_token, linear_priv *q)
{
    const dt_shape *s = &l->in_shape[0];
    const int64_t numel = dt_shape_numel(s);
    q->in = per_token && s->ndim > 0 ? s->dim[s->ndim - 1] : numel;
    q->rows = numel / q->in;
}

static dt_status linear_units(dt_layer *l, dt_cfg *cfg, const linear_priv *q, int64_t *units)
{
    char a[64], b[64];
    if (!l->tied) return dt_cfg_int_req(cfg, "units", 1, 1 << 24, units);
    DT_TRY(dt_cfg_int(cfg, "units", l->tied->shape.dim[0], 1, 1 << 24, units));
    const int64_t want[2] = {*units, q->in};
    const dt_shape need = dt_shape_make(2, want);
    if (!dt_shape_equal(&l->tied->shape, &need))
        return dt_error_set(DT_ERR_SHAPE, "tie: the borrowed weight '%s' has shape %s; this "
                            "layer needs (units, in) = %s", l->tied->name,
                            dt_shape_str(&l->tied->shape, a, sizeof a),
                            dt_shape_str(&need, b, sizeof b));
    return DT_OK;
}

static dt_status linear_setup(dt_layer *l, dt_cfg *cfg)
{
    static const char *const inits[] = {"default", "xavier", "he", "normal", NULL};
    static const dt_init codes[] = {DT_INIT_UNIFORM_FAN_IN, DT_INIT_XAVIER_UNIFORM,
                                    DT_INIT_HE_NORMAL, DT_INIT_NORMAL};
    int64_t units;
    int has_bias, per_token;
    dt_init init;
    float std;
    DT_TRY(dt_cfg_bool(cfg, "bias", 1, &has_bias));
    DT_TRY(dt_cfg_bool(cfg, "per_token", 0, &per_token));
    DT_TRY(dt_layer_read_init(cfg, inits, codes, &init, &std));
    linear_priv *q = dt_calloc(1, sizeof *q);
    l->priv = q;
    DT_TRY(dt_cfg_bool(cfg, "only_targets", 0, &q->only_targets));
    if (q->only_targets && !per_token)
        return dt_cfg_error(dt_cfg_get(cfg, "only_targets"), "per_token: true with it",
                            "a map over the whole sample");
    linear_dims(l, per_token, q);
    DT_TRY(linear_units(l, cfg, q, &units));

    l->units = units;
    l->out_shape = l->in_shape[0];
    if (per_token && l->out_shape.ndim > 0) l->out_shape.dim[l->out_shape.ndim - 1] = units;
    else l->out_shape = dt_shape_make(1, &units);
    if (!l->tied) {
        const int64_t wshape[2] = {units, q->in};
        dt_layer_add_param(l, "weight", 2, wshape, init, q->in, units)->init_std = std;
    }
    if (has_bias) {
        /* PyTorch draws the bias from U(-1/sqrt(in), 1/sqrt(in)) too. */
        const dt_init bi = init == DT_INIT_UNIFORM_FAN_IN ? init : DT_INIT_ZEROS;
        dt_layer_add_param(l, "bias", 1, &units, bi, q->in, units)->no_decay = 1;
    }
    return DT_OK;
}

static void linear_destroy(dt_layer *l) { free(l->priv); }

/* only_targets: the scratch of a pass of n samples holds the picked rows'
 * indices (as floats, for the gather), their inputs and their outputs. */
typedef struct picked_rows {
    float *ids, *x, *y;
} picked_rows;

static picked_rows picked_views(const dt_layer *l, int64_t n)
{
    const linear_priv *q = l->priv;
    picked_rows v;
    v.ids = l->scratch;
    v.x = v.ids + n * q->rows;
    v.y = v.x + n * q->rows * q->in;
    return v;
}

/* The rows of the pass that have a target, into v->ids; returns their count. */
static int64_t pick_rows(const dt_layer *l, const dt_pass *p, const picked_rows *v)
{
    const linear_priv *q = l->priv;
    const int64_t n = p->n * q->rows;
    float *lab = dt_calloc((size_t)n, sizeof *lab);
    p->be->to_host(lab, p->targets, (size_t)n * sizeof *lab);
    int64_t k = 0;
    for (int64_t r = 0; r < n; r++)
        if (lab[r] >= 0.0f) lab[k++] = (float)r; /* k <= r: in place */
    if (k) p->be->to_device(v->ids, lab, (size_t)k * sizeof *lab);
    free(lab);
    return k;
}

static void linear_forward(dt_layer *l, const dt_pass *p)
{
    linear_priv *q = l->priv;
    const int in = (int)q->in, out = (int)l->units, n = (int)(p->n * q->rows);
    q->picked = -1;
    if (n == 0) return;
    if (q->only_targets && p->targets) {
        const picked_rows v = picked_views(l, p->n);
        const int k = (int)pick_rows(l, p, &v);
        q->picked = k;
        p->be->fill(l->out, 0.0f, (int64_t)n * out);
        if (k == 0) return;
        p->be->embed_forward(v.ids, k, l->x[0], n, in, v.x);
        p->be->gemm(0, 1, k, out, in, 1.0f, v.x, in, weight(l)->data, in, 0.0f, v.y, out);
        if (bias(l)) p->be->add_bias(v.y, bias(l)->data, k, out);
        p->be->embed_backward(v.ids, k, v.y, n, out, l->out); /* scatter into zeros */
        return;
    }
    p->be->gemm(0, 1, n, out, in, 1.0f, l->x[0], in, weight(l)->data, in, 0.0f, l->out, out);
    if (bias(l)) p->be->add_bias(l->out, bias(l)->data, n, out);
}

/* Backward over the rows the forward picked: their output gradients are
 * gathered next to their inputs; the input gradients scattered back. */
static void picked_backward(dt_layer *l, const dt_pass *p, int k, float beta)
{
    const linear_priv *q = l->priv;
    const int in = (int)q->in, out = (int)l->units, n = (int)(p->n * q->rows);
    const dt_param *w = weight(l), *b = bias(l);
    const picked_rows v = picked_views(l, p->n);
    p->be->embed_forward(v.ids, k, l->dout, n, out, v.y);
    p->be->gemm(1, 0, out, in, k, 1.0f, v.y, out, v.x, in, beta, w->grad, in);
    if (b) p->be->sum_rows(b->grad, v.y, k, out, beta);
    if (!l->dx[0]) return;
    p->be->gemm(0, 0, k, in, out, 1.0f, v.y, out, w->data, in, 0.0f, v.x, in);
    p->be->embed_backward(v.ids, k, v.x, n, in, l->dx[0]);
}

static void linear_backward(dt_layer *l, const dt_pass *p)
{
    const linear_priv *q = l->priv;
    const int in = (int)q->in, out = (int)l->units, n = (int)(p->n * q->rows);
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    const dt_param *w = weight(l), *b = bias(l);
    if (n == 0 || q->picked == 0) {
        if (!p->overwrite_grads) return;
        p->be->fill(w->grad, 0.0f, dt_shape_numel(&w->shape));
        if (b) p->be->fill(b->grad, 0.0f, out);
        return;
    }
    if (q->picked > 0) {
        picked_backward(l, p, (int)q->picked, beta);
        return;
    }

    /* dW (out, in) += dy^T x ; db += column sums of dy ; dx += dy W */
    p->be->gemm(1, 0, out, in, n, 1.0f, l->dout, out, l->x[0], in, beta, w->grad, in);
    if (b) p->be->sum_rows(b->grad, l->dout, n, out, beta);
    if (l->dx[0])
        p->be->gemm(0, 0, n, in, out, 1.0f, l->dout, out, w->data, in, 1.0f, l->dx[0], in);
}

/* only_targets: room for every row of a sample (a pass may pick them all). */
static int64_t linear_scratch(const dt_layer *l)
{
    const linear_priv *q = l->priv;
    return q->only_targets ? q->rows * (1 + q->in + l->units) : 0;
}

static int64_t linear_macs(const dt_layer *l)
{
    return dt_shape_numel(&l->in_shape[0]) * l->units;
}

const dt_layer_ops dt_linear_ops = {
    .kind = "linear",
    .ties = 1,
    .setup = linear_setup,
    .forward = linear_forward,
    .backward = linear_backward,
    .macs = linear_macs,
    .scratch_per_sample = linear_scratch,
    .destroy = linear_destroy,
};
