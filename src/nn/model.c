/* Building the layer DAG from config, flat buffers, forward and backward. */
#include "nn/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_layer(dt_layer **layers, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(layers[i]->name, name) == 0) return i;
    return -2;
}

/* Resolve `inputs` of layer i (default: the previous layer). */
static dt_status resolve_inputs(dt_model *m, dt_layer *l, dt_cfg *lc, const dt_shape *in)
{
    const char *names[DT_MAX_INPUTS];
    int n = DT_MAX_INPUTS;
    DT_TRY(dt_cfg_str_list(lc, "inputs", names, &n));
    if (n == 0) {
        l->n_in = 1;
        l->in[0] = l->index - 1;
    }
    for (int k = 0; k < n; k++) {
        const int j = strcmp(names[k], "input") == 0 ? -1
                                                     : find_layer(m->layers, l->index, names[k]);
        if (j == -2)
            return dt_cfg_error(dt_cfg_get(lc, "inputs"),
                                "the name of an earlier layer or 'input'", "'%s'", names[k]);
        l->in[k] = j;
    }
    if (n) l->n_in = n;
    for (int k = 0; k < l->n_in; k++)
        l->in_shape[k] = l->in[k] < 0 ? *in : m->layers[l->in[k]]->out_shape;
    return DT_OK;
}

/* `tie: NAME` of a kind that borrows a weight: the first parameter of the
 * earlier layer NAME (or the tensor that layer borrows itself). */
static dt_status resolve_tie(dt_model *m, dt_layer *l, dt_cfg *lc)
{
    const char *name;
    if (!l->ops->ties) return DT_OK;
    DT_TRY(dt_cfg_str(lc, "tie", NULL, &name));
    if (!name) return DT_OK;
    const int j = find_layer(m->layers, l->index, name);
    if (j < 0)
        return dt_cfg_error(dt_cfg_get(lc, "tie"), "the name of an earlier layer", "'%s'",
                            name);
    dt_layer *owner = m->layers[j];
    if (!owner->tied && owner->n_params == 0)
        return dt_cfg_error(dt_cfg_get(lc, "tie"), "a layer with a parameter to share",
                            "'%s' (%s), which has none", name, owner->ops->kind);
    l->tied = owner->tied ? owner->tied : &owner->params[0];
    return DT_OK;
}

static dt_status build_layer(dt_model *m, dt_cfg *lc, int i, const dt_shape *in)
{
    char where[256];
    const char *kind, *name;
    DT_TRY(dt_cfg_str_req(lc, "kind", &kind));
    const dt_layer_ops *ops = dt_layer_find_kind(kind);
    if (!ops)
        return dt_cfg_error(dt_cfg_get(lc, "kind"), "a layer kind", "'%s' (known kinds: %s)",
                            kind, dt_layer_kind_list());

    dt_layer *l = dt_calloc(1, sizeof *l);
    m->layers[i] = l;
    l->ops = ops;
    l->index = i;
    DT_TRY(dt_cfg_str(lc, "name", NULL, &name));
    if (name) snprintf(l->name, sizeof l->name, "%s", name);
    else snprintf(l->name, sizeof l->name, "%s%d", kind, i + 1);
    if (strcmp(l->name, "input") == 0 || find_layer(m->layers, i, l->name) >= 0)
        return dt_cfg_error(lc, "a unique layer name", "'%s' used twice", l->name);

    DT_TRY(resolve_inputs(m, l, lc, in));
    /* A single-input kind given several would silently drop all but one. */
    if (l->n_in > 1 && !ops->multi_input)
        return dt_cfg_error(dt_cfg_get(lc, "inputs"), "one input for a layer of this kind",
                            "%d inputs to '%s' (%s); only add and concat merge inputs",
                            l->n_in, l->name, kind);
    dt_status s = resolve_tie(m, l, lc);
    if (s == DT_OK) s = ops->setup(l, lc);
    if (s != DT_OK)
        return dt_error_prefix(s, "layer '%s' (%s, %s): ", l->name, kind,
                               dt_cfg_where(lc, where, sizeof where));
    return DT_OK;
}

/* The tensor whose gradient layer l shares with others, or NULL. */
static const dt_param *shared_tensor(const dt_layer *l)
{
    return l->tied ? l->tied : l->n_params ? &l->params[0] : NULL;
}

/* Of the layers writing one shared gradient, the last in the order runs
 * backward first and may overwrite it; every other one must add to it. */
static void mark_shared_grads(dt_model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        const dt_param *t = shared_tensor(m->layers[i]);
        for (int j = i + 1; t && j < m->n_layers; j++)
            if (m->layers[j]->tied == t) m->layers[i]->grad_accumulate = 1;
    }
}

/* Lay the parameters out one after another and make the views. */
static void assign_params(dt_model *m)
{
    int64_t off = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_params; k++) {
            dt_param *p = &m->layers[i]->params[k];
            p->offset = off;
            off += dt_shape_numel(&p->shape);
        }
    m->n_params = off;
    m->params = m->be->alloc((size_t)(off ? off : 1) * sizeof(float));
    m->grads = m->be->alloc((size_t)(off ? off : 1) * sizeof(float));
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_params; k++) {
            dt_param *p = &m->layers[i]->params[k];
            p->data = m->params + p->offset;
            p->grad = m->grads + p->offset;
        }
}

/* The same for the non-trainable buffers, in their own block. */
static void assign_buffers(dt_model *m)
{
    int64_t off = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_bufs; k++) {
            dt_param *p = &m->layers[i]->bufs[k];
            p->offset = off;
            off += dt_shape_numel(&p->shape);
        }
    m->n_buffers = off;
    m->buffers = m->be->alloc((size_t)(off ? off : 1) * sizeof(float));
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_bufs; k++) {
            dt_param *p = &m->layers[i]->bufs[k];
            p->data = m->buffers + p->offset;
            p->grad = NULL;
        }
}

dt_status dt_model_build(dt_cfg *model_cfg, const dt_shape *in, const dt_backend *be,
                         dt_model **out)
{
    dt_cfg *list;
    *out = NULL;
    DT_TRY(dt_cfg_require(model_cfg, "layers", DT_CFG_SEQ, &list));
    if (list->n_items == 0) return dt_cfg_error(list, "at least one layer", "an empty list");

    dt_model *m = dt_calloc(1, sizeof *m);
    m->be = be;
    m->in_shape = *in;
    m->layers = dt_calloc((size_t)list->n_items, sizeof *m->layers);
    for (int i = 0; i < list->n_items; i++) {
        dt_cfg *lc = list->items[i];
        dt_status s = lc->kind == DT_CFG_MAP
                          ? build_layer(m, lc, i, in)
                          : dt_cfg_error(lc, "a map with a 'kind'", "a %s",
                                         lc->kind == DT_CFG_SEQ ? "list" : "scalar");
        m->n_layers = i + 1;
        if (s != DT_OK) {
            dt_model_destroy(m);
            return s;
        }
    }
    assign_params(m);
    assign_buffers(m);
    mark_shared_grads(m);
    *out = m;
    return DT_OK;
}

void dt_model_destroy(dt_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) {
        dt_layer *l = m->layers[i];
        if (l && l->ops->destroy) l->ops->destroy(l);
        free(l);
    }
    free(m->layers);
    if (m->params) m->be->free(m->params);
    if (m->grads) m->be->free(m->grads);
    if (m->act_mem) m->be->free(m->act_mem);
    if (m->buffers) m->be->free(m->buffers);
    if (m->work) m->be->free(m->work);
    free(m);
}

/* The RNG key of parameter k of layer i. Ids of the first four parameters
 * of a layer are those models have always had (4 i + k); further ones, which
 * only recurrent layers declare, come from a range of their own. */
static uint32_t param_id(int i, int k)
{
    if (k < 4) return (uint32_t)(i * 4 + k);
    return 0x40000000u + (uint32_t)(i * DT_MAX_PARAMS + k);
}

void dt_model_init_params(dt_model *m, uint64_t seed)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_params; k++)
            dt_param_init(&m->layers[i]->params[k], seed, param_id(i, k), m->be);
    /* Buffers start as zeros or ones and draw no random numbers. */
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_bufs; k++)
            dt_param_init(&m->layers[i]->bufs[k], seed, 0, m->be);
}

/* One workspace block, the largest any layer asks for. */
static void reserve_workspace(dt_model *m)
{
    int64_t need = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const dt_layer *l = m->layers[i];
        const int64_t w = l->ops->workspace ? l->ops->workspace(l, m->be) : 0;
        need = w > need ? w : need;
    }
    if (need > m->work_floats) {
        if (m->work) m->be->free(m->work);
        m->work = m->be->alloc((size_t)need * sizeof(float));
        m->work_floats = need;
    }
    for (int i = 0; i < m->n_layers; i++) {
        m->layers[i]->work = m->work;
        m->layers[i]->work_floats = m->work_floats;
    }
}

static int64_t layer_scratch(const dt_layer *l)
{
    return l->ops->scratch_per_sample ? l->ops->scratch_per_sample(l) : 0;
}

void dt_model_reserve(dt_model *m, int64_t rows)
{
    if (rows <= m->max_batch) return;
    reserve_workspace(m);
    int64_t per_row = 0;
    for (int i = 0; i < m->n_layers; i++)
        per_row += 2 * dt_shape_numel(&m->layers[i]->out_shape) + layer_scratch(m->layers[i]);
    if (m->act_mem) m->be->free(m->act_mem);
    m->act_mem = m->be->alloc((size_t)(per_row * rows) * sizeof(float));
    m->max_batch = rows;

    float *p = m->act_mem;
    for (int i = 0; i < m->n_layers; i++) {
        dt_layer *l = m->layers[i];
        const int64_t n = dt_shape_numel(&l->out_shape) * rows;
        l->out = p;
        l->dout = p + n;
        l->scratch = p + 2 * n;
        p += 2 * n + layer_scratch(l) * rows;
    }
}

int64_t dt_model_activation_bytes(const dt_model *m)
{
    int64_t per_row = 0;
    for (int i = 0; i < m->n_layers; i++)
        per_row += 2 * dt_shape_numel(&m->layers[i]->out_shape) + layer_scratch(m->layers[i]);
    return (per_row * m->max_batch + m->work_floats) * (int64_t)sizeof(float);
}

const dt_shape *dt_model_out_shape(const dt_model *m)
{
    return &m->layers[m->n_layers - 1]->out_shape;
}

float *dt_model_output(const dt_model *m) { return m->layers[m->n_layers - 1]->out; }

float *dt_model_output_grad(const dt_model *m) { return m->layers[m->n_layers - 1]->dout; }

void dt_model_forward(dt_model *m, const float *x, const dt_pass *p)
{
    DT_ASSERT(p->n <= m->max_batch);
    for (int i = 0; i < m->n_layers; i++) {
        dt_layer *l = m->layers[i];
        for (int k = 0; k < l->n_in; k++) l->x[k] = l->in[k] < 0 ? x : m->layers[l->in[k]]->out;
        l->ops->forward(l, p);
    }
}

/* A layer whose shared gradient a later layer has already written adds to
 * it: on an overwriting pass, the gradients it alone writes are zeroed
 * first and it runs as an accumulating one. */
static void layer_backward(const dt_model *m, dt_layer *l, const dt_pass *p)
{
    if (!p->overwrite_grads || !l->grad_accumulate) {
        l->ops->backward(l, p);
        return;
    }
    for (int k = l->tied ? 0 : 1; k < l->n_params; k++)
        m->be->fill(l->params[k].grad, 0.0f, dt_shape_numel(&l->params[k].shape));
    dt_pass add = *p;
    add.overwrite_grads = 0;
    l->ops->backward(l, &add);
}

void dt_model_backward(dt_model *m, const dt_pass *p, dt_grad_ready_fn ready, void *ctx)
{
    /* Every output gradient but the last is a sum over consumers: zero it. */
    for (int i = 0; i < m->n_layers - 1; i++) {
        dt_layer *l = m->layers[i];
        m->be->fill(l->dout, 0.0f, p->n * dt_shape_numel(&l->out_shape));
    }
    for (int i = m->n_layers - 1; i >= 0; i--) {
        dt_layer *l = m->layers[i];
        for (int k = 0; k < l->n_in; k++)
            l->dx[k] = l->in[k] < 0 ? NULL : m->layers[l->in[k]]->dout;
        layer_backward(m, l, p);
        /* A borrowed tensor belongs to an earlier layer: its gradient is
         * final only after that layer's backward, which reports it. */
        if (ready && l->n_params) ready(ctx, l->params[0].offset);
    }
}

void dt_model_zero_grads(dt_model *m) { m->be->fill(m->grads, 0.0f, m->n_params); }

int64_t dt_model_macs(const dt_model *m)
{
    int64_t total = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->ops->macs) total += m->layers[i]->ops->macs(m->layers[i]);
    return total;
}

dt_layer *dt_model_find(const dt_model *m, const char *name)
{
    const int i = find_layer(m->layers, m->n_layers, name);
    return i >= 0 ? m->layers[i] : NULL;
}
