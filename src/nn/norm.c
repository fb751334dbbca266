/* Normalization layers, as torch.nn.BatchNorm1d/2d, LayerNorm, GroupNorm
 * and InstanceNorm2d.
 *
 * batch_norm: x (B, C, H, W) or (B, C); statistics per channel over the
 * batch and the pixels. In training the batch's mean and (biased) variance
 * normalize, and the running statistics move towards them:
 * running = (1 - momentum) running + momentum * batch, the variance taken
 * unbiased (n / (n - 1)) there as in PyTorch. In evaluation the running
 * statistics normalize. Parameters weight (C, ones) and bias (C, zeros);
 * buffers running_mean (C, zeros) and running_var (C, ones). Keys:
 * momentum (0.1), eps (1e-5).
 *
 * group_norm (groups, eps, affine: true), instance_norm (groups = C; eps,
 * affine: false) and layer_norm normalize each sample on its own,
 * identically in training and evaluation. layer_norm's key axis says over
 * what: `all` (the default, torch.nn.LayerNorm(shape of the sample): weight
 * and bias of that shape) or `last` (torch.nn.LayerNorm(C) on a (T, C)
 * sequence, as transformers use it: each token normalized over its C
 * features, weight and bias (C)); eps, affine: true. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/layer.h"

typedef struct bn_priv {
    float momentum, eps;
} bn_priv;

/* (C, hw) of a per-sample shape: channels first, the rest flattened. */
static void chan_hw(const dt_shape *s, int64_t *c, int64_t *hw)
{
    *c = s->ndim ? s->dim[0] : 1;
    *hw = dt_shape_numel(s) / *c;
}

static void add_affine(dt_layer *l, int ndim, const int64_t *shape)
{
    dt_param *w = dt_layer_add_param(l, "weight", ndim, shape, DT_INIT_ONES, 1, 1);
    dt_param *b = dt_layer_add_param(l, "bias", ndim, shape, DT_INIT_ZEROS, 1, 1);
    w->no_decay = b->no_decay = 1;
}

/* ---- batch norm ---- */

static dt_status bn_setup(dt_layer *l, dt_cfg *cfg)
{
    double momentum, eps;
    int sync;
    DT_TRY(dt_cfg_float(cfg, "momentum", 0.1, 0.0, 1.0, &momentum));
    DT_TRY(dt_cfg_float(cfg, "eps", 1e-5, 0.0, 1.0, &eps));
    DT_TRY(dt_cfg_bool(cfg, "sync", 0, &sync));
    if (sync)
        return dt_cfg_error(dt_cfg_get(cfg, "sync"), "false (statistics per rank)",
                            "true, which this version does not support");
    const dt_shape *s = &l->in_shape[0];
    if (s->ndim != 1 && s->ndim != 3) {
        char buf[64];
        return dt_error_set(DT_ERR_SHAPE, "expects (channels) or (channels, height, width), "
                            "found %s", dt_shape_str(s, buf, sizeof buf));
    }
    int64_t c, hw;
    chan_hw(s, &c, &hw);
    bn_priv *bp = dt_calloc(1, sizeof *bp);
    *bp = (bn_priv){(float)momentum, (float)eps};
    l->priv = bp;
    l->units = c;
    add_affine(l, 1, &c);
    dt_layer_add_buffer(l, "running_mean", 1, &c, DT_INIT_ZEROS);
    dt_layer_add_buffer(l, "running_var", 1, &c, DT_INIT_ONES);
    l->out_shape = *s;
    return DT_OK;
}

static void bn_destroy(dt_layer *l) { free(l->priv); }

static float bn_eps(const dt_layer *l) { return ((const bn_priv *)l->priv)->eps; }

/* Scratch: batch mean, batch variance and rstd (3 C floats, in row 0). */
static int64_t bn_scratch(const dt_layer *l) { return 3 * l->units; }

static void bn_forward(dt_layer *l, const dt_pass *p)
{
    int64_t c, hw;
    chan_hw(&l->out_shape, &c, &hw);
    if (p->n == 0) return;
    float *mean = l->scratch, *var = mean + c, *rstd = var + c;
    float *rm = l->bufs[0].data, *rv = l->bufs[1].data;
    const float *gamma = l->params[0].data, *beta = l->params[1].data;
    if (!p->training) {
        p->be->batchnorm_forward(l->x[0], l->out, p->n, c, hw, rm, rv, bn_eps(l), gamma, beta,
                                 rstd);
        return;
    }
    p->be->batchnorm_stats(l->x[0], p->n, c, hw, mean, var);
    p->be->batchnorm_forward(l->x[0], l->out, p->n, c, hw, mean, var, bn_eps(l), gamma, beta,
                             rstd);
    const int64_t count = p->n * hw;
    const float m = ((const bn_priv *)l->priv)->momentum;
    p->be->scale(rm, 1.0f - m, c);
    p->be->axpy(rm, mean, m, c);
    if (count > 1) {
        p->be->scale(rv, 1.0f - m, c);
        p->be->axpy(rv, var, m * (float)count / (float)(count - 1), c);
    }
}

static void bn_backward(dt_layer *l, const dt_pass *p)
{
    int64_t c, hw;
    chan_hw(&l->out_shape, &c, &hw);
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    if (p->n == 0) {
        for (int k = 0; p->overwrite_grads && k < 2; k++) p->be->fill(l->params[k].grad, 0, c);
        return;
    }
    const float *rstd = l->scratch + 2 * c;
    const float *mean = p->training ? l->scratch : l->bufs[0].data;
    p->be->batchnorm_backward(l->x[0], l->dout, l->dx[0], p->n, c, hw, mean, rstd,
                              l->params[0].data, l->params[0].grad, l->params[1].grad, beta,
                              p->training);
}

static int64_t bn_macs(const dt_layer *l) { return dt_shape_numel(&l->out_shape); }

const dt_layer_ops dt_batch_norm_ops = {
    .kind = "batch_norm",
    .setup = bn_setup,
    .forward = bn_forward,
    .backward = bn_backward,
    .macs = bn_macs,
    .scratch_per_sample = bn_scratch,
    .destroy = bn_destroy,
};

/* ---- group, instance and layer norm ---- */

typedef struct gn_priv {
    int64_t groups;
    float eps;
    int per_elem;  /* affine per element of the sample (layer norm), else per channel */
    int last_axis; /* layer norm over the last axis: each token on its own */
} gn_priv;

/* The backend's (n, c, hw) view of a pass over n samples: normally the
 * sample's (C, hw); with last_axis, n * T rows of (C, 1), T = tokens per
 * sample. */
static void gn_dims(const dt_layer *l, int64_t n, int64_t *rows, int64_t *c, int64_t *hw)
{
    const gn_priv *gp = l->priv;
    const dt_shape *s = &l->out_shape;
    if (!gp->last_axis) {
        chan_hw(s, c, hw);
        *rows = n;
        return;
    }
    *c = s->ndim ? s->dim[s->ndim - 1] : 1;
    *hw = 1;
    *rows = n * (dt_shape_numel(s) / *c);
}

static void gn_destroy(dt_layer *l) { free(l->priv); }

static dt_status gn_common(dt_layer *l, dt_cfg *cfg, int64_t groups, int affine_dflt,
                           int per_elem)
{
    double eps;
    int affine;
    DT_TRY(dt_cfg_float(cfg, "eps", 1e-5, 0.0, 1.0, &eps));
    DT_TRY(dt_cfg_bool(cfg, "affine", affine_dflt, &affine));
    int64_t c, hw;
    chan_hw(&l->in_shape[0], &c, &hw);
    if (groups < 1 || c % groups) {
        char buf[64];
        return dt_error_set(DT_ERR_SHAPE, "groups %lld must divide the %lld channels of input "
                            "%s", (long long)groups, (long long)c,
                            dt_shape_str(&l->in_shape[0], buf, sizeof buf));
    }
    gn_priv *gp = dt_calloc(1, sizeof *gp);
    *gp = (gn_priv){.groups = groups, .eps = (float)eps, .per_elem = per_elem};
    l->priv = gp;
    if (affine) {
        if (per_elem) add_affine(l, l->in_shape[0].ndim, l->in_shape[0].dim);
        else add_affine(l, 1, &c);
    }
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static dt_status group_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t groups;
    DT_TRY(dt_cfg_int_req(cfg, "groups", 1, 1 << 20, &groups));
    if (l->in_shape[0].ndim != 3) return dt_layer_image_shape(l, &groups, &groups, &groups);
    return gn_common(l, cfg, groups, 1, 0);
}

static dt_status instance_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t c, h, w;
    DT_TRY(dt_layer_image_shape(l, &c, &h, &w));
    return gn_common(l, cfg, c, 0, 0);
}

static dt_status layer_setup(dt_layer *l, dt_cfg *cfg)
{
    static const char *const axes[] = {"all", "last", NULL};
    int axis;
    DT_TRY(dt_cfg_enum(cfg, "axis", "all", axes, &axis));
    if (axis == 0) /* one group over the whole sample, affine per element */
        return gn_common(l, cfg, 1, 1, 1);
    /* Each token a sample of C channels and one pixel: affine per channel. */
    double eps;
    int affine;
    DT_TRY(dt_cfg_float(cfg, "eps", 1e-5, 0.0, 1.0, &eps));
    DT_TRY(dt_cfg_bool(cfg, "affine", 1, &affine));
    const dt_shape *s = &l->in_shape[0];
    const int64_t c = s->ndim ? s->dim[s->ndim - 1] : 1;
    gn_priv *gp = dt_calloc(1, sizeof *gp);
    *gp = (gn_priv){.groups = 1, .eps = (float)eps, .per_elem = 1, .last_axis = 1};
    l->priv = gp;
    if (affine) add_affine(l, 1, &c);
    l->out_shape = *s;
    return DT_OK;
}

/* mean and rstd of every normalized row */
static int64_t gn_scratch(const dt_layer *l)
{
    int64_t rows, c, hw;
    gn_dims(l, 1, &rows, &c, &hw);
    return 2 * ((const gn_priv *)l->priv)->groups * rows;
}

static void gn_forward(dt_layer *l, const dt_pass *p)
{
    int64_t n, c, hw;
    gn_dims(l, p->n, &n, &c, &hw);
    if (n == 0) return;
    const float *gamma = l->n_params ? l->params[0].data : NULL;
    const float *beta = l->n_params ? l->params[1].data : NULL;
    const gn_priv *gp = l->priv;
    p->be->groupnorm_forward(l->x[0], l->out, n, c, hw, gp->groups, gp->eps, gamma, beta,
                             gp->per_elem, l->scratch);
}

static void gn_backward(dt_layer *l, const dt_pass *p)
{
    int64_t n, c, hw;
    gn_dims(l, p->n, &n, &c, &hw);
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    const int affine = l->n_params > 0;
    if (n == 0) {
        for (int k = 0; p->overwrite_grads && k < l->n_params; k++)
            p->be->fill(l->params[k].grad, 0.0f, dt_shape_numel(&l->params[k].shape));
        return;
    }
    const gn_priv *gp = l->priv;
    p->be->groupnorm_backward(l->x[0], l->dout, l->dx[0], n, c, hw, gp->groups,
                              affine ? l->params[0].data : NULL, gp->per_elem, l->scratch,
                              affine ? l->params[0].grad : NULL,
                              affine ? l->params[1].grad : NULL, beta);
}

const dt_layer_ops dt_group_norm_ops = {
    .kind = "group_norm",
    .setup = group_setup,
    .forward = gn_forward,
    .backward = gn_backward,
    .macs = bn_macs,
    .scratch_per_sample = gn_scratch,
    .destroy = gn_destroy,
};

const dt_layer_ops dt_instance_norm_ops = {
    .kind = "instance_norm",
    .setup = instance_setup,
    .forward = gn_forward,
    .backward = gn_backward,
    .macs = bn_macs,
    .scratch_per_sample = gn_scratch,
    .destroy = gn_destroy,
};

const dt_layer_ops dt_layer_norm_ops = {
    .kind = "layer_norm",
    .setup = layer_setup,
    .forward = gn_forward,
    .backward = gn_backward,
    .macs = bn_macs,
    .scratch_per_sample = gn_scratch,
    .destroy = gn_destroy,
};
