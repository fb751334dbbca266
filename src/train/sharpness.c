/* Projected gradient ascent in a box around the weights. */
#include "train/sharpness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/sampler.h"

void dt_sharpness_subset(int64_t n, int64_t count, int64_t *idx)
{
    for (int64_t i = 0; i < count; i++) idx[i] = i * n / count;
}

/* Mean loss over the subset at the current parameters, and (when grad) its
 * gradient in m->grads, summed over the ranks. Collective. */
static dt_status loss_and_grad(dt_session *s, const int64_t *idx, int64_t total, int grad,
                               double *loss)
{
    dt_model *m = s->model;
    int64_t lo, hi;
    dt_sampler_slice(total, dt_comm_rank(s->comm), dt_comm_size(s->comm), &lo, &hi);
    const int64_t chunk = s->ts.eval_batch, in = dt_shape_numel(&s->info.x_shape);
    float *x = dt_calloc((size_t)(chunk * in), sizeof(float));
    float *y = dt_calloc((size_t)(chunk * s->info.y_dim), sizeof(float));
    double sum = 0.0;
    dt_status st = DT_OK;
    if (grad) dt_model_zero_grads(m);
    for (int64_t at = lo; st == DT_OK && at < hi; at += chunk) {
        const int64_t rows = hi - at < chunk ? hi - at : chunk;
        st = dt_dataset_read(s->train, idx + at, (int)rows, x, y);
        if (st != DT_OK) break;
        const dt_pass p = {.be = m->be, .n = rows, .index = idx + at, .step = s->optim->step,
                           .seed = s->seed, .training = 0};
        dt_model_forward(m, x, &p);
        sum += dt_loss_compute(&s->loss, m->be, dt_model_output(m), y, rows,
                               1.0f / (float)total, dt_model_output_grad(m)).loss;
        if (grad) dt_model_backward(m, &p, NULL, NULL);
    }
    free(x);
    free(y);
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(dt_comm_allreduce_f64(s->comm, &sum, 1));
    if (grad) DT_TRY(dt_comm_allreduce_f32(s->comm, m->grads, m->n_params));
    *loss = sum / (double)total;
    return DT_OK;
}

static dt_status ascend(dt_session *s, const dt_sharpness_opts *o, const int64_t *idx,
                        int64_t total, const float *w0, dt_sharpness_result *out)
{
    dt_model *m = s->model;
    const int64_t n = m->n_params;
    float *d = dt_calloc((size_t)n, sizeof(float));
    double loss;
    DT_TRY(loss_and_grad(s, idx, total, 1, &loss));
    out->base_loss = out->max_loss = loss;
    for (int k = 0; k < o->steps; k++) {
        for (int64_t i = 0; i < n; i++) {
            const float bound = (float)(o->absolute ? o->eps : o->eps * (fabsf(w0[i]) + 1.0f));
            const float g = m->grads[i], step = 2.0f * bound / (float)o->steps;
            float v = d[i] + (g > 0 ? step : g < 0 ? -step : 0.0f);
            v = v > bound ? bound : v < -bound ? -bound : v;
            d[i] = v;
            m->params[i] = w0[i] + v;
        }
        const dt_status st = loss_and_grad(s, idx, total, k + 1 < o->steps, &loss);
        if (st != DT_OK) {
            free(d);
            return st;
        }
        if (loss > out->max_loss) out->max_loss = loss;
    }
    free(d);
    return DT_OK;
}

dt_status dt_sharpness_measure(dt_session *s, const dt_sharpness_opts *o,
                               dt_sharpness_result *out)
{
    dt_model *m = s->model;
    const int64_t count = dt_dataset_get_info(s->train)->count;
    const int64_t total = o->samples < count ? o->samples : count;
    if (total < 1 || o->steps < 1 || !(o->eps > 0))
        return dt_error_set(DT_ERR_ARG, "sharpness: need samples >= 1, steps >= 1, eps > 0 "
                            "(found %lld, %d, %g)", (long long)total, o->steps, o->eps);
    int64_t *idx = dt_calloc((size_t)total, sizeof *idx);
    dt_sharpness_subset(count, total, idx);
    float *w0 = dt_calloc((size_t)m->n_params, sizeof(float));
    memcpy(w0, m->params, (size_t)m->n_params * sizeof(float));
    const dt_status st = ascend(s, o, idx, total, w0, out);
    memcpy(m->params, w0, (size_t)m->n_params * sizeof(float));
    free(w0);
    free(idx);
    DT_TRY(st);
    out->sharpness = 100.0 * (out->max_loss - out->base_loss) / (1.0 + out->base_loss);
    return DT_OK;
}
