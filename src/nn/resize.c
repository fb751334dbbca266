/* Upsampling of NCHW images, as torch.nn.Upsample: nearest, or bilinear
 * with align_corners false. x (B, C, H, W) -> (B, C, OH, OW). Keys: scale
 * (an integer or [h, w], 2) or size ([OH, OW]), mode (nearest | bilinear). */
#include "nn/layer.h"

static dt_status upsample_setup(dt_layer *l, dt_cfg *cfg)
{
    static const char *const modes[] = {"nearest", "bilinear", NULL};
    int64_t c, h, w, scale[2], size[2];
    int mode, ns = 2, nz = 2;
    DT_TRY(dt_layer_image_shape(l, &c, &h, &w));
    DT_TRY(dt_cfg_enum(cfg, "mode", "nearest", modes, &mode));
    DT_TRY(dt_cfg_int_list(cfg, "scale", scale, &ns));
    DT_TRY(dt_cfg_int_list(cfg, "size", size, &nz));
    if (ns && nz) return dt_cfg_error(cfg, "either 'scale' or 'size'", "both");
    if (nz == 1) size[1] = size[0];
    if (ns == 1) scale[1] = scale[0];
    if (!ns && !nz) scale[0] = scale[1] = 2;
    if (!nz) {
        if (scale[0] < 1 || scale[1] < 1)
            return dt_cfg_error(dt_cfg_get(cfg, "scale"), "positive factors", "%lldx%lld",
                                (long long)scale[0], (long long)scale[1]);
        size[0] = h * scale[0];
        size[1] = w * scale[1];
    }
    if (size[0] < 1 || size[1] < 1)
        return dt_cfg_error(dt_cfg_get(cfg, "size"), "a positive size", "%lldx%lld",
                            (long long)size[0], (long long)size[1]);
    l->units = mode;
    const int64_t out[3] = {c, size[0], size[1]};
    l->out_shape = dt_shape_make(3, out);
    return DT_OK;
}

static void upsample_forward(dt_layer *l, const dt_pass *p)
{
    const dt_shape *i = &l->in_shape[0], *o = &l->out_shape;
    if (p->n == 0) return;
    p->be->upsample_forward((int)l->units, l->x[0], l->out, p->n * i->dim[0], i->dim[1],
                            i->dim[2], o->dim[1], o->dim[2]);
}

static void upsample_backward(dt_layer *l, const dt_pass *p)
{
    const dt_shape *i = &l->in_shape[0], *o = &l->out_shape;
    if (p->n == 0 || !l->dx[0]) return;
    p->be->upsample_backward((int)l->units, l->dout, l->dx[0], p->n * i->dim[0], i->dim[1],
                             i->dim[2], o->dim[1], o->dim[2]);
}

const dt_layer_ops dt_upsample_ops = {
    .kind = "upsample",
    .setup = upsample_setup,
    .forward = upsample_forward,
    .backward = upsample_backward,
};
