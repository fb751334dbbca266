/* The registry of layer kinds, parameter declaration and initialization. */
#include "nn/layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

extern const dt_layer_ops dt_linear_ops, dt_relu_ops, dt_leaky_relu_ops, dt_sigmoid_ops,
    dt_tanh_ops, dt_gelu_ops, dt_softmax_ops, dt_dropout_ops, dt_flatten_ops, dt_reshape_ops,
    dt_add_ops, dt_concat_ops;
/* Convolutional networks */
extern const dt_layer_ops dt_conv2d_ops, dt_conv_transpose2d_ops, dt_max_pool2d_ops,
    dt_avg_pool2d_ops, dt_global_avg_pool_ops, dt_batch_norm_ops, dt_layer_norm_ops,
    dt_group_norm_ops, dt_instance_norm_ops, dt_lrn_ops, dt_upsample_ops;
/* Sequences: nn/rnn.c, nn/embedding.c. */
extern const dt_layer_ops dt_rnn_ops, dt_lstm_ops, dt_gru_ops, dt_embedding_ops;
/* Transformers: nn/attention.c, nn/position.c, nn/shape.c. */
extern const dt_layer_ops dt_attention_ops, dt_position_embedding_ops,
    dt_segment_embedding_ops, dt_select_token_ops;

static const dt_layer_ops *const g_kinds[] = {
    &dt_linear_ops,  &dt_relu_ops,    &dt_leaky_relu_ops, &dt_sigmoid_ops,
    &dt_tanh_ops,    &dt_gelu_ops,    &dt_softmax_ops,    &dt_dropout_ops,
    &dt_flatten_ops, &dt_reshape_ops, &dt_add_ops,        &dt_concat_ops,
    /* Convolutional networks */
    &dt_conv2d_ops, &dt_conv_transpose2d_ops, &dt_max_pool2d_ops, &dt_avg_pool2d_ops,
    &dt_global_avg_pool_ops, &dt_batch_norm_ops, &dt_layer_norm_ops, &dt_group_norm_ops,
    &dt_instance_norm_ops, &dt_lrn_ops, &dt_upsample_ops,
    &dt_rnn_ops,     &dt_lstm_ops,    &dt_gru_ops,        &dt_embedding_ops,
    &dt_attention_ops, &dt_position_embedding_ops, &dt_segment_embedding_ops,
    &dt_select_token_ops,
};
#define N_KINDS (int)(sizeof g_kinds / sizeof g_kinds[0])

const dt_layer_ops *dt_layer_find_kind(const char *kind)
{
    for (int i = 0; i < N_KINDS; i++)
        if (strcmp(g_kinds[i]->kind, kind) == 0) return g_kinds[i];
    return NULL;
}

const char *dt_layer_kind_list(void)
{
    static char buf[1024];
    if (buf[0]) return buf;
    int len = 0;
    for (int i = 0; i < N_KINDS; i++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s", i ? ", " : "",
                        g_kinds[i]->kind);
    return buf;
}

dt_param *dt_layer_add_param(dt_layer *l, const char *name, int ndim, const int64_t *shape,
                             dt_init init, int64_t fan_in, int64_t fan_out)
{
    DT_ASSERT(l->n_params < DT_MAX_PARAMS);
    dt_param *p = &l->params[l->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->shape = dt_shape_make(ndim, shape);
    p->init = init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    return p;
}

dt_param *dt_layer_add_buffer(dt_layer *l, const char *name, int ndim, const int64_t *shape,
                              dt_init init)
{
    DT_ASSERT(l->n_bufs < DT_MAX_BUFFERS);
    dt_param *p = &l->bufs[l->n_bufs++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->shape = dt_shape_make(ndim, shape);
    p->init = init;
    p->no_decay = 1;
    return p;
}

dt_status dt_layer_read_init(dt_cfg *cfg, const char *const *inits, const dt_init *codes,
                             dt_init *init, float *std)
{
    int k;
    double sd;
    DT_TRY(dt_cfg_enum(cfg, "init", inits[0], inits, &k));
    DT_TRY(dt_cfg_float(cfg, "init_std", 0.02, 0.0, 100.0, &sd));
    *init = codes[k];
    *std = (float)sd;
    return DT_OK;
}

void dt_param_init(dt_param *p, uint64_t seed, uint32_t param_id, const dt_backend *be)
{
    const int64_t n = dt_shape_numel(&p->shape);
    const dt_rng rng = dt_rng_make(seed, DT_RNG_INIT, param_id, 0);
    float *host = be->device == DT_CPU ? p->data : dt_calloc((size_t)n, sizeof(float));

    switch (p->init) {
    case DT_INIT_ZEROS:
        for (int64_t i = 0; i < n; i++) host[i] = 0.0f;
        break;
    case DT_INIT_ONES:
        for (int64_t i = 0; i < n; i++) host[i] = 1.0f;
        break;
    case DT_INIT_UNIFORM_FAN_IN: {
        const float a = 1.0f / sqrtf((float)p->fan_in);
        dt_rng_fill_uniform(&rng, 0, host, n, -a, a);
        break;
    }
    case DT_INIT_XAVIER_UNIFORM: {
        const float a = sqrtf(6.0f / (float)(p->fan_in + p->fan_out));
        dt_rng_fill_uniform(&rng, 0, host, n, -a, a);
        break;
    }
    case DT_INIT_HE_NORMAL:
        dt_rng_fill_normal(&rng, 0, host, n, 0.0f, sqrtf(2.0f / (float)p->fan_in));
        break;
    case DT_INIT_NORMAL: dt_rng_fill_normal(&rng, 0, host, n, 0.0f, p->init_std); break;
    }
    if (host != p->data) {
        be->to_device(p->data, host, (size_t)n * sizeof(float));
        free(host);
    }
}

dt_status dt_layer_pad_input(const dt_layer *l, dt_cfg *cfg, int64_t steps, int *pad_input,
                             float *pad_id)
{
    const char *from, *names[DT_MAX_INPUTS];
    int n = DT_MAX_INPUTS;
    double pad;
    *pad_input = -1;
    DT_TRY(dt_cfg_str(cfg, "pad_from", NULL, &from));
    DT_TRY(dt_cfg_float(cfg, "pad_id", 0.0, -1e9, 1e9, &pad));
    *pad_id = (float)pad;
    if (!from) return DT_OK;
    DT_TRY(dt_cfg_str_list(cfg, "inputs", names, &n));
    if (n < 2 || strcmp(names[n - 1], from) != 0)
        return dt_cfg_error(dt_cfg_get(cfg, "pad_from"), "the last name of 'inputs'",
                            "'%s' with inputs ending in '%s'", from, n ? names[n - 1] : "");
    *pad_input = n - 1;
    const dt_shape *s = &l->in_shape[n - 1];
    if (dt_shape_numel(s) != steps) {
        char buf[64];
        return dt_error_set(DT_ERR_SHAPE, "pad_from '%s' has shape %s; expected (%lld) token "
                            "ids, one per step", from, dt_shape_str(s, buf, sizeof buf),
                            (long long)steps);
    }
    return DT_OK;
}

dt_status dt_layer_image_shape(const dt_layer *l, int64_t *c, int64_t *h, int64_t *w)
{
    const dt_shape *s = &l->in_shape[0];
    if (s->ndim != 3) {
        char buf[64];
        return dt_error_set(DT_ERR_SHAPE, "expects images (channels, height, width) as input, "
                            "found %s", dt_shape_str(s, buf, sizeof buf));
    }
    *c = s->dim[0];
    *h = s->dim[1];
    *w = s->dim[2];
    return DT_OK;
}
