/* The model: a DAG of named layers in topological order over flat buffers.
 *
 * The config lists layers in order; each reads the previous layer unless it
 * names its `inputs` (a list of earlier layer names, or "input" for the
 * model input). The last layer is the output. All parameters live in one
 * flat buffer and all gradients in another, layer after layer, so that one
 * all-reduce, one optimizer step and one checkpoint write cover them all. */
#ifndef DT_NN_MODEL_H
#define DT_NN_MODEL_H

#include "nn/layer.h"

typedef struct dt_model {
    dt_layer **layers;
    int n_layers;
    dt_shape in_shape;
    const dt_backend *be;

    float *params, *grads; /* n_params floats each, on the backend's device */
    int64_t n_params;

    int64_t max_batch; /* rows the activation buffers hold */
    float *act_mem;    /* one block for every layer's out, dout, scratch */

    /* Non-trainable buffers (running statistics), layer after layer, and the
     * workspace all layers share. */
    float *buffers;
    int64_t n_buffers;
    float *work;
    int64_t work_floats;
} dt_model;

/* Build from the `model` section (a map with a `layers` list) for inputs of
 * per-sample shape `in`. Errors name the config file, line and layer. The
 * model is owned by the caller: dt_model_destroy(). */
dt_status dt_model_build(dt_cfg *model_cfg, const dt_shape *in, const dt_backend *be,
                         dt_model **out);
void dt_model_destroy(dt_model *m);

/* Initialize every parameter from (seed, parameter id). */
void dt_model_init_params(dt_model *m, uint64_t seed);

/* Make the activation buffers hold at least `rows` samples. */
void dt_model_reserve(dt_model *m, int64_t rows);

const dt_shape *dt_model_out_shape(const dt_model *m);
/* The output of the last forward, (n, numel(out_shape)). */
float *dt_model_output(const dt_model *m);
/* Where the caller writes d(loss)/d(output) before dt_model_backward. */
float *dt_model_output_grad(const dt_model *m);

/* Forward over x (p->n rows of numel(in_shape) floats). */
void dt_model_forward(dt_model *m, const float *x, const dt_pass *p);

/* Called after each layer's backward with the offset of that layer's first
 * parameter: the gradients from there to the end of the buffer are final. */
typedef void (*dt_grad_ready_fn)(void *ctx, int64_t offset);

/* Backward from the output gradient; gradients are added into m->grads, or
 * written when p->overwrite_grads is set. `ready` may be NULL. */
void dt_model_backward(dt_model *m, const dt_pass *p, dt_grad_ready_fn ready, void *ctx);

void dt_model_zero_grads(dt_model *m);

/* Bytes of the activation buffers (outputs, their gradients, per-sample
 * scratch for the rows reserved) and of the shared workspace. */
int64_t dt_model_activation_bytes(const dt_model *m);

/* Multiply-adds per sample in forward, over all layers. */
int64_t dt_model_macs(const dt_model *m);

/* A layer by name, or NULL. */
dt_layer *dt_model_find(const dt_model *m, const char *name);

#endif
