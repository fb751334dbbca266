/* Layers: the interface every layer kind implements, and the layer object.
 *
 * A layer has a kind (its ops table), a name, named inputs (indices of the
 * producing layers; -1 is the model input), per-sample input and output
 * shapes, parameter declarations (views into the model's flat parameter and
 * gradient buffers) and batch-sized activation buffers owned by the model.
 * Forward reads x[] and writes out; backward reads dout and ADDS into dx[]
 * and into the parameter gradients. Layers call backend ops only, so the
 * same code runs on every device. */
#ifndef DT_NN_LAYER_H
#define DT_NN_LAYER_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/status.h"
#include "core/tensor.h"

#define DT_MAX_INPUTS 8
/* Recurrent layers hold four tensors per layer and direction. */
#define DT_MAX_PARAMS 32
#define DT_MAX_BUFFERS 2
#define DT_NAME_CAP 64

typedef enum dt_init {
    DT_INIT_ZEROS = 0,
    DT_INIT_ONES,
    DT_INIT_UNIFORM_FAN_IN, /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default */
    DT_INIT_XAVIER_UNIFORM, /* U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
    DT_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
    DT_INIT_NORMAL          /* N(0, init_std^2): BERT's and GPT-2's 0.02 */
} dt_init;

typedef struct dt_param {
    char name[32]; /* "weight", "bias", "weight_ih_l0_reverse" */
    dt_shape shape;
    int64_t offset; /* position in the model's flat buffers */
    float *data;    /* views, set by the model */
    float *grad;
    dt_init init;
    int64_t fan_in, fan_out;
    float init_std; /* DT_INIT_NORMAL */
    int no_decay;   /* biases and normalization parameters */
} dt_param;

/* What a forward or backward pass knows beyond the tensors. */
typedef struct dt_pass {
    const dt_backend *be;
    int64_t n;            /* samples in this (micro-)batch on this rank */
    const int64_t *index; /* their global sample indices (RNG keys) */
    int64_t step;         /* optimizer step, for RNG keys */
    uint64_t seed;
    int training;
    /* Backward writes parameter gradients instead of adding to them (the
     * first micro-step of an optimizer step), which saves zeroing them. */
    int overwrite_grads;
    /* Valid steps of each of the n sequences (recurrent layers treat steps
     * at or past it as padding); NULL: every sequence is full length. */
    const float *lengths;
    /* The micro-batch's per-token labels (n rows of the label width, -1 where
     * a token has no target) when the loss is per token; NULL otherwise.
     * Device memory. A layer may skip work the loss will not read. */
    const float *targets;
} dt_pass;

typedef struct dt_layer dt_layer;

typedef struct dt_layer_ops {
    const char *kind;
    int multi_input; /* reads every x[i] (add, concat); others read x[0] only */
    /* Accepts the key `tie: LAYER`: the model resolves it before setup and
     * points `tied` at that layer's first parameter (see dt_layer). */
    int ties;
    /* Read the layer's own config keys, check the input shapes, set
     * out_shape and declare parameters with dt_layer_add_param. */
    dt_status (*setup)(dt_layer *l, dt_cfg *cfg);
    void (*forward)(dt_layer *l, const dt_pass *p);
    void (*backward)(dt_layer *l, const dt_pass *p);
    /* Multiply-adds per sample in forward (0 if negligible). */
    int64_t (*macs)(const dt_layer *l);
    /* Floats of per-batch-row scratch the layer wants (e.g. a dropout mask). */
    int64_t (*scratch_per_sample)(const dt_layer *l);
    void (*destroy)(dt_layer *l); /* optional */
    /* Floats of workspace the layer needs during a pass, independent of the
     * batch (e.g. im2col columns); one block, the largest any layer asks
     * for, is shared by every layer of the model. Optional. */
    int64_t (*workspace)(const dt_layer *l, const dt_backend *be);
} dt_layer_ops;

struct dt_layer {
    const dt_layer_ops *ops;
    char name[DT_NAME_CAP];
    int index; /* position in the model's topological order */

    int n_in;
    int in[DT_MAX_INPUTS]; /* producer indices, -1 = model input */
    dt_shape in_shape[DT_MAX_INPUTS];
    dt_shape out_shape;

    dt_param params[DT_MAX_PARAMS];
    int n_params;

    /* Per pass, set by the model: inputs, their gradients (NULL when no
     * gradient is needed, e.g. for the model input), output, its gradient,
     * and scratch (scratch_per_sample floats per row). */
    const float *x[DT_MAX_INPUTS];
    float *dx[DT_MAX_INPUTS];
    float *out, *dout, *scratch;

    /* Small per-kind settings, read in setup. */
    dt_act act;
    float alpha; /* leaky slope, dropout p, ... */
    int64_t units;
    void *priv;

    /* Non-trainable state (batch norm's running statistics): views into the
     * model's buffer block. Saved in checkpoints, never given gradients, never
     * all-reduced or seen by the optimizer. */
    dt_param bufs[DT_MAX_BUFFERS];
    int n_bufs;
    float *work; /* the model's shared workspace, set with the activations */
    int64_t work_floats; /* its size */

    /* A tensor borrowed from an earlier layer (a tied weight, e.g. the MLM
     * head's decoder and the token embedding): the first parameter of the
     * layer named by `tie`. It is not among params, so it is counted,
     * initialized, saved, reduced and updated once, as its owner's; both
     * layers add into its one gradient. */
    dt_param *tied;
    /* Set by the model: a layer later in the order (whose backward runs
     * earlier) also writes the gradient of this layer's shared tensor
     * (params[0] of an owner, or `tied`), so this layer must add to it even
     * when the pass says overwrite_grads. */
    int grad_accumulate;
};

/* Declare a parameter; returns its slot. */
dt_param *dt_layer_add_param(dt_layer *l, const char *name, int ndim, const int64_t *shape,
                             dt_init init, int64_t fan_in, int64_t fan_out);

/* Declare a non-trainable buffer (init: DT_INIT_ZEROS or DT_INIT_ONES). */
dt_param *dt_layer_add_buffer(dt_layer *l, const char *name, int ndim, const int64_t *shape,
                              dt_init init);

/* The input of an image layer as (C, H, W); DT_ERR_SHAPE naming the shape
 * found when it has not three dimensions. */
dt_status dt_layer_image_shape(const dt_layer *l, int64_t *c, int64_t *h, int64_t *w);

/* Sequence layers' padding keys: pad_from: NAME (the last of `inputs`,
 * holding `steps` token ids per sample) and pad_id (0). *pad_input gets
 * that input's index, or -1 without pad_from. Errors name the key and the
 * shape found. */
dt_status dt_layer_pad_input(const dt_layer *l, dt_cfg *cfg, int64_t steps, int *pad_input,
                             float *pad_id);

/* The ops table for a kind name, or NULL. */
const dt_layer_ops *dt_layer_find_kind(const char *kind);
/* Comma-separated list of known kinds, for error messages. */
const char *dt_layer_kind_list(void);

/* The keys `init` (names[0] = PyTorch's default for the kind, "normal" =
 * N(0, init_std)) and `init_std` (0.02); `inits` lists the kinds' names,
 * NULL-terminated, with `codes` the matching dt_init values. */
dt_status dt_layer_read_init(dt_cfg *cfg, const char *const *inits, const dt_init *codes,
                             dt_init *init, float *std);

/* Fill a parameter from its initializer, keyed by (seed, param_id). */
void dt_param_init(dt_param *p, uint64_t seed, uint32_t param_id, const dt_backend *be);

#endif
