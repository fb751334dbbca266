/* Loss configuration and dispatch to the backend's fused loss ops. */
#include "nn/loss.h"

#include <stdio.h>

static const char *const g_loss_names[] = {"cross_entropy", "mse", "gaussian_nll",
                                           "token_cross_entropy", NULL};

const char *dt_loss_name(dt_loss_kind k) { return g_loss_names[k]; }

dt_status dt_loss_setup(dt_cfg *cfg, const dt_shape *model_out, int labels_are_classes,
                        int num_classes, int y_dim, dt_loss *out)
{
    int kind;
    double smoothing;
    char buf[64];
    DT_TRY(dt_cfg_enum(cfg, "kind", labels_are_classes ? "cross_entropy" : "mse",
                       g_loss_names, &kind));
    DT_TRY(dt_cfg_float(cfg, "label_smoothing", 0.0, 0.0, 1.0, &smoothing));
    out->kind = (dt_loss_kind)kind;
    out->label_smoothing = (float)smoothing;
    out->out_dim = dt_shape_numel(model_out);
    out->y_dim = y_dim;
    out->positions = 1;
    out->classes = num_classes;

    const char *name = g_loss_names[kind];
    dt_shape_str(model_out, buf, sizeof buf);
    if (out->kind == DT_LOSS_TOKEN_CROSS_ENTROPY)
        return dt_error_set(DT_ERR_CONFIG, "loss.kind: token_cross_entropy needs labels of "
                            "kind tokens (a token class per step), but the data set has %s",
                            labels_are_classes ? "one class per sample" : "regression targets");
    if (out->kind == DT_LOSS_CROSS_ENTROPY) {
        if (!labels_are_classes)
            return dt_error_set(DT_ERR_CONFIG,
                                "loss.kind: cross_entropy needs class labels, but the data set "
                                "has regression targets (use mse or gaussian_nll)");
        if (out->out_dim != num_classes)
            return dt_error_set(DT_ERR_SHAPE,
                                "loss cross_entropy: the model's last layer gives %s outputs per "
                                "sample, expected %d (one per class)", buf, num_classes);
        return DT_OK;
    }
    if (labels_are_classes)
        return dt_error_set(DT_ERR_CONFIG,
                            "loss.kind: %s needs regression targets, but the data set has "
                            "class labels (use cross_entropy)", name);
    const int64_t want = out->kind == DT_LOSS_MSE ? y_dim : 2 * (int64_t)y_dim;
    if (out->out_dim != want)
        return dt_error_set(DT_ERR_SHAPE,
                            "loss %s: the model's last layer gives %s outputs per sample, "
                            "expected %lld for %d target(s)", name, buf, (long long)want, y_dim);
    return DT_OK;
}

dt_status dt_loss_setup_pixels(dt_cfg *cfg, const dt_shape *model_out, int num_classes,
                               int y_dim, dt_loss *out)
{
    int kind;
    double smoothing;
    char buf[64];
    static const char *const kinds[] = {"cross_entropy", NULL};
    DT_TRY(dt_cfg_enum(cfg, "kind", "cross_entropy", kinds, &kind));
    DT_TRY(dt_cfg_float(cfg, "label_smoothing", 0.0, 0.0, 1.0, &smoothing));
    *out = (dt_loss){.kind = DT_LOSS_CROSS_ENTROPY, .label_smoothing = (float)smoothing,
                     .out_dim = dt_shape_numel(model_out), .y_dim = y_dim,
                     .positions = y_dim, .classes = num_classes};
    dt_shape_str(model_out, buf, sizeof buf);
    if (model_out->ndim < 2 || model_out->dim[0] != num_classes ||
        out->out_dim != (int64_t)num_classes * y_dim)
        return dt_error_set(DT_ERR_SHAPE,
                            "loss cross_entropy per pixel: the model's last layer gives %s per "
                            "sample, expected (%d, ...) with %d pixels (one score per class "
                            "and pixel)", buf, num_classes, y_dim);
    return DT_OK;
}

dt_status dt_loss_setup_tokens(dt_cfg *cfg, const dt_shape *model_out, int vocab, int y_dim,
                               dt_loss *out)
{
    static const char *const kinds[] = {"token_cross_entropy", NULL};
    int kind;
    double smoothing;
    char buf[64], v[32] = "vocab";
    DT_TRY(dt_cfg_enum(cfg, "kind", "token_cross_entropy", kinds, &kind));
    DT_TRY(dt_cfg_float(cfg, "label_smoothing", 0.0, 0.0, 1.0, &smoothing));
    const int64_t classes = model_out->ndim == 2 ? model_out->dim[1] : 0;
    *out = (dt_loss){.kind = DT_LOSS_TOKEN_CROSS_ENTROPY, .label_smoothing = (float)smoothing,
                     .out_dim = dt_shape_numel(model_out), .y_dim = y_dim,
                     .positions = 1, .classes = classes, .steps = y_dim};
    if (model_out->ndim != 2 || model_out->dim[0] != y_dim || (vocab && classes != vocab))
        return dt_error_set(DT_ERR_SHAPE,
                            "loss token_cross_entropy: the model's last layer gives %s per "
                            "sample, expected (%d, %s) (a score per step and token class)",
                            dt_shape_str(model_out, buf, sizeof buf), y_dim,
                            vocab ? (snprintf(v, sizeof v, "%d", vocab), v) : v);
    return DT_OK;
}

int64_t dt_loss_count_targets(const dt_loss *l, const float *y, int64_t n)
{
    if (!dt_loss_is_tokens(l)) return n;
    int64_t count = 0;
    for (int64_t i = 0; i < n * l->y_dim; i++) count += y[i] >= 0.0f;
    return count;
}

dt_loss_sums dt_loss_compute_eval(const dt_loss *l, const dt_backend *be, const float *out,
                                  const float *y, int64_t n, float *dout, int64_t *confusion)
{
    if (l->kind == DT_LOSS_CROSS_ENTROPY && l->positions > 1)
        return be->cross_entropy_pixels(out, y, n, l->classes, l->positions, l->label_smoothing,
                                        0.0f, dout, confusion);
    return dt_loss_compute(l, be, out, y, n, 0.0f, dout);
}

dt_loss_sums dt_loss_compute(const dt_loss *l, const dt_backend *be, const float *out,
                             const float *y, int64_t n, float scale, float *dout)
{
    switch (l->kind) {
    case DT_LOSS_CROSS_ENTROPY:
        if (l->positions > 1)
            return be->cross_entropy_pixels(out, y, n, l->classes, l->positions,
                                            l->label_smoothing, scale, dout, NULL);
        return be->cross_entropy(out, y, n, l->out_dim, l->label_smoothing, scale, dout);
    case DT_LOSS_MSE: return be->mse(out, y, n, l->y_dim, scale, dout);
    case DT_LOSS_GAUSSIAN_NLL: return be->gaussian_nll(out, y, n, l->y_dim, scale, dout);
    case DT_LOSS_TOKEN_CROSS_ENTROPY:
        return be->token_cross_entropy(out, y, n * l->steps, l->classes,
                                       l->label_smoothing, scale, dout);
    }
    return (dt_loss_sums){.loss = 0};
}
