/* Local response normalization across channels (AlexNet), as
 * torch.nn.LocalResponseNorm: y_c = x_c / (k + alpha / size * sum of x^2
 * over the `size` channels centred on c) ^ beta, the window clipped at the
 * first and last channel. x (B, C, H, W) or (B, C). Keys: size (5),
 * alpha (1e-4), beta (0.75), k (1). The denominators' bases are kept in
 * scratch for backward. */
#include <stdlib.h>

#include "nn/layer.h"

typedef struct lrn_priv {
    int64_t size;
    float alpha, beta, k;
} lrn_priv;

static dt_status lrn_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t size;
    double alpha, beta, k;
    DT_TRY(dt_cfg_int(cfg, "size", 5, 1, 1 << 16, &size));
    DT_TRY(dt_cfg_float(cfg, "alpha", 1e-4, 0.0, 1e6, &alpha));
    DT_TRY(dt_cfg_float(cfg, "beta", 0.75, 0.0, 100.0, &beta));
    DT_TRY(dt_cfg_float(cfg, "k", 1.0, 1e-12, 1e6, &k));
    lrn_priv *lp = dt_calloc(1, sizeof *lp);
    *lp = (lrn_priv){size, (float)alpha, (float)beta, (float)k};
    l->priv = lp;
    l->out_shape = l->in_shape[0];
    return DT_OK;
}

static void lrn_destroy(dt_layer *l) { free(l->priv); }

static int64_t lrn_scratch(const dt_layer *l) { return dt_shape_numel(&l->out_shape); }

static void dims(const dt_layer *l, int64_t *c, int64_t *hw)
{
    *c = l->out_shape.dim[0];
    *hw = dt_shape_numel(&l->out_shape) / *c;
}

static void lrn_forward(dt_layer *l, const dt_pass *p)
{
    const lrn_priv *lp = l->priv;
    int64_t c, hw;
    dims(l, &c, &hw);
    if (p->n == 0) return;
    p->be->lrn_forward(l->x[0], l->out, l->scratch, p->n, c, hw, lp->size, lp->alpha, lp->beta,
                       lp->k);
}

static void lrn_backward(dt_layer *l, const dt_pass *p)
{
    const lrn_priv *lp = l->priv;
    int64_t c, hw;
    dims(l, &c, &hw);
    if (p->n == 0 || !l->dx[0]) return;
    p->be->lrn_backward(l->x[0], l->scratch, l->dout, l->dx[0], p->n, c, hw, lp->size,
                        lp->alpha, lp->beta);
}

static int64_t lrn_macs(const dt_layer *l)
{
    const lrn_priv *lp = l->priv;
    return dt_shape_numel(&l->out_shape) * lp->size;
}

const dt_layer_ops dt_lrn_ops = {
    .kind = "lrn",
    .setup = lrn_setup,
    .forward = lrn_forward,
    .backward = lrn_backward,
    .macs = lrn_macs,
    .scratch_per_sample = lrn_scratch,
    .destroy = lrn_destroy,
};
