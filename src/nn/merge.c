/* Layers with several inputs: elementwise add (residual connections) and
 * concatenation along the first per-sample dimension (features of a flat
 * vector, or channels of a CHW image). */
#include <stdio.h>

#include "nn/layer.h"

static dt_status add_setup(dt_layer *l, dt_cfg *cfg)
{
    if (l->n_in < 2) return dt_cfg_error(cfg, "at least two inputs", "%d", l->n_in);
    for (int i = 1; i < l->n_in; i++) {
        if (!dt_shape_equal(&l->in_shape[i], &l->in_shape[0])) {
            char a[64], b[64];
            return dt_cfg_error(cfg, "inputs of one shape", "%s and %s",
                                dt_shape_str(&l->in_shape[0], a, sizeof a),
                                dt_shape_str(&l->in_shape[i], b, sizeof b));
        }
    }
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static void add_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t n = p->n * dt_shape_numel(&l->out_shape);
    p->be->copy(l->out, l->x[0], (size_t)n * sizeof(float));
    for (int i = 1; i < l->n_in; i++) p->be->axpy(l->out, l->x[i], 1.0f, n);
}

static void add_backward(dt_layer *l, const dt_pass *p)
{
    const int64_t n = p->n * dt_shape_numel(&l->out_shape);
    for (int i = 0; i < l->n_in; i++)
        if (l->dx[i]) p->be->axpy(l->dx[i], l->dout, 1.0f, n);
}

const dt_layer_ops dt_add_ops = {
    .kind = "add",
    .multi_input = 1,
    .setup = add_setup,
    .forward = add_forward,
    .backward = add_backward,
};

static dt_status concat_setup(dt_layer *l, dt_cfg *cfg)
{
    if (l->n_in < 2) return dt_cfg_error(cfg, "at least two inputs", "%d", l->n_in);
    dt_shape out = l->in_shape[0];
    for (int i = 1; i < l->n_in; i++) {
        const dt_shape *s = &l->in_shape[i];
        int fits = s->ndim == out.ndim && s->ndim > 0;
        for (int d = 1; fits && d < s->ndim; d++) fits = s->dim[d] == out.dim[d];
        if (!fits) {
            char a[64], b[64];
            return dt_cfg_error(cfg, "inputs that differ only in their first dimension",
                                "%s and %s", dt_shape_str(&l->in_shape[0], a, sizeof a),
                                dt_shape_str(s, b, sizeof b));
        }
        out.dim[0] += s->dim[0];
    }
    l->out_shape = out;
    return DT_OK;
}

/* Each sample's output is its inputs laid end to end. */
static void concat_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t total = dt_shape_numel(&l->out_shape);
    int64_t off = 0;
    for (int i = 0; i < l->n_in; i++) {
        const int64_t len = dt_shape_numel(&l->in_shape[i]);
        for (int64_t r = 0; r < p->n; r++)
            p->be->copy(l->out + r * total + off, l->x[i] + r * len, (size_t)len * sizeof(float));
        off += len;
    }
}

static void concat_backward(dt_layer *l, const dt_pass *p)
{
    const int64_t total = dt_shape_numel(&l->out_shape);
    int64_t off = 0;
    for (int i = 0; i < l->n_in; i++) {
        const int64_t len = dt_shape_numel(&l->in_shape[i]);
        for (int64_t r = 0; l->dx[i] && r < p->n; r++)
            p->be->axpy(l->dx[i] + r * len, l->dout + r * total + off, 1.0f, len);
        off += len;
    }
}

const dt_layer_ops dt_concat_ops = {
    .kind = "concat",
    .multi_input = 1,
    .setup = concat_setup,
    .forward = concat_forward,
    .backward = concat_backward,
};
