/* Layers that only change the per-sample shape: flatten and reshape, which
 * copy the data unchanged (row-major order is preserved), and select_token,
 * which keeps one step of a (T, C) sequence: (C), as BERT's pooler reads
 * the [CLS] token. reshape keys: shape (a list; one entry may be -1 to
 * infer it). select_token keys: index (0; negative counts from the end, -1
 * the last step, as a causal model's summary). */
#include <stdio.h>

#include "nn/layer.h"

static dt_status flatten_setup(dt_layer *l, dt_cfg *cfg)
{
    const int64_t n = dt_shape_numel(&l->in_shape[0]);
    l->out_shape = dt_shape_make(1, &n);
    return DT_OK;
}

static dt_status reshape_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t dims[DT_MAX_DIMS];
    int nd = DT_MAX_DIMS, infer = -1;
    DT_TRY(dt_cfg_int_list(cfg, "shape", dims, &nd));
    dt_cfg *node = dt_cfg_get(cfg, "shape");
    if (nd == 0) return dt_cfg_error(cfg, "a 'shape' list", "no shape given");

    int64_t known = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] == -1 && infer < 0) infer = i;
        else if (dims[i] <= 0) return dt_cfg_error(node, "positive sizes and at most one -1",
                                                   "%lld", (long long)dims[i]);
        else known *= dims[i];
    }
    const int64_t total = dt_shape_numel(&l->in_shape[0]);
    if (infer >= 0) dims[infer] = total / known;
    const dt_shape s = dt_shape_make(nd, dims);
    if (dt_shape_numel(&s) != total) {
        char a[64], b[64];
        return dt_cfg_error(node, "a shape with as many elements as the input",
                            "%s for input %s", dt_shape_str(&s, a, sizeof a),
                            dt_shape_str(&l->in_shape[0], b, sizeof b));
    }
    l->out_shape = s;
    return DT_OK;
}

static void copy_forward(dt_layer *l, const dt_pass *p)
{
    p->be->copy(l->out, l->x[0], (size_t)(p->n * dt_shape_numel(&l->out_shape)) * sizeof(float));
}

static void copy_backward(dt_layer *l, const dt_pass *p)
{
    if (l->dx[0]) p->be->axpy(l->dx[0], l->dout, 1.0f, p->n * dt_shape_numel(&l->out_shape));
}

const dt_layer_ops dt_flatten_ops = {
    .kind = "flatten",
    .setup = flatten_setup,
    .forward = copy_forward,
    .backward = copy_backward,
};

const dt_layer_ops dt_reshape_ops = {
    .kind = "reshape",
    .setup = reshape_setup,
    .forward = copy_forward,
    .backward = copy_backward,
};

static dt_status select_setup(dt_layer *l, dt_cfg *cfg)
{
    const dt_shape *s = &l->in_shape[0];
    char buf[64];
    int64_t index;
    if (s->ndim != 2)
        return dt_error_set(DT_ERR_SHAPE, "expected a sequence (T, C) per sample, found %s",
                            dt_shape_str(s, buf, sizeof buf));
    const int64_t T = s->dim[0];
    DT_TRY(dt_cfg_int(cfg, "index", 0, -T, T - 1, &index));
    l->units = index < 0 ? T + index : index; /* the step kept */
    l->out_shape = dt_shape_make(1, &s->dim[1]);
    return DT_OK;
}

static void select_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t T = l->in_shape[0].dim[0], C = l->in_shape[0].dim[1];
    p->be->rows_copy(l->out, C, l->x[0] + l->units * C, T * C, p->n, C, NULL, 0);
}

static void select_backward(dt_layer *l, const dt_pass *p)
{
    const int64_t T = l->in_shape[0].dim[0], C = l->in_shape[0].dim[1];
    if (l->dx[0]) p->be->rows_add(l->dx[0] + l->units * C, T * C, l->dout, C, p->n, C, NULL, 0);
}

const dt_layer_ops dt_select_token_ops = {
    .kind = "select_token",
    .setup = select_setup,
    .forward = select_forward,
    .backward = select_backward,
};
