/* Multi-head self-attention over a (T, C) sequence, as Hugging Face's
 * BertSelfAttention followed by the dense projection of BertSelfOutput
 * (its dropout, residual and layer norm are layers of their own).
 *
 * With x (B, T, C), heads H and D = C / H:
 *   [q | k | v] = x [Wq | Wk | Wv]^T + [bq | bk | bv]     (B*T, 3C)
 *   per sample b and head h: ctx_h = softmax(q_h k_h^T / sqrt(D) + mask) v_h
 *   y = ctx Wo^T + bo                                     (B, T, C)
 * The mask hides keys at or past a sequence's length and, when causal,
 * keys after the query. Parameters, in PyTorch's (out, in) layout:
 * query.weight, key.weight, value.weight (C, C) each, query.bias, key.bias,
 * value.bias (C), output.weight (C, C), output.bias (C): 4 (C^2 + C), as
 * BertSelfAttention + BertSelfOutput.dense. The three input projections
 * are declared one after another, so in the flat buffer they form one
 * (3C, C) matrix and one (3C) bias, and the projection is one GEMM.
 *
 * Keys: heads (required, dividing C), causal (false), dropout (0: on the
 * attention probabilities in training, keyed by (step, layer, global
 * sample index) as the dropout layer), init (default | normal, with
 * init_std), pad_from / pad_id (as the recurrent layers: lengths from the
 * first pad_id among the token ids of the last input; otherwise from the
 * pass, or none). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer.h"

typedef struct attn_priv {
    int64_t T, C, H;
    int causal;
    float dropout, pad_id;
    int pad_input; /* index of the token-id input, or -1 */
} attn_priv;

/* Scratch per sample, in units of T*C floats: qkv (T, 3C), ctx (T, C),
 * their gradients, then the sequence length. For a pass over n samples
 * each part holds n samples' worth. */
enum { AT_QKV = 0, AT_CTX = 3, AT_DCTX = 4, AT_DQKV = 5, AT_LEN = 8 };

static int64_t attn_scratch(const dt_layer *l)
{
    const attn_priv *q = l->priv;
    return AT_LEN * q->T * q->C + 1;
}

static float *part(const dt_layer *l, int64_t n, int at)
{
    const attn_priv *q = l->priv;
    return l->scratch + n * at * q->T * q->C;
}

/* pad_from: NAME, the second and last of two inputs, with T token ids per
 * sample; without it the layer takes one input. */
static dt_status attn_pad_input(dt_layer *l, dt_cfg *cfg, attn_priv *q)
{
    DT_TRY(dt_layer_pad_input(l, cfg, q->T, &q->pad_input, &q->pad_id));
    if (q->pad_input < 0 && l->n_in > 1)
        return dt_cfg_error(dt_cfg_get(cfg, "inputs"), "one input, or a second one named "
                            "by pad_from", "%d inputs", l->n_in);
    if (q->pad_input >= 0 && l->n_in != 2)
        return dt_cfg_error(dt_cfg_get(cfg, "pad_from"), "the second and last of two inputs",
                            "%d inputs", l->n_in);
    return DT_OK;
}

static void declare_params(dt_layer *l, const attn_priv *q, dt_init init, float std)
{
    static const char *const w[3] = {"query.weight", "key.weight", "value.weight"};
    static const char *const b[3] = {"query.bias", "key.bias", "value.bias"};
    const int64_t C = q->C, shape[2] = {C, C};
    const dt_init bias_init = init == DT_INIT_NORMAL ? DT_INIT_ZEROS : init;
    for (int k = 0; k < 3; k++) dt_layer_add_param(l, w[k], 2, shape, init, C, C)->init_std = std;
    for (int k = 0; k < 3; k++) dt_layer_add_param(l, b[k], 1, &C, bias_init, C, C)->no_decay = 1;
    dt_layer_add_param(l, "output.weight", 2, shape, init, C, C)->init_std = std;
    dt_layer_add_param(l, "output.bias", 1, &C, bias_init, C, C)->no_decay = 1;
}

static dt_status attn_setup(dt_layer *l, dt_cfg *cfg)
{
    static const char *const inits[] = {"default", "normal", NULL};
    static const dt_init codes[] = {DT_INIT_UNIFORM_FAN_IN, DT_INIT_NORMAL};
    attn_priv *q = dt_calloc(1, sizeof *q);
    l->priv = q;
    const dt_shape *s = &l->in_shape[0];
    char buf[64];
    if (s->ndim != 2)
        return dt_error_set(DT_ERR_SHAPE, "expected a sequence (T, C) per sample, found %s",
                            dt_shape_str(s, buf, sizeof buf));
    q->T = s->dim[0];
    q->C = s->dim[1];
    double p;
    dt_init init;
    float std;
    DT_TRY(dt_cfg_int_req(cfg, "heads", 1, 1 << 16, &q->H));
    DT_TRY(dt_cfg_bool(cfg, "causal", 0, &q->causal));
    DT_TRY(dt_cfg_float(cfg, "dropout", 0.0, 0.0, 0.999999, &p));
    DT_TRY(dt_layer_read_init(cfg, inits, codes, &init, &std));
    q->dropout = (float)p;
    if (q->C % q->H)
        return dt_cfg_error(dt_cfg_get(cfg, "heads"), "a number of heads dividing the "
                            "channels", "%lld heads for %lld channels", (long long)q->H,
                            (long long)q->C);
    DT_TRY(attn_pad_input(l, cfg, q));
    declare_params(l, q, init, std);
    l->out_shape = *s;
    l->units = q->C;
    return DT_OK;
}

static int64_t attn_workspace(const dt_layer *l, const dt_backend *be)
{
    const attn_priv *q = l->priv;
    return be->attention_workspace(q->T, q->H);
}

/* The arguments of the attention op for this pass. */
static dt_attn_args attn_args(const dt_layer *l, const dt_pass *p, const float *len,
                              dt_rng *rng)
{
    const attn_priv *q = l->priv;
    const int64_t n = p->n;
    const int drop = p->training && q->dropout > 0.0f;
    *rng = dt_rng_make(p->seed, DT_RNG_DROPOUT, (uint32_t)p->step, (uint32_t)l->index);
    return (dt_attn_args){.n = n, .steps = q->T, .heads = q->H, .head_dim = q->C / q->H,
                          .qkv = part(l, n, AT_QKV), .ctx = part(l, n, AT_CTX), .lengths = len,
                          .causal = q->causal, .scale = 1.0f / sqrtf((float)(q->C / q->H)),
                          .dropout = drop ? q->dropout : 0.0f, .rng = rng, .index = p->index,
                          .dctx = part(l, n, AT_DCTX), .dqkv = part(l, n, AT_DQKV),
                          .work = l->work,
                          .work_floats = l->work_floats};
}

/* Lengths of this pass: from the token ids, the pass, or none. */
static const float *attn_lengths(const dt_layer *l, const dt_pass *p, int compute)
{
    const attn_priv *q = l->priv;
    if (q->pad_input < 0) return p->lengths;
    float *own = part(l, p->n, AT_LEN);
    if (compute) p->be->seq_lengths(l->x[q->pad_input], p->n, q->T, q->pad_id, own);
    return own;
}

static void attn_forward(dt_layer *l, const dt_pass *p)
{
    const attn_priv *q = l->priv;
    const int rows = (int)(p->n * q->T), C = (int)q->C;
    if (rows == 0) return;
    const dt_backend *be = p->be;
    float *qkv = part(l, p->n, AT_QKV), *ctx = part(l, p->n, AT_CTX);

    be->gemm(0, 1, rows, 3 * C, C, 1.0f, l->x[0], C, l->params[0].data, C, 0.0f, qkv, 3 * C);
    be->add_bias(qkv, l->params[3].data, rows, 3 * C);
    dt_rng rng;
    const dt_attn_args a = attn_args(l, p, attn_lengths(l, p, 1), &rng);
    be->attention_forward(&a);
    be->gemm(0, 1, rows, C, C, 1.0f, ctx, C, l->params[6].data, C, 0.0f, l->out, C);
    be->add_bias(l->out, l->params[7].data, rows, C);
}

static void attn_backward(dt_layer *l, const dt_pass *p)
{
    const attn_priv *q = l->priv;
    const int rows = (int)(p->n * q->T), C = (int)q->C;
    const dt_backend *be = p->be;
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    if (rows == 0) {
        for (int k = 0; p->overwrite_grads && k < l->n_params; k++)
            be->fill(l->params[k].grad, 0.0f, dt_shape_numel(&l->params[k].shape));
        return;
    }
    const float *ctx = part(l, p->n, AT_CTX);
    float *dctx = part(l, p->n, AT_DCTX), *dqkv = part(l, p->n, AT_DQKV);

    /* Output projection: dWo = dy^T ctx, dbo = sums of dy, dctx = dy Wo. */
    be->gemm(1, 0, C, C, rows, 1.0f, l->dout, C, ctx, C, beta, l->params[6].grad, C);
    be->sum_rows(l->params[7].grad, l->dout, rows, C, beta);
    be->gemm(0, 0, rows, C, C, 1.0f, l->dout, C, l->params[6].data, C, 0.0f, dctx, C);

    dt_rng rng;
    const dt_attn_args a = attn_args(l, p, attn_lengths(l, p, 0), &rng);
    be->attention_backward(&a);

    /* Input projections, as one (3C, C) matrix: dW = dqkv^T x, dx += dqkv W. */
    be->gemm(1, 0, 3 * C, C, rows, 1.0f, dqkv, 3 * C, l->x[0], C, beta, l->params[0].grad, C);
    be->sum_rows(l->params[3].grad, dqkv, rows, 3 * C, beta);
    if (l->dx[0])
        be->gemm(0, 0, rows, C, 3 * C, 1.0f, dqkv, 3 * C, l->params[0].data, C, 1.0f, l->dx[0],
                 C);
}

/* Projections 4 T C^2, scores and weighted values 2 T^2 C (the full T x T,
 * as computed, also when causal). */
static int64_t attn_macs(const dt_layer *l)
{
    const attn_priv *q = l->priv;
    return 4 * q->T * q->C * q->C + 2 * q->T * q->T * q->C;
}

static void attn_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_attention_ops = {
    .kind = "attention",
    .multi_input = 1,
    .setup = attn_setup,
    .forward = attn_forward,
    .backward = attn_backward,
    .macs = attn_macs,
    .scratch_per_sample = attn_scratch,
    .destroy = attn_destroy,
    .workspace = attn_workspace,
};
