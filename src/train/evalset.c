/* Chunked evaluation-mode forward passes over lists of sample indices. */
#include "train/evalset.h"

#include <stdlib.h>

#include "data/sampler.h"

dt_status dt_forward_indices(dt_session *s, dt_dataset *ds, const int64_t *idx, int64_t n,
                             dt_forward_fn fn, void *ctx)
{
    dt_model *m = s->model;
    const int64_t chunk = s->ts.eval_batch, in = dt_shape_numel(&s->info.x_shape);
    float *x = dt_calloc((size_t)(chunk * in), sizeof(float));
    float *y = dt_calloc((size_t)(chunk * s->info.y_dim), sizeof(float));
    dt_status st = DT_OK;
    for (int64_t at = 0; st == DT_OK && at < n; at += chunk) {
        const int64_t rows = n - at < chunk ? n - at : chunk;
        st = dt_dataset_read(ds, idx + at, (int)rows, x, y);
        if (st != DT_OK) break;
        const dt_pass p = {.be = m->be, .n = rows, .index = idx + at, .step = s->optim->step,
                           .seed = s->seed, .training = 0};
        dt_model_forward(m, x, &p);
        fn(ctx, dt_model_output(m), y, idx + at, rows, at);
    }
    free(x);
    free(y);
    return st;
}

typedef struct loss_acc {
    dt_session *s;
    double sums[4]; /* loss, correct, count, targets (token losses) */
} loss_acc;

static void add_loss(void *ctx, const float *out, const float *y, const int64_t *idx,
                     int64_t rows, int64_t first)
{
    loss_acc *a = ctx;
    dt_model *m = a->s->model;
    const dt_loss_sums ls = dt_loss_compute(&a->s->loss, m->be, out, y, rows, 0.0f,
                                            dt_model_output_grad(m));
    a->sums[0] += ls.loss;
    a->sums[1] += (double)ls.correct;
    a->sums[2] += (double)rows;
    a->sums[3] += (double)ls.targets;
}

dt_status dt_evaluate_indices(dt_session *s, dt_dataset *ds, const int64_t *idx, int64_t n,
                              dt_eval_result *out)
{
    int64_t lo, hi;
    dt_sampler_slice(n, dt_comm_rank(s->comm), dt_comm_size(s->comm), &lo, &hi);
    loss_acc a = {.s = s};
    const dt_status st = dt_forward_indices(s, ds, idx + lo, hi - lo, add_loss, &a);
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(dt_comm_allreduce_f64(s->comm, a.sums, 4));
    out->count = (int64_t)a.sums[2];
    out->loss = out->count ? a.sums[0] / a.sums[2] : 0.0;
    out->accuracy = out->count && s->loss.kind == DT_LOSS_CROSS_ENTROPY ? a.sums[1] / a.sums[2]
                                                                       : 0.0;
    out->targets = (int64_t)a.sums[3];
    if (dt_loss_is_tokens(&s->loss)) { /* means over the target tokens */
        out->loss = a.sums[3] > 0 ? a.sums[0] / a.sums[3] : 0.0;
        out->accuracy = a.sums[3] > 0 ? a.sums[1] / a.sums[3] : 0.0;
    }
    return DT_OK;
}
