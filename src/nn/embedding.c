/* Embedding: token ids to learned vectors, as torch.nn.Embedding.
 *
 * Input (B, T) per pass: T token ids per sample, stored as exact integers
 * in floats (or (T, 1)). Output (B, T, dim). The table (vocab, dim) is
 * initialized N(0, 1) as PyTorch. An id outside [0, vocab) reads a zero
 * vector and gets no gradient (padding beyond the vocabulary); the layer
 * warns once per model when it meets one. Keys: vocab, dim, init (default:
 * N(0, 1) | normal: N(0, init_std), 0.02 by default, as BERT and GPT-2).
 * A later linear layer may borrow the table with `tie` (an MLM or LM head);
 * its gradient then holds both contributions. */
#include "core/log.h"
#include "nn/layer.h"

static dt_status embedding_setup(dt_layer *l, dt_cfg *cfg)
{
    static const char *const inits[] = {"default", "normal", NULL};
    static const dt_init codes[] = {DT_INIT_HE_NORMAL, DT_INIT_NORMAL};
    int64_t vocab, dim;
    dt_init init;
    float std;
    DT_TRY(dt_cfg_int_req(cfg, "vocab", 1, 1 << 28, &vocab));
    DT_TRY(dt_cfg_int_req(cfg, "dim", 1, 1 << 20, &dim));
    DT_TRY(dt_layer_read_init(cfg, inits, codes, &init, &std));
    const dt_shape *s = &l->in_shape[0];
    if (!(s->ndim == 1 || (s->ndim == 2 && s->dim[1] == 1))) {
        char buf[64];
        return dt_error_set(DT_ERR_SHAPE, "expected token ids (T) or (T, 1) per sample, "
                            "found %s", dt_shape_str(s, buf, sizeof buf));
    }
    const int64_t table[2] = {vocab, dim}, out[2] = {s->dim[0], dim};
    /* He-normal with fan_in 2 is N(0, 1), PyTorch's initialization here. */
    dt_layer_add_param(l, "weight", 2, table, init, 2, dim)->init_std = std;
    l->units = vocab;
    l->out_shape = dt_shape_make(2, out);
    return DT_OK;
}

static void embedding_forward(dt_layer *l, const dt_pass *p)
{
    const dt_param *w = &l->params[0];
    const int64_t tokens = p->n * l->out_shape.dim[0];
    const int64_t bad = p->be->embed_forward(l->x[0], tokens, w->data, l->units,
                                             w->shape.dim[1], l->out);
    if (bad && l->alpha == 0.0f) {
        l->alpha = 1.0f; /* warned */
        DT_WARN("layer '%s': %lld token ids outside [0, %lld) read as zero vectors", l->name,
                (long long)bad, (long long)l->units);
    }
}

static void embedding_backward(dt_layer *l, const dt_pass *p)
{
    const dt_param *w = &l->params[0];
    if (p->overwrite_grads) p->be->fill(w->grad, 0.0f, dt_shape_numel(&w->shape));
    p->be->embed_backward(l->x[0], p->n * l->out_shape.dim[0], l->dout, l->units,
                          w->shape.dim[1], w->grad);
}

const dt_layer_ops dt_embedding_ops = {
    .kind = "embedding",
    .setup = embedding_setup,
    .forward = embedding_forward,
    .backward = embedding_backward,
};
