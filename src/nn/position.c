/* Learned embeddings added to a (T, C) sequence, as BERT's embedding block:
 * the position embedding and the segment (token type) embedding.
 *
 * position_embedding: y[t] = x[t] + weight[t], weight (max_len, C), as
 * BertEmbeddings.position_embeddings; rows past T get no gradient. A model
 * whose sequences are longer than max_len is a setup error. Keys: max_len
 * (required), init (default: N(0, 1) as torch.nn.Embedding | normal, with
 * init_std).
 *
 * segment_embedding: inputs [x, ids] with x (T, C) and ids (T) the token
 * ids; y[t] = x[t] + weight[s(t)], weight (2, C), as
 * BertEmbeddings.token_type_embeddings. The segment s(t) comes from the ids
 * of a packed pair [CLS] A [SEP] B [SEP] [PAD]...: 0 up to and including
 * the first sep_id, 1 after it (so padding after B is segment 1; it is
 * masked everywhere it could matter). Keys: sep_id (3), init, init_std. */
#include <stdio.h>

#include "nn/layer.h"

static const char *const k_inits[] = {"default", "normal", NULL};
static const dt_init k_codes[] = {DT_INIT_HE_NORMAL, DT_INIT_NORMAL};

/* A (T, C) input, or DT_ERR_SHAPE. */
static dt_status sequence_of(const dt_layer *l, int64_t *T, int64_t *C)
{
    const dt_shape *s = &l->in_shape[0];
    char buf[64];
    if (s->ndim != 2)
        return dt_error_set(DT_ERR_SHAPE, "expected a sequence (T, C) per sample, found %s",
                            dt_shape_str(s, buf, sizeof buf));
    *T = s->dim[0];
    *C = s->dim[1];
    return DT_OK;
}

/* The table, N(0, 1) by default: He-normal with fan_in 2, as embedding.c. */
static void add_table(dt_layer *l, int64_t rows, int64_t C, dt_init init, float std)
{
    const int64_t shape[2] = {rows, C};
    dt_layer_add_param(l, "weight", 2, shape, init, 2, C)->init_std = std;
}

static dt_status position_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t T = 0, C = 0, max_len;
    dt_init init;
    float std;
    DT_TRY(sequence_of(l, &T, &C));
    DT_TRY(dt_cfg_int_req(cfg, "max_len", 1, 1 << 24, &max_len));
    DT_TRY(dt_layer_read_init(cfg, k_inits, k_codes, &init, &std));
    if (T > max_len)
        return dt_cfg_error(dt_cfg_get(cfg, "max_len"), "sequences of at most max_len steps",
                            "sequences of %lld steps for max_len %lld", (long long)T,
                            (long long)max_len);
    add_table(l, max_len, C, init, std);
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static void position_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t tc = dt_shape_numel(&l->out_shape);
    p->be->copy(l->out, l->x[0], (size_t)(p->n * tc) * sizeof(float));
    p->be->add_bias(l->out, l->params[0].data, p->n, tc);
}

static void position_backward(dt_layer *l, const dt_pass *p)
{
    const dt_param *w = &l->params[0];
    const int64_t tc = dt_shape_numel(&l->out_shape), all = dt_shape_numel(&w->shape);
    if (l->dx[0]) p->be->axpy(l->dx[0], l->dout, 1.0f, p->n * tc);
    /* The first T rows sum over the batch; the rest are never read. */
    p->be->sum_rows(w->grad, l->dout, p->n, tc, p->overwrite_grads ? 0.0f : 1.0f);
    if (p->overwrite_grads && all > tc) p->be->fill(w->grad + tc, 0.0f, all - tc);
}

const dt_layer_ops dt_position_embedding_ops = {
    .kind = "position_embedding",
    .setup = position_setup,
    .forward = position_forward,
    .backward = position_backward,
};

/* ---- segment (token type) embedding ---- */

static dt_status segment_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t T = 0, C = 0;
    double sep;
    dt_init init;
    float std;
    char buf[64];
    DT_TRY(sequence_of(l, &T, &C));
    DT_TRY(dt_cfg_float(cfg, "sep_id", 3.0, 0.0, 1e9, &sep));
    DT_TRY(dt_layer_read_init(cfg, k_inits, k_codes, &init, &std));
    if (l->n_in != 2)
        return dt_cfg_error(cfg, "inputs: [sequence, token ids]", "%d input(s)", l->n_in);
    if (dt_shape_numel(&l->in_shape[1]) != T)
        return dt_error_set(DT_ERR_SHAPE, "the token ids (second input) have shape %s; "
                            "expected (%lld), one id per step",
                            dt_shape_str(&l->in_shape[1], buf, sizeof buf), (long long)T);
    l->alpha = (float)sep;
    add_table(l, 2, C, init, std);
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

/* The segment of every token: T floats per sample. */
static int64_t segment_scratch(const dt_layer *l) { return l->out_shape.dim[0]; }

static void segment_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t T = l->out_shape.dim[0], C = l->out_shape.dim[1];
    p->be->token_segments(l->x[1], p->n, T, l->alpha, l->scratch);
    p->be->embed_forward(l->scratch, p->n * T, l->params[0].data, 2, C, l->out);
    p->be->axpy(l->out, l->x[0], 1.0f, p->n * T * C);
}

static void segment_backward(dt_layer *l, const dt_pass *p)
{
    const int64_t T = l->out_shape.dim[0], C = l->out_shape.dim[1];
    const dt_param *w = &l->params[0];
    if (l->dx[0]) p->be->axpy(l->dx[0], l->dout, 1.0f, p->n * T * C);
    if (p->overwrite_grads) p->be->fill(w->grad, 0.0f, 2 * C);
    p->be->embed_backward(l->scratch, p->n * T, l->dout, 2, C, w->grad);
}

const dt_layer_ops dt_segment_embedding_ops = {
    .kind = "segment_embedding",
    .multi_input = 1,
    .setup = segment_setup,
    .forward = segment_forward,
    .backward = segment_backward,
    .scratch_per_sample = segment_scratch,
};
