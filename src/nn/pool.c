/* Pooling over NCHW images, as torch.nn.MaxPool2d, AvgPool2d and
 * AdaptiveAvgPool2d(1).
 *
 * max_pool2d / avg_pool2d: x (B, C, H, W) -> (B, C, OH, OW) with
 * OH = floor or ceil((H + 2p - k) / s) + 1; in ceil mode a last window that
 * would start in the right padding is dropped, as in PyTorch. Keys: kernel,
 * stride (= kernel), padding (0, at most half the kernel), ceil_mode
 * (false); avg_pool2d also count_include_pad (true). global_avg_pool:
 * (B, C, H, W) -> (B, C, 1, 1). Max pooling keeps the arg-max of every
 * output in its scratch for backward. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/layer.h"

static dt_status pair(dt_cfg *cfg, const char *key, int64_t dflt0, int64_t dflt1, int64_t lo,
                      int64_t v[2])
{
    int64_t list[2];
    int n = 2;
    DT_TRY(dt_cfg_int_list(cfg, key, list, &n));
    if (n == 0) list[0] = dflt0, list[1] = dflt1;
    else if (n == 1) list[1] = list[0];
    for (int i = 0; i < 2; i++)
        if (list[i] < lo)
            return dt_cfg_error(dt_cfg_get(cfg, key), "a larger integer or pair", "%lld",
                                (long long)list[i]);
    v[0] = list[0];
    v[1] = list[1];
    return DT_OK;
}

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode)
{
    const int64_t span = in + 2 * p - k;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

static dt_status pool_setup_kind(dt_layer *l, dt_cfg *cfg, int max)
{
    int64_t c, h, w, k[2], s[2], p[2];
    int ceil_mode, count_pad = 1;
    DT_TRY(dt_layer_image_shape(l, &c, &h, &w));
    if (!dt_cfg_get(cfg, "kernel")) return dt_cfg_error(cfg, "a 'kernel' size", "none given");
    DT_TRY(pair(cfg, "kernel", 1, 1, 1, k));
    DT_TRY(pair(cfg, "stride", k[0], k[1], 1, s));
    DT_TRY(pair(cfg, "padding", 0, 0, 0, p));
    DT_TRY(dt_cfg_bool(cfg, "ceil_mode", 0, &ceil_mode));
    if (!max) DT_TRY(dt_cfg_bool(cfg, "count_include_pad", 1, &count_pad));
    if (2 * p[0] > k[0] || 2 * p[1] > k[1])
        return dt_error_set(DT_ERR_SHAPE, "padding %lldx%lld must be at most half the kernel "
                            "%lldx%lld", (long long)p[0], (long long)p[1], (long long)k[0],
                            (long long)k[1]);
    if (k[0] > h + 2 * p[0] || k[1] > w + 2 * p[1])
        return dt_error_set(DT_ERR_SHAPE, "kernel %lldx%lld is larger than the padded input "
                            "%lldx%lld (input %lldx%lld)", (long long)k[0], (long long)k[1],
                            (long long)(h + 2 * p[0]), (long long)(w + 2 * p[1]),
                            (long long)h, (long long)w);
    dt_pool_geom *g = dt_calloc(1, sizeof *g);
    l->priv = g;
    *g = (dt_pool_geom){.c = c, .h = h, .w = w, .kh = k[0], .kw = k[1], .sh = s[0],
                        .sw = s[1], .ph = p[0], .pw = p[1], .max = max,
                        .count_pad = count_pad};
    g->oh = out_size(h, k[0], s[0], p[0], ceil_mode);
    g->ow = out_size(w, k[1], s[1], p[1], ceil_mode);
    const int64_t out[3] = {c, g->oh, g->ow};
    l->out_shape = dt_shape_make(3, out);
    return DT_OK;
}

static dt_status max_setup(dt_layer *l, dt_cfg *cfg) { return pool_setup_kind(l, cfg, 1); }
static dt_status avg_setup(dt_layer *l, dt_cfg *cfg) { return pool_setup_kind(l, cfg, 0); }

static dt_status global_setup(dt_layer *l, dt_cfg *cfg)
{
    int64_t c, h, w;
    (void)cfg;
    DT_TRY(dt_layer_image_shape(l, &c, &h, &w));
    dt_pool_geom *g = dt_calloc(1, sizeof *g);
    l->priv = g;
    *g = (dt_pool_geom){.c = c, .h = h, .w = w, .oh = 1, .ow = 1, .kh = h, .kw = w, .sh = h,
                        .sw = w, .count_pad = 1};
    const int64_t out[3] = {c, 1, 1};
    l->out_shape = dt_shape_make(3, out);
    return DT_OK;
}

static void pool_destroy(dt_layer *l) { free(l->priv); }

/* Max pooling keeps one int32 arg-max per output. */
static int64_t pool_scratch(const dt_layer *l)
{
    const dt_pool_geom *g = l->priv;
    return g->max ? dt_shape_numel(&l->out_shape) : 0;
}

static void pool_forward(dt_layer *l, const dt_pass *p)
{
    const dt_pool_geom *g = l->priv;
    if (p->n == 0) return;
    p->be->pool2d_forward(g, p->n, l->x[0], l->out, g->max ? (int32_t *)l->scratch : NULL);
}

static void pool_backward(dt_layer *l, const dt_pass *p)
{
    const dt_pool_geom *g = l->priv;
    if (p->n == 0 || !l->dx[0]) return;
    p->be->pool2d_backward(g, p->n, l->dout, g->max ? (const int32_t *)l->scratch : NULL,
                           l->dx[0]);
}

const dt_layer_ops dt_max_pool2d_ops = {
    .kind = "max_pool2d",
    .setup = max_setup,
    .forward = pool_forward,
    .backward = pool_backward,
    .scratch_per_sample = pool_scratch,
    .destroy = pool_destroy,
};

const dt_layer_ops dt_avg_pool2d_ops = {
    .kind = "avg_pool2d",
    .setup = avg_setup,
    .forward = pool_forward,
    .backward = pool_backward,
    .scratch_per_sample = pool_scratch,
    .destroy = pool_destroy,
};

const dt_layer_ops dt_global_avg_pool_ops = {
    .kind = "global_avg_pool",
    .setup = global_setup,
    .forward = pool_forward,
    .backward = pool_backward,
    .scratch_per_sample = pool_scratch,
    .destroy = pool_destroy,
};
