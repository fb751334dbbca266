/* Elementwise activations (relu, leaky_relu, sigmoid, tanh, gelu) and the
 * row-wise softmax. Output shape equals input shape.
 * Keys: leaky_relu has `slope` (0.01, as torch.nn.LeakyReLU). */
#include "nn/layer.h"

static dt_status act_setup_common(dt_layer *l, dt_act act)
{
    l->act = act;
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static dt_status relu_setup(dt_layer *l, dt_cfg *c) { return act_setup_common(l, DT_ACT_RELU); }
static dt_status sigmoid_setup(dt_layer *l, dt_cfg *c)
{
    return act_setup_common(l, DT_ACT_SIGMOID);
}
static dt_status tanh_setup(dt_layer *l, dt_cfg *c) { return act_setup_common(l, DT_ACT_TANH); }
static dt_status gelu_setup(dt_layer *l, dt_cfg *c) { return act_setup_common(l, DT_ACT_GELU); }

static dt_status leaky_setup(dt_layer *l, dt_cfg *cfg)
{
    double slope;
    DT_TRY(dt_cfg_float(cfg, "slope", 0.01, -1e6, 1e6, &slope));
    l->alpha = (float)slope;
    return act_setup_common(l, DT_ACT_LEAKY_RELU);
}

static void act_forward(dt_layer *l, const dt_pass *p)
{
    p->be->act_forward(l->act, l->alpha, l->x[0], l->out, p->n * dt_shape_numel(&l->out_shape));
}

static void act_backward(dt_layer *l, const dt_pass *p)
{
    if (!l->dx[0]) return;
    p->be->act_backward(l->act, l->alpha, l->x[0], l->out, l->dout, l->dx[0],
                        p->n * dt_shape_numel(&l->out_shape));
}

#define DT_ACTIVATION_OPS(var, name, setup_fn)                                 \
    const dt_layer_ops var = {                                                 \
        .kind = name,                                                          \
        .setup = setup_fn,                                                     \
        .forward = act_forward,                                                \
        .backward = act_backward,                                              \
    }

DT_ACTIVATION_OPS(dt_relu_ops, "relu", relu_setup);
DT_ACTIVATION_OPS(dt_leaky_relu_ops, "leaky_relu", leaky_setup);
DT_ACTIVATION_OPS(dt_sigmoid_ops, "sigmoid", sigmoid_setup);
DT_ACTIVATION_OPS(dt_tanh_ops, "tanh", tanh_setup);
DT_ACTIVATION_OPS(dt_gelu_ops, "gelu", gelu_setup);

/* Softmax over the last dimension of the per-sample shape. */
static dt_status softmax_setup(dt_layer *l, dt_cfg *cfg)
{
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static int64_t softmax_cols(const dt_layer *l)
{
    return l->out_shape.ndim ? l->out_shape.dim[l->out_shape.ndim - 1] : 1;
}

static void softmax_forward(dt_layer *l, const dt_pass *p)
{
    const int64_t cols = softmax_cols(l);
    const int64_t rows = p->n * dt_shape_numel(&l->out_shape) / cols;
    p->be->softmax_forward(l->x[0], l->out, rows, cols);
}

static void softmax_backward(dt_layer *l, const dt_pass *p)
{
    if (!l->dx[0]) return;
    const int64_t cols = softmax_cols(l);
    const int64_t rows = p->n * dt_shape_numel(&l->out_shape) / cols;
    p->be->softmax_backward(l->out, l->dout, l->dx[0], rows, cols);
}

const dt_layer_ops dt_softmax_ops = {
    .kind = "softmax",
    .setup = softmax_setup,
    .forward = softmax_forward,
    .backward = softmax_backward,
};
