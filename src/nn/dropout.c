/* Inverted dropout: in training each element is zeroed with probability p
 * and the survivors scaled by 1/(1-p); in evaluation it is the identity.
 * The mask of element j of sample i at step s comes from the Philox stream
 * (seed, dropout, s, layer index) at position i * numel + j, where i is the
 * GLOBAL sample index: the same sample gets the same mask on any number of
 * ranks. Keys: p (0.5). */
#include "nn/layer.h"

static dt_status dropout_setup(dt_layer *l, dt_cfg *cfg)
{
    double p;
    DT_TRY(dt_cfg_float(cfg, "p", 0.5, 0.0, 0.999999, &p));
    l->alpha = (float)p;
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static int64_t dropout_scratch(const dt_layer *l) { return dt_shape_numel(&l->out_shape); }

static void dropout_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t cols = dt_shape_numel(&l->out_shape);
    if (!p->training || l->alpha == 0.0f) {
        p->be->copy(l->out, l->x[0], (size_t)(p->n * cols) * sizeof(float));
        return;
    }
    const dt_rng rng = dt_rng_make(p->seed, DT_RNG_DROPOUT, (uint32_t)p->step,
                                   (uint32_t)l->index);
    p->be->dropout_forward(l->x[0], l->out, l->scratch, p->n, cols, p->index, &rng, l->alpha);
}

static void dropout_backward(dt_layer *l, const dt_pass *p)
{
    if (!l->dx[0]) return;
    const int64_t n = p->n * dt_shape_numel(&l->out_shape);
    if (!p->training || l->alpha == 0.0f)
        p->be->axpy(l->dx[0], l->dout, 1.0f, n);
    else
        p->be->mul_add(l->dx[0], l->dout, l->scratch, n);
}

const dt_layer_ops dt_dropout_ops = {
    .kind = "dropout",
    .setup = dropout_setup,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .scratch_per_sample = dropout_scratch,
};
