/* The training loop over data-parallel ranks. */
#include "train/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/loader.h"
#include "dist/nccl.h"
#include "train/checkpoint.h"
#include "train/early_stop.h"
#include "train/noise_scale.h"
#include "train/grad_norms.h"
#include "train/progress.h"
#include "train/rundir.h"

struct dt_trainer {
    dt_session *s;
    dt_reducer *reducer;
    int64_t in_numel, y_dim;
    /* Device copies of the batch (GPU backends only), two sets used in
     * turn: one step's batch is uploaded while the previous step computes
     * on the other set. */
    float *dev_x[2], *dev_y[2];
    int64_t dev_rows;
    int dev_set;
    double last_finite_loss;
    int64_t last_finite_step;
    dt_noise_scale noise;
    char grad_norms[2048]; /* JSON fragment of the last logged step, or "" */
    /* optim.shard on several ranks: the shard bounds of every rank
     * (size + 1) and this rank's summed gradient shard, the reducer's
     * output; the optimizer holds state for that shard only. */
    int sharded;
    int64_t *bounds;
    float *shard_grads;
};

/* The reducer's half of sharding (the session set up the optimizer's):
 * gradients are reduce-scattered into a buffer of this rank's shard. */
static void setup_shard(dt_trainer *t)
{
    const dt_session *s = t->s;
    const int world = dt_comm_size(s->comm), rank = dt_comm_rank(s->comm);
    t->sharded = s->optim->shard && world > 1;
    if (!t->sharded) return;
    t->bounds = dt_calloc((size_t)world + 1, sizeof *t->bounds);
    dt_optim_shard_bounds(s->model->n_params, world, t->bounds);
    DT_ASSERT(t->bounds[rank] == s->optim->lo);
    const int64_t len = t->bounds[rank + 1] - t->bounds[rank];
    t->shard_grads = s->model->be->alloc((size_t)(len ? len : 1) * sizeof(float));
    dt_reducer_set_shard(t->reducer, t->shard_grads, t->bounds);
}

dt_status dt_trainer_create(dt_session *s, dt_trainer **out)
{
    dt_trainer *t = dt_calloc(1, sizeof *t);
    t->s = s;
    t->in_numel = dt_shape_numel(&s->info.x_shape);
    t->y_dim = s->info.y_dim;
    t->last_finite_step = -1;
    const int64_t rows = s->ts.micro_batch > s->ts.eval_batch ? s->ts.micro_batch
                                                              : s->ts.eval_batch;
    dt_model_reserve(s->model, rows);
    dt_model_init_params(s->model, s->seed);
    *out = t;
    DT_TRY(s->model->be->sync());
    dt_noise_scale_init(&t->noise, 0.95);
    DT_TRY(dt_reducer_create(s->comm, s->model->grads, s->model->n_params, s->ts.bucket_bytes,
                             &t->reducer));
    if (dt_comm_size(s->comm) > 1) dt_reducer_track_local(t->reducer, s->model->be->sumsq);
    setup_shard(t);
    return DT_OK;
}

const dt_noise_scale *dt_trainer_noise_scale(const dt_trainer *t) { return &t->noise; }

/* The noise-scale pair of a step: the small batch is this rank's slice
 * (mean over ranks of its squared norm, sums[2] / sums[3]) or, on one rank,
 * the first micro-batch (g2_micro); gradients carry the 1/global_n scale. */
static void add_noise_pair(dt_trainer *t, const double *sums, double g2_micro, int64_t n0,
                           int64_t global_n)
{
    const dt_model *m = t->s->model;
    const double big = (double)global_n;
    const double g2_big = t->sharded ? sums[4] : m->be->sumsq(m->grads, m->n_params);
    if (dt_comm_size(t->s->comm) > 1 && sums[3] > 0)
        dt_noise_scale_add(&t->noise, sums[2] / sums[3], big / sums[3], g2_big, big);
    else if (dt_comm_size(t->s->comm) == 1 && n0 > 0 && n0 < global_n)
        dt_noise_scale_add(&t->noise, g2_micro * (big / (double)n0) * (big / (double)n0),
                           (double)n0, g2_big, big);
}

static void free_batch_buffers(dt_trainer *t)
{
    const dt_backend *be = t->s->model->be;
    for (int k = 0; k < 2; k++) {
        if (t->dev_x[k]) be->free(t->dev_x[k]);
        if (t->dev_y[k]) be->free(t->dev_y[k]);
        t->dev_x[k] = t->dev_y[k] = NULL;
    }
}

void dt_trainer_destroy(dt_trainer *t)
{
    if (!t) return;
    dt_reducer_destroy(t->reducer);
    if (t->shard_grads) t->s->model->be->free(t->shard_grads);
    free(t->bounds);
    free_batch_buffers(t);
    free(t);
}

/* Where the model reads a batch of n rows from host memory: the batch
 * itself on the CPU, a device copy of it on a GPU, uploaded without
 * waiting into the set of buffers the previous step did not use (the
 * backend's upload orders it after the step before that). */
static void stage_batch(dt_trainer *t, const float **x, const float **y, int64_t n)
{
    const dt_backend *be = t->s->model->be;
    if (be->device == DT_CPU || n == 0) return;
    if (n > t->dev_rows) {
        (void)be->sync(); /* queued work may still read the old buffers; errors recur later */
        free_batch_buffers(t);
        for (int k = 0; k < 2; k++) {
            t->dev_x[k] = be->alloc((size_t)(n * t->in_numel) * sizeof(float));
            t->dev_y[k] = be->alloc((size_t)(n * t->y_dim) * sizeof(float));
        }
        t->dev_rows = n;
    }
    const int k = t->dev_set;
    t->dev_set = 1 - k;
    void *const dst[2] = {t->dev_x[k], t->dev_y[k]};
    const void *const src[2] = {*x, *y};
    const size_t bytes[2] = {(size_t)(n * t->in_numel) * sizeof(float),
                             (size_t)(n * t->y_dim) * sizeof(float)};
    be->upload(dst, src, bytes, 2);
    *x = t->dev_x[k];
    *y = t->dev_y[k];
}

dt_reducer_stats dt_trainer_reducer_stats(const dt_trainer *t)
{
    return dt_reducer_get_stats(t->reducer);
}

/* A token loss's denominator: the target tokens of the whole global batch,
 * summed over the ranks (one small all-reduce), so that every rank scales
 * its gradients alike and the result does not depend on how the batch was
 * split. Other losses keep *denom (the global batch). Collective for
 * token losses. */
static dt_status count_targets(dt_trainer *t, const float *y, int64_t n, double *denom)
{
    dt_session *s = t->s;
    if (!dt_loss_is_tokens(&s->loss)) return DT_OK;
    double c = (double)dt_loss_count_targets(&s->loss, y, n);
    DT_TRY(dt_comm_allreduce_f64(s->comm, &c, 1));
    *denom = c;
    return DT_OK;
}

/* Sharded: the per-layer gradient norms from every rank's shard. */
static dt_status shard_grad_norms(dt_trainer *t)
{
    const dt_session *s = t->s;
    const dt_model *m = s->model;
    double *sq = dt_calloc((size_t)m->n_layers + 1, sizeof *sq);
    dt_grad_norms_layer_sumsq(m, t->shard_grads, s->optim->lo, s->optim->len, sq);
    const dt_status st = dt_comm_allreduce_f64(s->comm, sq, m->n_layers);
    if (st == DT_OK) dt_grad_norms_json_from(m, sq, t->grad_norms, sizeof t->grad_norms);
    free(sq);
    return st;
}

/* Sharded: after each rank updated its shard, every rank gets all
 * parameters back. */
static dt_status gather_params(dt_trainer *t)
{
    dt_model *m = t->s->model;
    dt_nccl *nccl = dt_comm_nccl(t->s->comm);
    if (!nccl) return dt_comm_allgather_parts_f32(t->s->comm, m->params, t->bounds);
    DT_TRY(dt_nccl_allgather_parts_start(nccl, m->params, t->bounds));
    return dt_nccl_wait(nccl, "parameter all-gather");
}

static void on_grads_ready(void *ctx, int64_t offset)
{
    dt_trainer *t = ctx;
    /* An MPI failure here surfaces again, with its message, in finish. */
    (void)dt_reducer_ready(t->reducer, offset);
}

dt_status dt_trainer_step(dt_trainer *t, const float *x, const float *y, const int64_t *index,
                          int64_t n, int64_t global_n, dt_step_result *out)
{
    dt_session *s = t->s;
    dt_model *m = s->model;
    const int64_t acc = s->ts.accumulation;
    /* loss, correct, local |g|^2, ranks with data, sharded: |g|^2 of the shard */
    double sums[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
    double g2_micro = 0.0; /* first micro-batch's |g|^2 (noise scale on one rank) */
    /* Input noise and augmentation work on the host copy, before staging. */
    x = dt_regularize_inputs(&s->reg, x, index, n, s->optim->step, s->seed);

    /* The loss is a mean over the global batch's samples or, per token,
     * over its target tokens, counted on the host copy of the labels. */
    double denom = (double)global_n;
    DT_TRY(count_targets(t, y, n, &denom));
    stage_batch(t, &x, &y, n);
    dt_regularize_perturb(&s->reg, m->be, m->params, m->n_params, s->optim->step, s->seed);

    /* Every parameter belongs to a layer that writes its gradient on the
     * first micro-step, so the gradients need no zeroing. */
    const float scale = denom > 0 ? (float)(1.0 / denom) : 0.0f;
    const int tokens = dt_loss_is_tokens(&s->loss);
    for (int64_t a = 0; a < acc; a++) {
        const int64_t lo = a * n / acc, hi = (a + 1) * n / acc;
        const dt_pass p = {.be = m->be, .n = hi - lo, .index = index + lo,
                           .step = s->optim->step, .seed = s->seed, .training = 1,
                           .overwrite_grads = a == 0,
                           .targets = tokens ? y + lo * t->y_dim : NULL};
        dt_model_forward(m, x + lo * t->in_numel, &p);
        const dt_loss_sums ls = dt_loss_compute(&s->loss, m->be, dt_model_output(m),
                                                y + lo * t->y_dim, p.n, scale,
                                                dt_model_output_grad(m));
        sums[0] += ls.loss;
        sums[1] += (double)ls.correct;
        const int last = a == acc - 1;
        if (last) dt_reducer_begin(t->reducer);
        dt_model_backward(m, &p, last ? on_grads_ready : NULL, t);
        if (a == 0 && acc > 1 && dt_comm_size(s->comm) == 1)
            g2_micro = m->be->sumsq(m->grads, m->n_params);
    }
    dt_regularize_restore(&s->reg, m->be, m->params);
    DT_TRY(dt_reducer_finish(t->reducer));
    if (n > 0) { /* this rank's mean gradient: local sum x global_n / n */
        const double r = (double)global_n / (double)n;
        sums[2] = dt_reducer_local_sumsq(t->reducer) * r * r;
        sums[3] = 1.0;
    }
    /* A failed device call (recorded, not returned, by the ops) stops every
     * rank here, before its NaN loss could be taken for a numeric problem. */
    if (m->be->device != DT_CPU) DT_TRY(dt_comm_agree(s->comm, m->be->sync()));
    /* The gradient the optimizer reads: this rank's summed shard, or all. */
    float *const grads = t->sharded ? t->shard_grads : m->grads;
    if (t->sharded) sums[4] = m->be->sumsq(grads, s->optim->len);
    DT_TRY(dt_comm_allreduce_f64(s->comm, sums, 5));

    const double per = denom > 0 ? denom : 1.0;
    out->loss = sums[0] / per;
    out->accuracy = sums[1] / per / (double)s->loss.positions;
    out->global_n = global_n;
    out->targets = dt_loss_is_tokens(&s->loss) ? (int64_t)denom : global_n;
    if (s->ts.check_finite && !isfinite(out->loss)) {
        if (t->last_finite_step < 0)
            return dt_error_set(DT_ERR_NUMERIC, "step %lld: the loss is %s at the first step "
                                "(check the data and the learning rate)",
                                (long long)s->optim->step + 1, isnan(out->loss) ? "NaN" : "Inf");
        return dt_error_set(DT_ERR_NUMERIC, "step %lld: the loss is %s; the last finite loss "
                            "was %.6g at step %lld (lower optim.lr or clip gradients)",
                            (long long)s->optim->step + 1, isnan(out->loss) ? "NaN" : "Inf",
                            t->last_finite_loss, (long long)t->last_finite_step);
    }
    t->last_finite_loss = out->loss;
    t->last_finite_step = s->optim->step + 1;
    /* Before the update, which may clip them: the norms as computed. */
    if (s->ts.log_grad_norms && (s->optim->step + 1) % s->ts.log_every == 0) {
        if (t->sharded) DT_TRY(shard_grad_norms(t));
        else dt_grad_norms_json(m, t->grad_norms, sizeof t->grad_norms);
    }
    /* The noise scale sees the gradient as reduced; clipping comes after, the
     * same on every rank. */
    add_noise_pair(t, sums, g2_micro, acc > 1 ? n / acc : n, global_n);
    dt_optim_clip_grads(s->optim, grads);
    DT_TRY(dt_optim_step(s->optim, m->params, grads));
    if (t->sharded) DT_TRY(gather_params(t));
    /* On a GPU: wait for the update (so a step's time is its whole work)
     * and stop every rank together if it failed. */
    return m->be->device == DT_CPU ? DT_OK : dt_comm_agree(s->comm, m->be->sync());
}

dt_status dt_trainer_memory(dt_trainer *t, dt_memory_report *out)
{
    const dt_session *s = t->s;
    const dt_model *m = s->model;
    const int64_t f = (int64_t)sizeof(float);
    int64_t v[5] = {m->n_params * f, m->n_params * f + (t->sharded ? s->optim->len * f : 0),
                    dt_optim_state_bytes(s->optim), dt_optim_scratch_bytes(s->optim),
                    dt_model_activation_bytes(m)};
    DT_TRY(dt_comm_allreduce_max_i64(s->comm, v, 5));
    *out = (dt_memory_report){.params = v[0], .grads = v[1], .optim_state = v[2],
                              .optim_scratch = v[3], .activations = v[4],
                              .total = v[0] + v[1] + v[2] + v[3] + v[4],
                              .sharded = t->sharded};
    return DT_OK;
}

void dt_memory_report_json(const dt_memory_report *r, int ranks, char *buf, size_t cap)
{
    snprintf(buf, cap, "{\"type\":\"memory\",\"per_rank_bytes\":{\"params\":%lld,"
             "\"grads\":%lld,\"optim_state\":%lld,\"optim_scratch\":%lld,"
             "\"activations\":%lld,\"total\":%lld},\"ranks\":%d,\"sharded\":%s}",
             (long long)r->params, (long long)r->grads, (long long)r->optim_state,
             (long long)r->optim_scratch, (long long)r->activations, (long long)r->total,
             ranks, r->sharded ? "true" : "false");
}

static double mib(int64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

void dt_memory_report_text(const dt_memory_report *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "parameters %.2f MiB, gradients %.2f MiB, optimizer state %.2f MiB%s "
             "(+ %.2f MiB scratch), activations %.2f MiB; total %.2f MiB", mib(r->params),
             mib(r->grads), mib(r->optim_state), r->sharded ? " (sharded)" : "",
             mib(r->optim_scratch), mib(r->activations), mib(r->total));
}

/* Running statistics are per rank (each saw its own samples): average them
 * so that every rank evaluates and checkpoints the same model. */
static dt_status sync_buffers(dt_trainer *t)
{
    dt_session *s = t->s;
    dt_model *m = s->model;
    const int world = dt_comm_size(s->comm);
    if (!m->n_buffers || world == 1) return DT_OK;
    DT_TRY(dt_comm_allreduce_f32(s->comm, m->buffers, m->n_buffers));
    m->be->scale(m->buffers, 1.0f / (float)world, m->n_buffers);
    return DT_OK;
}

/* Mean over the classes present (label or prediction) of
 * intersection / union = tp / (tp + fp + fn), from the confusion matrices of
 * all ranks ([label][prediction]). */
static dt_status eval_iou(dt_session *s, const int64_t *confusion, int64_t classes,
                          double *miou)
{
    double *c = dt_calloc((size_t)(classes * classes), sizeof(double));
    for (int64_t i = 0; i < classes * classes; i++) c[i] = (double)confusion[i];
    const dt_status st = dt_comm_allreduce_f64(s->comm, c, classes * classes);
    double total = 0.0;
    int present = 0;
    for (int64_t k = 0; k < classes; k++) {
        double tp = c[k * classes + k], row = 0.0, col = 0.0;
        for (int64_t j = 0; j < classes; j++) {
            row += c[k * classes + j];
            col += c[j * classes + k];
        }
        const double uni = row + col - tp;
        if (uni > 0) {
            total += tp / uni;
            present++;
        }
    }
    free(c);
    *miou = present ? total / present : 0.0;
    return st;
}

dt_status dt_trainer_evaluate(dt_trainer *t, dt_dataset *ds, dt_eval_result *out)
{
    DT_TRY(sync_buffers(t));
    dt_session *s = t->s;
    dt_model *m = s->model;
    const int64_t count = dt_dataset_get_info(ds)->count, chunk = s->ts.eval_batch;
    int64_t lo, hi;
    dt_sampler_slice(count, dt_comm_rank(s->comm), dt_comm_size(s->comm), &lo, &hi);

    float *x = dt_calloc((size_t)(chunk * t->in_numel), sizeof(float));
    float *y = dt_calloc((size_t)(chunk * t->y_dim), sizeof(float));
    int64_t *index = dt_calloc((size_t)chunk, sizeof(int64_t));
    const int64_t classes = s->loss.classes, pixels = s->loss.positions > 1;
    int64_t *confusion = pixels ? dt_calloc((size_t)(classes * classes), sizeof(int64_t)) : NULL;
    double sums[5] = {0.0, 0.0, (double)(hi - lo), 0.0, 0.0}; /* ..., targets */
    dt_status st = DT_OK;
    for (int64_t at = lo; st == DT_OK && at < hi; at += chunk) {
        const int64_t n = hi - at < chunk ? hi - at : chunk;
        for (int64_t i = 0; i < n; i++) index[i] = at + i;
        st = dt_dataset_read(ds, index, (int)n, x, y);
        if (st != DT_OK) break;
        const float *bx = x, *by = y;
        stage_batch(t, &bx, &by, n);
        const dt_pass p = {.be = m->be, .n = n, .index = index, .step = s->optim->step,
                           .seed = s->seed, .training = 0,
                           .targets = dt_loss_is_tokens(&s->loss) ? by : NULL};
        dt_model_forward(m, bx, &p);
        const dt_loss_sums ls = dt_loss_compute_eval(&s->loss, m->be, dt_model_output(m), by, n,
                                                     dt_model_output_grad(m), confusion);
        st = m->be->sync();
        sums[0] += ls.loss;
        sums[1] += (double)ls.correct;
        sums[3] += (double)ls.correct5;
        sums[4] += (double)ls.targets;
    }
    free(x);
    free(y);
    free(index);
    st = dt_comm_agree(s->comm, st);
    if (st == DT_OK) st = dt_comm_allreduce_f64(s->comm, sums, 5);
    if (st == DT_OK && pixels) st = eval_iou(s, confusion, classes, &out->mean_iou);
    free(confusion);
    DT_TRY(st);
    out->count = (int64_t)sums[2];
    out->loss = out->count ? sums[0] / sums[2] : 0.0;
    const int cls = s->loss.kind == DT_LOSS_CROSS_ENTROPY && out->count;
    out->accuracy = cls ? sums[1] / sums[2] / (double)s->loss.positions : 0.0;
    out->top5 = cls && !pixels && classes > 5 ? sums[3] / sums[2] : 0.0;
    out->targets = (int64_t)sums[4];
    if (dt_loss_is_tokens(&s->loss)) { /* means over the target tokens */
        out->loss = sums[4] > 0 ? sums[0] / sums[4] : 0.0;
        out->accuracy = sums[4] > 0 ? sums[1] / sums[4] : 0.0;
    }
    return DT_OK;
}

/* ---- the epoch loop ---- */

typedef struct fit_state {
    dt_trainer *t;
    dt_rundir run;
    dt_loader *loader;
    dt_progress prog;
    int64_t epoch, step_in_epoch, steps_per_epoch;
    double interval_start, interval_loss, interval_acc;
    int64_t interval_steps, interval_samples;
    double epoch_loss, epoch_correct;
    int64_t epoch_samples;
    dt_early_stop es;
    int stop; /* early stopping decided */
} fit_state;

/* Host buffers for the full optimizer state on rank 0 of a sharded run
 * (NULL elsewhere and unsharded); free with free_full_state. */
static float **alloc_full_state(const dt_trainer *t)
{
    const dt_optim *o = t->s->optim;
    if (!t->sharded || dt_comm_rank(t->s->comm) != 0) return NULL;
    float **full = dt_calloc(DT_OPTIM_MAX_STATE, sizeof *full);
    for (int i = 0; i < o->n_state; i++)
        full[i] = dt_calloc((size_t)(o->n ? o->n : 1), sizeof(float));
    return full;
}

static void free_full_state(float **full)
{
    if (!full) return;
    for (int i = 0; i < DT_OPTIM_MAX_STATE; i++) free(full[i]);
    free(full);
}

/* Sharded: every rank's state shards into `full` on rank 0, through host
 * memory (the state may live on a GPU). Collective. */
static dt_status gather_state(dt_trainer *t, float **full)
{
    const dt_optim *o = t->s->optim;
    float *part = dt_calloc((size_t)(o->len ? o->len : 1), sizeof(float));
    dt_status st = DT_OK;
    for (int i = 0; st == DT_OK && i < o->n_state; i++) {
        o->be->to_host(part, o->state[i], (size_t)o->len * sizeof(float));
        st = dt_comm_gather_parts_f32(t->s->comm, part, full ? full[i] : NULL, t->bounds, 0);
    }
    free(part);
    return st;
}

/* Sharded: rank 0's full state (read from a checkpoint) to every rank's
 * shard. Collective. */
static dt_status scatter_state(dt_trainer *t, float **full)
{
    const dt_optim *o = t->s->optim;
    float *part = dt_calloc((size_t)(o->len ? o->len : 1), sizeof(float));
    dt_status st = DT_OK;
    for (int i = 0; st == DT_OK && i < o->n_state; i++) {
        st = dt_comm_scatter_parts_f32(t->s->comm, full ? full[i] : NULL, part, t->bounds, 0);
        if (st == DT_OK) o->be->to_device(o->state[i], part, (size_t)o->len * sizeof(float));
    }
    free(part);
    return st == DT_OK ? o->be->sync() : st;
}

/* Rank 0 writes the checkpoint; a sharded run first gathers the optimizer
 * state there, so the file holds the same full state as an unsharded one. */
static dt_status save_checkpoint(fit_state *f, const char *name)
{
    dt_session *s = f->t->s;
    char path[1400];
    snprintf(path, sizeof path, "%s/checkpoints/%s", f->run.path, name);
    DT_TRY(sync_buffers(f->t));
    float **full = alloc_full_state(f->t);
    dt_status st = f->t->sharded ? gather_state(f->t, full) : DT_OK;
    if (st == DT_OK && dt_comm_rank(s->comm) == 0) {
        dt_ckpt_meta meta = {.step = s->optim->step, .epoch = f->epoch,
                             .step_in_epoch = f->step_in_epoch, .seed = s->seed,
                             .world_size = dt_comm_size(s->comm)};
        dt_ckpt_meta_set_tokenizer(&meta, &s->info, s->data_path);
        char *text = dt_cfg_to_string(s->cfg);
        st = dt_checkpoint_save_state(path, s->model, s->optim, (const float *const *)full,
                                      &meta, text);
        free(text);
        if (st == DT_OK) dt_log(DT_LOG_DEBUG, "checkpoint written: %s", path);
    }
    free_full_state(full);
    return dt_comm_agree(s->comm, st);
}

/* Broadcast n floats of backend memory from rank 0: through NCCL on GPUs
 * (through the host on one without NCCL). */
static dt_status bcast_floats(dt_session *s, float *buf, int64_t n)
{
    const dt_backend *be = s->model->be;
    dt_nccl *nccl = dt_comm_nccl(s->comm);
    if (be->device == DT_CPU) return dt_comm_bcast(s->comm, buf, n * 4, 0);
    if (nccl) {
        dt_status st = dt_nccl_bcast_start(nccl, buf, n * 4, 0);
        if (st == DT_OK) st = dt_nccl_wait(nccl, "broadcast of the checkpoint");
        return dt_comm_agree(s->comm, st);
    }
    float *host = dt_calloc((size_t)(n ? n : 1), sizeof(float));
    be->to_host(host, buf, (size_t)n * sizeof(float));
    dt_status st = dt_comm_bcast(s->comm, host, n * 4, 0);
    if (st == DT_OK) be->to_device(buf, host, (size_t)n * sizeof(float));
    free(host);
    return st == DT_OK ? be->sync() : st;
}

/* Rank 0 reads the checkpoint; parameters, optimizer state and position
 * are broadcast (the state scattered, sharded) so ranks need not share a
 * file system. */
static dt_status resume(fit_state *f)
{
    dt_session *s = f->t->s;
    dt_ckpt_meta meta = {0};
    dt_status st = DT_OK;
    float **full = alloc_full_state(f->t);
    if (dt_comm_rank(s->comm) == 0)
        st = dt_checkpoint_load_state(s->ts.resume, s->model, s->optim, full, &meta);
    if (st == DT_OK && dt_comm_rank(s->comm) == 0)
        st = dt_checkpoint_check_tokenizer(s->ts.resume, &meta, &s->info, s->data_path,
                                           "resuming from");
    st = dt_comm_agree(s->comm, st);
    if (st == DT_OK && f->t->sharded) st = scatter_state(f->t, full);
    free_full_state(full);
    DT_TRY(st);
    DT_TRY(dt_comm_bcast(s->comm, &meta, sizeof meta, 0));
    DT_TRY(bcast_floats(s, s->model->params, s->model->n_params));
    if (s->model->n_buffers)
        DT_TRY(bcast_floats(s, s->model->buffers, s->model->n_buffers));
    for (int i = 0; !f->t->sharded && i < s->optim->n_state; i++)
        DT_TRY(bcast_floats(s, s->optim->state[i], s->optim->n));
    DT_TRY(dt_comm_bcast(s->comm, &s->optim->step, sizeof s->optim->step, 0));
    if (meta.seed != s->seed)
        DT_WARN("resuming with seed %llu, the checkpoint was trained with seed %llu",
                (unsigned long long)s->seed, (unsigned long long)meta.seed);
    f->epoch = meta.epoch;
    f->step_in_epoch = meta.step_in_epoch;
    DT_INFO("resumed from %s at step %lld (epoch %lld, step %lld of it)", s->ts.resume,
            (long long)meta.step, (long long)meta.epoch + 1, (long long)meta.step_in_epoch);
    return DT_OK;
}

/* train.init_from: rank 0 takes the checkpoint's parameters of the same
 * layer, name and shape (the rest stay as initialized, e.g. a new head)
 * and all ranks receive them. Optimizer state and position start afresh. */
static dt_status init_from(fit_state *f)
{
    dt_session *s = f->t->s;
    const char *const path = s->ts.init_from;
    dt_ckpt_meta meta = {0};
    dt_init_report rep = {0};
    dt_status st = DT_OK;
    if (dt_comm_rank(s->comm) == 0) st = dt_checkpoint_init_from(path, s->model, &meta, &rep);
    if (st == DT_OK && dt_comm_rank(s->comm) == 0)
        st = dt_checkpoint_check_tokenizer(path, &meta, &s->info, s->data_path,
                                           "train.init_from:");
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(bcast_floats(s, s->model->params, s->model->n_params));
    if (s->model->n_buffers) DT_TRY(bcast_floats(s, s->model->buffers, s->model->n_buffers));
    DT_TRY(dt_comm_bcast(s->comm, &rep, sizeof rep, 0));
    if (rep.loaded == 0)
        return dt_error_set(DT_ERR_CONFIG, "train.init_from %s: no parameter of the model is in "
                            "the checkpoint (layers are matched by name)", path);
    DT_INFO("init_from %s: loaded %d tensor(s), %lld values; %d left as initialized%s%s; %d "
            "of the checkpoint unused%s%s", path, rep.loaded, (long long)rep.values, rep.fresh,
            rep.fresh ? ": " : "", rep.fresh_names, rep.unused, rep.unused ? ": " : "",
            rep.unused_names);
    return DT_OK;
}

static void log_interval(fit_state *f, int force)
{
    dt_session *s = f->t->s;
    const double now = dt_now(), dt = now - f->interval_start;
    const dt_progress_point pt = {
        .step = s->optim->step, .epoch = f->epoch, .step_in_epoch = f->step_in_epoch,
        .loss = f->interval_steps ? f->interval_loss / (double)f->interval_steps : 0.0,
        .lr = dt_optim_lr_at(s->optim, s->optim->step),
        .samples_per_s = dt > 0 ? (double)f->interval_samples / dt : 0.0};
    dt_progress_update(&f->prog, &pt, force);
    if (!force) return;

    char rec[2800], noise[160], tokens[160] = "";
    const char *norms = f->t->grad_norms;
    dt_noise_scale_json(&f->t->noise, noise, sizeof noise);
    if (dt_loss_is_tokens(&s->loss)) /* per target token; perplexity of the mean loss */
        snprintf(tokens, sizeof tokens, ",\"accuracy\":%.8g,\"perplexity\":%.8g,"
                 "\"tokens_per_s\":%.1f", f->interval_steps ? f->interval_acc /
                 (double)f->interval_steps : 0.0, exp(pt.loss),
                 pt.samples_per_s * (double)s->loss.steps);
    snprintf(rec, sizeof rec, "{\"type\":\"train\",\"step\":%lld,\"epoch\":%lld,\"loss\":%.8g,"
             "\"lr\":%.8g,\"grad_norm\":%.8g,\"samples_per_s\":%.1f%s,\"time_s\":%.3f%s%s%s}",
             (long long)pt.step, (long long)f->epoch + 1, pt.loss, pt.lr,
             s->optim->last_grad_norm, pt.samples_per_s, tokens, now - f->prog.start, noise,
             norms[0] ? "," : "", norms);
    f->t->grad_norms[0] = '\0';
    dt_rundir_metric(&f->run, rec);
    f->interval_start = now;
    f->interval_loss = f->interval_acc = 0.0;
    f->interval_steps = f->interval_samples = 0;
}

static dt_status run_epoch(fit_state *f, int64_t *budget)
{
    dt_session *s = f->t->s;
    dt_batch b;
    DT_TRY(dt_loader_start_epoch(f->loader, f->epoch, f->step_in_epoch));
    for (;;) {
        if (s->ts.max_steps && s->optim->step >= s->ts.max_steps) {
            *budget = 0;
            return DT_OK;
        }
        DT_TRY(dt_comm_agree(s->comm, dt_loader_next(f->loader, &b)));
        if (b.global_n == 0) break;

        dt_step_result r;
        DT_TRY(dt_trainer_step(f->t, b.x, b.y, b.index, b.n, b.global_n, &r));
        f->step_in_epoch++;
        f->interval_loss += r.loss;
        f->interval_acc += r.accuracy;
        f->interval_steps++;
        f->interval_samples += b.global_n;
        f->epoch_loss += r.loss * (double)b.global_n;
        f->epoch_correct += r.accuracy * (double)b.global_n;
        f->epoch_samples += b.global_n;
        log_interval(f, s->optim->step % s->ts.log_every == 0);
    }
    return DT_OK;
}

static dt_status end_epoch(fit_state *f, dt_eval_result *ev)
{
    dt_session *s = f->t->s;
    if (f->interval_steps) log_interval(f, 1);
    dt_progress_break(&f->prog);
    DT_TRY(dt_trainer_evaluate(f->t, s->test, ev));

    const int cls = s->loss.kind == DT_LOSS_CROSS_ENTROPY, tok = dt_loss_is_tokens(&s->loss);
    const double train_loss = f->epoch_samples ? f->epoch_loss / (double)f->epoch_samples : 0;
    char acc[128] = "", tokens[128] = "";
    if (tok) {
        snprintf(acc, sizeof acc, "  test token accuracy %.2f%%  perplexity %.3f",
                 100.0 * ev->accuracy, exp(ev->loss));
        snprintf(tokens, sizeof tokens, ",\"perplexity\":%.8g,\"targets\":%lld",
                 exp(ev->loss), (long long)ev->targets);
    }
    if (cls) {
        const int len = snprintf(acc, sizeof acc, "  test %saccuracy %.2f%%",
                                 s->loss.positions > 1 ? "pixel " : "", 100.0 * ev->accuracy);
        if (ev->top5 > 0)
            snprintf(acc + len, sizeof acc - (size_t)len, " (top-5 %.2f%%)", 100.0 * ev->top5);
        if (s->loss.positions > 1)
            snprintf(acc + len, sizeof acc - (size_t)len, ", mean IoU %.4f", ev->mean_iou);
    }
    DT_INFO("epoch %lld/%lld  train loss %.4f  test loss %.4f%s  (%lld test samples)",
            (long long)f->epoch + 1, (long long)s->ts.epochs, train_loss, ev->loss, acc,
            (long long)ev->count);

    char rec[512];
    snprintf(rec, sizeof rec, "{\"type\":\"eval\",\"split\":\"test\",\"epoch\":%lld,"
             "\"step\":%lld,\"train_loss\":%.8g,\"train_accuracy\":%.8g,\"loss\":%.8g,"
             "\"accuracy\":%.8g,\"top5\":%.8g,\"mean_iou\":%.8g,\"count\":%lld%s,"
             "\"time_s\":%.3f}", (long long)f->epoch + 1,
             (long long)s->optim->step, train_loss,
             f->epoch_samples ? f->epoch_correct / (double)f->epoch_samples : 0.0, ev->loss,
             ev->accuracy, ev->top5, ev->mean_iou, (long long)ev->count, tokens,
             dt_now() - f->prog.start);
    dt_rundir_metric(&f->run, rec);
    f->epoch_loss = f->epoch_correct = 0.0;
    f->epoch_samples = 0;
    return DT_OK;
}

/* Evaluate the validation part and record it. */
static dt_status eval_validation(fit_state *f, dt_eval_result *vr)
{
    dt_session *s = f->t->s;
    DT_TRY(dt_trainer_evaluate(f->t, s->val, vr));
    char acc[64] = "";
    if (s->loss.kind == DT_LOSS_CROSS_ENTROPY)
        snprintf(acc, sizeof acc, "  accuracy %.2f%%", 100.0 * vr->accuracy);
    if (dt_loss_is_tokens(&s->loss))
        snprintf(acc, sizeof acc, "  token accuracy %.2f%%  perplexity %.3f",
                 100.0 * vr->accuracy, exp(vr->loss));
    DT_INFO("epoch %lld/%lld  validation loss %.4f%s  (%lld samples)", (long long)f->epoch + 1,
            (long long)s->ts.epochs, vr->loss, acc, (long long)vr->count);
    char rec[320];
    snprintf(rec, sizeof rec, "{\"type\":\"eval\",\"split\":\"validation\",\"epoch\":%lld,"
             "\"step\":%lld,\"loss\":%.8g,\"accuracy\":%.8g,\"count\":%lld}",
             (long long)f->epoch + 1, (long long)s->optim->step, vr->loss, vr->accuracy,
             (long long)vr->count);
    dt_rundir_metric(&f->run, rec);
    return DT_OK;
}

/* After an epoch: rank 0 applies the early-stopping rule to the monitored
 * (all-reduced) value and broadcasts its decision; an improvement writes
 * checkpoints/best.h5. */
static dt_status early_stopping(fit_state *f, const dt_eval_result *test,
                                const dt_eval_result *val)
{
    dt_session *s = f->t->s;
    const int mon = s->ts.es_monitor;
    const dt_eval_result *src = mon == DT_ES_TEST_LOSS || mon == DT_ES_TEST_ACCURACY ? test : val;
    const double value = mon == DT_ES_VAL_LOSS || mon == DT_ES_TEST_LOSS ? src->loss
                                                                           : src->accuracy;
    int decision[2] = {0, 0}; /* improved, stop */
    if (dt_comm_rank(s->comm) == 0)
        decision[1] = dt_early_stop_update(&f->es, value, f->epoch + 1, &decision[0]);
    DT_TRY(dt_comm_bcast(s->comm, decision, sizeof decision, 0));
    DT_TRY(dt_comm_bcast(s->comm, &f->es, sizeof f->es, 0));
    if (decision[0]) DT_TRY(save_checkpoint(f, "best.h5"));
    f->stop = decision[1];
    if (f->stop) {
        DT_INFO("early stopping after epoch %lld: %s has not improved for %lld epoch(s); best "
                "%.6g at epoch %lld", (long long)f->epoch + 1, dt_es_monitor_name(mon),
                (long long)f->es.patience, f->es.best, (long long)f->es.best_epoch);
        char rec[256];
        snprintf(rec, sizeof rec, "{\"type\":\"early_stop\",\"epoch\":%lld,\"monitor\":\"%s\","
                 "\"best\":%.8g,\"best_epoch\":%lld}", (long long)f->epoch + 1,
                 dt_es_monitor_name(mon), f->es.best, (long long)f->es.best_epoch);
        dt_rundir_metric(&f->run, rec);
    }
    return DT_OK;
}

/* At the end of a run with early stopping: put back the best parameters
 * (rank 0 reads best.h5, all receive them) and evaluate them. */
static dt_status restore_best(fit_state *f, dt_eval_result *final)
{
    dt_session *s = f->t->s;
    if (f->es.best_epoch < 0) return DT_OK;
    char path[1400];
    snprintf(path, sizeof path, "%s/checkpoints/best.h5", f->run.path);
    dt_ckpt_meta meta;
    dt_status st = DT_OK;
    if (dt_comm_rank(s->comm) == 0) st = dt_checkpoint_load(path, s->model, NULL, &meta);
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(dt_comm_bcast(s->comm, s->model->params, s->model->n_params * 4, 0));
    DT_TRY(dt_trainer_evaluate(f->t, s->test, final));
    DT_INFO("restored the best parameters (epoch %lld, %s %.6g)", (long long)f->es.best_epoch,
            dt_es_monitor_name(s->ts.es_monitor), f->es.best);
    char rec[256];
    snprintf(rec, sizeof rec, "{\"type\":\"restored\",\"epoch\":%lld,\"split\":\"test\","
             "\"loss\":%.8g,\"accuracy\":%.8g,\"count\":%lld}", (long long)f->es.best_epoch,
             final->loss, final->accuracy, (long long)final->count);
    dt_rundir_metric(&f->run, rec);
    return DT_OK;
}

static dt_status fit_loop(fit_state *f, dt_eval_result *final)
{
    dt_session *s = f->t->s;
    int64_t budget = 1;
    int evaluated = 0;
    while (f->epoch < s->ts.epochs && budget) {
        DT_TRY(run_epoch(f, &budget));
        if (!budget && f->step_in_epoch < f->steps_per_epoch) break; /* stopped mid-epoch */
        DT_TRY(end_epoch(f, final));
        dt_eval_result vr = {0};
        if (s->val) DT_TRY(eval_validation(f, &vr));
        if (s->ts.early_stopping) DT_TRY(early_stopping(f, final, &vr));
        evaluated = 1;
        f->epoch++;
        f->step_in_epoch = 0;
        if (s->ts.checkpoint_every && f->epoch % s->ts.checkpoint_every == 0) {
            char name[64];
            snprintf(name, sizeof name, "epoch-%lld.h5", (long long)f->epoch);
            DT_TRY(save_checkpoint(f, name));
        }
        if (f->stop) break;
    }
    if (!evaluated) {
        if (f->interval_steps) log_interval(f, 1);
        dt_progress_break(&f->prog);
        DT_TRY(dt_trainer_evaluate(f->t, s->test, final));
    }
    DT_TRY(save_checkpoint(f, "last.h5"));
    return s->ts.early_stopping ? restore_best(f, final) : DT_OK;
}

/* Every rank must start from the same parameters (compared on the host). */
static dt_status check_same_params(dt_session *s)
{
    const dt_model *m = s->model;
    if (m->be->device == DT_CPU)
        return dt_comm_check_same(s->comm, m->params, m->n_params * 4, "initial parameters");
    float *host = dt_calloc((size_t)(m->n_params ? m->n_params : 1), sizeof(float));
    m->be->to_host(host, m->params, (size_t)m->n_params * sizeof(float));
    const dt_status st = dt_comm_check_same(s->comm, host, m->n_params * 4,
                                            "initial parameters");
    free(host);
    return st;
}

static dt_status fit_setup(fit_state *f)
{
    dt_session *s = f->t->s;
    DT_TRY(check_same_params(s));
    if (s->ts.resume[0] && s->ts.init_from[0])
        DT_INFO("resuming from %s; train.init_from (%s) applies to a fresh start only",
                s->ts.resume, s->ts.init_from);
    if (s->ts.resume[0]) DT_TRY(resume(f));
    else if (s->ts.init_from[0]) DT_TRY(init_from(f));
    dt_early_stop_init(&f->es, s->ts.es_maximize, s->ts.es_patience, s->ts.es_min_delta);
    const dt_status ws =
        dt_comm_rank(s->comm) == 0 ? dt_session_write_split(s, f->run.path) : DT_OK;
    DT_TRY(dt_comm_agree(s->comm, ws));

    const dt_loader_config lc = {.global_batch = s->ts.batch_size,
                                 .rank = dt_comm_rank(s->comm),
                                 .world = dt_comm_size(s->comm),
                                 .sampler = s->ts.shuffle ? DT_SAMPLER_SHUFFLE
                                                          : DT_SAMPLER_SEQUENTIAL,
                                 .seed = s->seed,
                                 .prefetch = s->ts.prefetch,
                                 .subset = s->train_subset,
                                 .subset_n = s->train_subset_n};
    DT_TRY(dt_comm_agree(s->comm, dt_loader_create(s->train, &lc, &f->loader)));
    f->steps_per_epoch = dt_loader_steps_per_epoch(f->loader);
    int64_t total = s->ts.epochs * f->steps_per_epoch;
    if (s->ts.max_steps && s->ts.max_steps < total) total = s->ts.max_steps;
    dt_progress_init(&f->prog, dt_log_terminal_enabled(DT_LOG_INFO), total, f->steps_per_epoch,
                     s->ts.epochs);
    if (s->progress) f->prog.tty = f->prog.enabled && s->progress == 1; /* runtime.progress */
    f->interval_start = dt_now();
    return DT_OK;
}

/* Memory per rank, in the log and as a record of metrics.jsonl. */
static dt_status log_memory(fit_state *f)
{
    dt_memory_report r;
    DT_TRY(dt_trainer_memory(f->t, &r));
    char text[400], rec[600];
    dt_memory_report_text(&r, text, sizeof text);
    DT_INFO("memory per rank (largest over ranks): %s", text);
    dt_memory_report_json(&r, dt_comm_size(f->t->s->comm), rec, sizeof rec);
    dt_rundir_metric(&f->run, rec);
    return DT_OK;
}

dt_status dt_trainer_fit(dt_trainer *t, dt_eval_result *final, char **run_dir)
{
    dt_session *s = t->s;
    fit_state f = {.t = t};
    *run_dir = NULL;
    memset(final, 0, sizeof *final);

    DT_TRY(dt_rundir_create(s, s->command_line ? s->command_line : "", &f.run));
    *run_dir = dt_strdup(f.run.path);
    DT_INFO("training %s: %lld parameters, %d rank(s) x %d thread(s), global batch %lld "
            "(micro-batch %lld x accumulation %lld x ranks)", s->config_path,
            (long long)s->model->n_params, dt_comm_size(s->comm), s->threads,
            (long long)s->ts.batch_size, (long long)s->ts.micro_batch,
            (long long)s->ts.accumulation);

    dt_status st = log_memory(&f);
    if (st == DT_OK) st = fit_setup(&f);
    if (st == DT_OK) st = fit_loop(&f, final);
    dt_progress_break(&f.prog);
    dt_loader_destroy(f.loader);
    dt_rundir_close(&f.run);
    return st;
}
