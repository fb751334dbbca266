/* 2-d convolution and transposed convolution over NCHW images, with the
 * parameter shapes, defaults and initialization of torch.nn.Conv2d and
 * torch.nn.ConvTranspose2d.
 *
 * conv2d: x (B, C, H, W), weight (channels, C / groups, kh, kw), bias
 * (channels), y (B, channels, OH, OW), OH = (H + 2p - d (k - 1) - 1) / s + 1.
 * conv_transpose2d: weight (C, channels / groups, kh, kw),
 * OH = (H - 1) s - 2p + d (k - 1) + output_padding + 1.
 * Keys: channels, kernel, stride (1), padding (0), dilation (1), groups (1),
 * bias (true), init (default | xavier | he); output_padding (transposed).
 * kernel, stride, padding, dilation and output_padding take an integer or
 * a pair [h, w]. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/layer.h"

typedef struct conv_priv {
    dt_conv_geom g; /* for the transposed kind: the convolution it inverts */
    int transposed;
} conv_priv;

/* An integer or [h, w] into v[2]; missing: dflt. */
static dt_status pair(dt_cfg *cfg, const char *key, int64_t dflt, int64_t lo, int64_t v[2])
{
    int64_t list[2];
    int n = 2;
    DT_TRY(dt_cfg_int_list(cfg, key, list, &n));
    if (n == 0) list[0] = list[1] = dflt;
    else if (n == 1) list[1] = list[0];
    for (int i = 0; i < 2; i++)
        if (list[i] < lo)
            return dt_cfg_error(dt_cfg_get(cfg, key), lo ? "a positive integer or pair"
                                                          : "a non-negative integer or pair",
                                "%lld", (long long)list[i]);
    v[0] = list[0];
    v[1] = list[1];
    return DT_OK;
}

typedef struct conv_keys {
    int64_t channels, groups, k[2], s[2], p[2], d[2], op[2];
    int bias, init;
} conv_keys;

static dt_status read_keys(dt_cfg *cfg, int transposed, conv_keys *k)
{
    static const char *const inits[] = {"default", "xavier", "he", NULL};
    DT_TRY(dt_cfg_int_req(cfg, "channels", 1, 1 << 20, &k->channels));
    DT_TRY(pair(cfg, "kernel", 0, 1, k->k));
    if (!dt_cfg_get(cfg, "kernel"))
        return dt_cfg_error(cfg, "a 'kernel' size", "none given");
    DT_TRY(pair(cfg, "stride", 1, 1, k->s));
    DT_TRY(pair(cfg, "padding", 0, 0, k->p));
    DT_TRY(pair(cfg, "dilation", 1, 1, k->d));
    DT_TRY(dt_cfg_int(cfg, "groups", 1, 1, 1 << 20, &k->groups));
    DT_TRY(dt_cfg_bool(cfg, "bias", 1, &k->bias));
    DT_TRY(dt_cfg_enum(cfg, "init", "default", inits, &k->init));
    k->op[0] = k->op[1] = 0;
    if (transposed) DT_TRY(pair(cfg, "output_padding", 0, 0, k->op));
    return DT_OK;
}

static dt_status check_groups(const conv_keys *k, int64_t c)
{
    if (c % k->groups || k->channels % k->groups)
        return dt_error_set(DT_ERR_SHAPE, "groups %lld must divide the input channels (%lld) "
                            "and the output channels (%lld)", (long long)k->groups,
                            (long long)c, (long long)k->channels);
    return DT_OK;
}

static void declare_params(dt_layer *l, const conv_keys *k, const int64_t wshape[4],
                           int64_t fan_in, int64_t fan_out)
{
    static const dt_init init_of[] = {DT_INIT_UNIFORM_FAN_IN, DT_INIT_XAVIER_UNIFORM,
                                      DT_INIT_HE_NORMAL};
    dt_layer_add_param(l, "weight", 4, wshape, init_of[k->init], fan_in, fan_out);
    if (k->bias) {
        dt_param *b = dt_layer_add_param(l, "bias", 1, &k->channels,
                                         k->init == 0 ? DT_INIT_UNIFORM_FAN_IN : DT_INIT_ZEROS,
                                         fan_in, fan_out);
        b->no_decay = 1;
    }
}

static dt_status conv_setup_kind(dt_layer *l, dt_cfg *cfg, int transposed)
{
    conv_keys k;
    int64_t c, h, w;
    DT_TRY(read_keys(cfg, transposed, &k));
    DT_TRY(dt_layer_image_shape(l, &c, &h, &w));
    DT_TRY(check_groups(&k, c));

    conv_priv *cp = dt_calloc(1, sizeof *cp);
    l->priv = cp;
    cp->transposed = transposed;
    dt_conv_geom *g = &cp->g;
    *g = (dt_conv_geom){.kh = k.k[0], .kw = k.k[1], .sh = k.s[0], .sw = k.s[1],
                        .ph = k.p[0], .pw = k.p[1], .dh = k.d[0], .dw = k.d[1],
                        .groups = k.groups};
    const int64_t span_h = k.d[0] * (k.k[0] - 1) + 1, span_w = k.d[1] * (k.k[1] - 1) + 1;
    int64_t oh, ow;
    if (!transposed) {
        if (span_h > h + 2 * k.p[0] || span_w > w + 2 * k.p[1])
            return dt_error_set(DT_ERR_SHAPE, "kernel %lldx%lld (dilation %lldx%lld) is larger "
                                "than the padded input %lldx%lld (input %lldx%lld, padding "
                                "%lldx%lld)", (long long)k.k[0], (long long)k.k[1],
                                (long long)k.d[0], (long long)k.d[1],
                                (long long)(h + 2 * k.p[0]), (long long)(w + 2 * k.p[1]),
                                (long long)h, (long long)w, (long long)k.p[0],
                                (long long)k.p[1]);
        oh = (h + 2 * k.p[0] - span_h) / k.s[0] + 1;
        ow = (w + 2 * k.p[1] - span_w) / k.s[1] + 1;
        g->c = c, g->h = h, g->w = w, g->oc = k.channels, g->oh = oh, g->ow = ow;
        const int64_t wshape[4] = {k.channels, c / k.groups, k.k[0], k.k[1]};
        declare_params(l, &k, wshape, c / k.groups * k.k[0] * k.k[1],
                       k.channels / k.groups * k.k[0] * k.k[1]);
    } else {
        if (k.op[0] >= k.s[0] && k.op[0] >= k.d[0])
            return dt_error_set(DT_ERR_SHAPE, "output_padding %lld must be smaller than the "
                                "stride or the dilation", (long long)k.op[0]);
        if (k.op[1] >= k.s[1] && k.op[1] >= k.d[1])
            return dt_error_set(DT_ERR_SHAPE, "output_padding %lld must be smaller than the "
                                "stride or the dilation", (long long)k.op[1]);
        oh = (h - 1) * k.s[0] - 2 * k.p[0] + span_h + k.op[0];
        ow = (w - 1) * k.s[1] - 2 * k.p[1] + span_w + k.op[1];
        if (oh <= 0 || ow <= 0)
            return dt_error_set(DT_ERR_SHAPE, "the output would be %lldx%lld for input "
                                "%lldx%lld (padding too large)", (long long)oh, (long long)ow,
                                (long long)h, (long long)w);
        /* The convolution from the output (channels) back to the input (c). */
        g->c = k.channels, g->h = oh, g->w = ow, g->oc = c, g->oh = h, g->ow = w;
        const int64_t wshape[4] = {c, k.channels / k.groups, k.k[0], k.k[1]};
        declare_params(l, &k, wshape, k.channels / k.groups * k.k[0] * k.k[1],
                       c / k.groups * k.k[0] * k.k[1]);
    }
    const int64_t out[3] = {k.channels, oh, ow};
    l->out_shape = dt_shape_make(3, out);
    return DT_OK;
}

static dt_status conv_setup(dt_layer *l, dt_cfg *cfg) { return conv_setup_kind(l, cfg, 0); }
static dt_status deconv_setup(dt_layer *l, dt_cfg *cfg) { return conv_setup_kind(l, cfg, 1); }

static void conv_destroy(dt_layer *l) { free(l->priv); }

static int64_t conv_workspace(const dt_layer *l, const dt_backend *be)
{
    const conv_priv *cp = l->priv;
    return be->conv2d_workspace(&cp->g);
}

static int64_t conv_macs(const dt_layer *l)
{
    const conv_priv *cp = l->priv;
    const dt_conv_geom *g = &cp->g;
    return g->oc * g->oh * g->ow * (g->c / g->groups) * g->kh * g->kw;
}

static const float *bias_of(const dt_layer *l)
{
    return l->n_params > 1 ? l->params[1].data : NULL;
}

static void zero_grads_if_overwrite(dt_layer *l, const dt_pass *p)
{
    for (int k = 0; p->overwrite_grads && k < l->n_params; k++)
        p->be->fill(l->params[k].grad, 0.0f, dt_shape_numel(&l->params[k].shape));
}

static void conv_forward(dt_layer *l, const dt_pass *p)
{
    const conv_priv *cp = l->priv;
    if (p->n == 0) return;
    p->be->conv2d_forward(&cp->g, p->n, l->x[0], l->params[0].data, bias_of(l), l->out, 0.0f,
                          l->work);
}

static void conv_backward(dt_layer *l, const dt_pass *p)
{
    const conv_priv *cp = l->priv;
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    if (p->n == 0) {
        zero_grads_if_overwrite(l, p);
        return;
    }
    float *db = l->n_params > 1 ? l->params[1].grad : NULL;
    p->be->conv2d_backward_filter(&cp->g, p->n, l->x[0], l->dout, l->params[0].grad, db, beta,
                                  l->work);
    if (l->dx[0])
        p->be->conv2d_backward_data(&cp->g, p->n, l->dout, l->params[0].data, l->dx[0],
                                    l->work);
}

/* Transposed: forward is the data gradient of the inverted convolution. */
static void deconv_forward(dt_layer *l, const dt_pass *p)
{
    const conv_priv *cp = l->priv;
    const dt_conv_geom *g = &cp->g;
    if (p->n == 0) return;
    p->be->fill(l->out, 0.0f, p->n * g->c * g->h * g->w);
    p->be->conv2d_backward_data(g, p->n, l->x[0], l->params[0].data, l->out, l->work);
    if (l->n_params > 1) p->be->channel_bias_add(l->out, l->params[1].data, p->n, g->c,
                                                 g->h * g->w);
}

static void deconv_backward(dt_layer *l, const dt_pass *p)
{
    const conv_priv *cp = l->priv;
    const dt_conv_geom *g = &cp->g;
    const float beta = p->overwrite_grads ? 0.0f : 1.0f;
    if (p->n == 0) {
        zero_grads_if_overwrite(l, p);
        return;
    }
    p->be->conv2d_backward_filter(g, p->n, l->dout, l->x[0], l->params[0].grad, NULL, beta,
                                  l->work);
    if (l->n_params > 1)
        p->be->channel_sum(l->params[1].grad, l->dout, p->n, g->c, g->h * g->w, beta);
    if (l->dx[0])
        p->be->conv2d_forward(g, p->n, l->dout, l->params[0].data, NULL, l->dx[0], 1.0f,
                              l->work);
}

const dt_layer_ops dt_conv2d_ops = {
    .kind = "conv2d",
    .setup = conv_setup,
    .forward = conv_forward,
    .backward = conv_backward,
    .macs = conv_macs,
    .destroy = conv_destroy,
    .workspace = conv_workspace,
};

const dt_layer_ops dt_conv_transpose2d_ops = {
    .kind = "conv_transpose2d",
    .setup = deconv_setup,
    .forward = deconv_forward,
    .backward = deconv_backward,
    .macs = conv_macs,
    .destroy = conv_destroy,
    .workspace = conv_workspace,
};
