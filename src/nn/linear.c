/* Fully connected layer: y = x W^T + b, as torch.nn.Linear.
 *
 * x (B, in), W (units, in), b (units), y (B, units). The input may have any
 * per-sample shape; it is read as (B, numel). Keys: units, bias (true),
 * init (default | xavier | he). */
#include "nn/layer.h"

static dt_status linear_setup(dt_layer *l, dt_cfg *cfg)
{
    static const char *const inits[] = {"default", "xavier", "he", NULL};
    static const dt_init init_of[] = {DT_INIT_UNIFORM_FAN_IN, DT_INIT_XAVIER_UNIFORM,
                                      DT_INIT_HE_NORMAL};
    int64_t units;
    int bias, init;
    DT_TRY(dt_cfg_int_req(cfg, "units", 1, 1 << 24, &units));
    DT_TRY(dt_cfg_bool(cfg, "bias", 1, &bias));
    DT_TRY(dt_cfg_enum(cfg, "init", "default", inits, &init));

    const int64_t in = dt_shape_numel(&l->in_shape[0]);
    l->units = units;
    l->out_shape = dt_shape_make(1, &units);
    const int64_t wshape[2] = {units, in};
    dt_layer_add_param(l, "weight", 2, wshape, init_of[init], in, units);
    if (bias) {
        /* PyTorch draws the bias from U(-1/sqrt(in), 1/sqrt(in)) too. */
        dt_param *b = dt_layer_add_param(l, "bias", 1, &units,
                                         init == 0 ? DT_INIT_UNIFORM_FAN_IN : DT_INIT_ZEROS,
                                         in, units);
        b->no_decay = 1;
    }
    return DT_OK;
}

static void linear_forward(dt_layer *l, const dt_pass *p)
{
    const int in = (int)dt_shape_numel(&l->in_shape[0]), out = (int)l->units;
    const int n = (int)p->n;
    if (n == 0) return;

    p->be->gemm(0, 1, n, out, in, 1.0f, l->x[0], in, l->params[0].data, in, 0.0f, l->out, out);
    if (l->n_params > 1) p->be->add_bias(l->out, l->params[1].data, n, out);
}

static void linear_backward(dt_layer *l, const dt_pass *p)
{
    const int in = (int)dt_shape_numel(&l->in_shape[0]), out = (int)l->units;
    const int n = (int)p->n;
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    if (n == 0) {
        for (int k = 0; p->overwrite_grads && k < l->n_params; k++)
            p->be->fill(l->params[k].grad, 0.0f, dt_shape_numel(&l->params[k].shape));
        return;
    }

    /* dW (out, in) += dy^T x ; db += column sums of dy ; dx += dy W */
    p->be->gemm(1, 0, out, in, n, 1.0f, l->dout, out, l->x[0], in, beta, l->params[0].grad,
                in);
    if (l->n_params > 1) p->be->sum_rows(l->params[1].grad, l->dout, n, out, beta);
    if (l->dx[0])
        p->be->gemm(0, 0, n, in, out, 1.0f, l->dout, out, l->params[0].data, in, 1.0f, l->dx[0],
                    in);
}

static int64_t linear_macs(const dt_layer *l)
{
    return dt_shape_numel(&l->in_shape[0]) * l->units;
}

const dt_layer_ops dt_linear_ops = {
    .kind = "linear",
    .setup = linear_setup,
    .forward = linear_forward,
    .backward = linear_backward,
    .macs = linear_macs,
};
