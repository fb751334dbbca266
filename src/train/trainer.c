/* The training loop over data-parallel ranks. */
#include "train/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/loader.h"
#include "train/checkpoint.h"
#include "train/grad_norms.h"
#include "train/progress.h"
#include "train/rundir.h"

struct dt_trainer {
    dt_session *s;
    dt_reducer *reducer;
    int64_t in_numel, y_dim;
    double last_finite_loss;
    int64_t last_finite_step;
    char grad_norms[2048]; /* JSON fragment of the last logged step, or "" */
};

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
    return dt_reducer_create(s->comm, s->model->grads, s->model->n_params, s->ts.bucket_bytes,
                             &t->reducer);
}

void dt_trainer_destroy(dt_trainer *t)
{
    if (!t) return;
    dt_reducer_destroy(t->reducer);
    free(t);
}

dt_reducer_stats dt_trainer_reducer_stats(const dt_trainer *t)
{
    return dt_reducer_get_stats(t->reducer);
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
    double sums[2] = {0.0, 0.0}; /* loss, correct */

    /* Every parameter belongs to a layer that writes its gradient on the
     * first micro-step, so the gradients need no zeroing. */
    for (int64_t a = 0; a < acc; a++) {
        const int64_t lo = a * n / acc, hi = (a + 1) * n / acc;
        const dt_pass p = {.be = m->be, .n = hi - lo, .index = index + lo,
                           .step = s->optim->step, .seed = s->seed, .training = 1,
                           .overwrite_grads = a == 0};
        dt_model_forward(m, x + lo * t->in_numel, &p);
        const dt_loss_sums ls = dt_loss_compute(&s->loss, m->be, dt_model_output(m),
                                                y + lo * t->y_dim, p.n, 1.0f / (float)global_n,
                                                dt_model_output_grad(m));
        sums[0] += ls.loss;
        sums[1] += (double)ls.correct;
        const int last = a == acc - 1;
        if (last) dt_reducer_begin(t->reducer);
        dt_model_backward(m, &p, last ? on_grads_ready : NULL, t);
    }
    DT_TRY(dt_reducer_finish(t->reducer));
    DT_TRY(dt_comm_allreduce_f64(s->comm, sums, 2));

    out->loss = sums[0] / (double)global_n;
    out->accuracy = sums[1] / (double)global_n;
    out->global_n = global_n;
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
    if (s->ts.log_grad_norms && (s->optim->step + 1) % s->ts.log_every == 0)
        dt_grad_norms_json(m, t->grad_norms, sizeof t->grad_norms);
    dt_optim_step(s->optim, m->params, m->grads);
    return DT_OK;
}

dt_status dt_trainer_evaluate(dt_trainer *t, dt_dataset *ds, dt_eval_result *out)
{
    dt_session *s = t->s;
    dt_model *m = s->model;
    const int64_t count = dt_dataset_get_info(ds)->count, chunk = s->ts.eval_batch;
    int64_t lo, hi;
    dt_sampler_slice(count, dt_comm_rank(s->comm), dt_comm_size(s->comm), &lo, &hi);

    float *x = dt_calloc((size_t)(chunk * t->in_numel), sizeof(float));
    float *y = dt_calloc((size_t)(chunk * t->y_dim), sizeof(float));
    int64_t *index = dt_calloc((size_t)chunk, sizeof(int64_t));
    double sums[3] = {0.0, 0.0, (double)(hi - lo)};
    dt_status st = DT_OK;
    for (int64_t at = lo; st == DT_OK && at < hi; at += chunk) {
        const int64_t n = hi - at < chunk ? hi - at : chunk;
        for (int64_t i = 0; i < n; i++) index[i] = at + i;
        st = dt_dataset_read(ds, index, (int)n, x, y);
        if (st != DT_OK) break;
        const dt_pass p = {.be = m->be, .n = n, .index = index, .step = s->optim->step,
                           .seed = s->seed, .training = 0};
        dt_model_forward(m, x, &p);
        const dt_loss_sums ls = dt_loss_compute(&s->loss, m->be, dt_model_output(m), y, n, 0.0f,
                                                dt_model_output_grad(m));
        sums[0] += ls.loss;
        sums[1] += (double)ls.correct;
    }
    free(x);
    free(y);
    free(index);
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(dt_comm_allreduce_f64(s->comm, sums, 3));
    out->count = (int64_t)sums[2];
    out->loss = out->count ? sums[0] / sums[2] : 0.0;
    out->accuracy = out->count && s->loss.kind == DT_LOSS_CROSS_ENTROPY ? sums[1] / sums[2] : 0.0;
    return DT_OK;
}

/* ---- the epoch loop ---- */

typedef struct fit_state {
    dt_trainer *t;
    dt_rundir run;
    dt_loader *loader;
    dt_progress prog;
    int64_t epoch, step_in_epoch, steps_per_epoch;
    double interval_start, interval_loss;
    int64_t interval_steps, interval_samples;
    double epoch_loss, epoch_correct;
    int64_t epoch_samples;
} fit_state;

static dt_status save_checkpoint(fit_state *f, const char *name)
{
    dt_session *s = f->t->s;
    char path[1400];
    snprintf(path, sizeof path, "%s/checkpoints/%s", f->run.path, name);
    dt_status st = DT_OK;
    if (dt_comm_rank(s->comm) == 0) {
        const dt_ckpt_meta meta = {.step = s->optim->step, .epoch = f->epoch,
                                   .step_in_epoch = f->step_in_epoch, .seed = s->seed,
                                   .world_size = dt_comm_size(s->comm)};
        char *text = dt_cfg_to_string(s->cfg);
        st = dt_checkpoint_save(path, s->model, s->optim, &meta, text);
        free(text);
        if (st == DT_OK) dt_log(DT_LOG_DEBUG, "checkpoint written: %s", path);
    }
    return dt_comm_agree(s->comm, st);
}

/* Rank 0 reads the checkpoint; parameters, optimizer state and position
 * are broadcast so ranks need not share a file system. */
static dt_status resume(fit_state *f)
{
    dt_session *s = f->t->s;
    dt_ckpt_meta meta = {0};
    dt_status st = DT_OK;
    if (dt_comm_rank(s->comm) == 0) st = dt_checkpoint_load(s->ts.resume, s->model, s->optim, &meta);
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(dt_comm_bcast(s->comm, &meta, sizeof meta, 0));
    DT_TRY(dt_comm_bcast(s->comm, s->model->params, s->model->n_params * 4, 0));
    for (int i = 0; i < s->optim->n_state; i++)
        DT_TRY(dt_comm_bcast(s->comm, s->optim->state[i], s->optim->n * 4, 0));
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

    char rec[2600];
    const char *norms = f->t->grad_norms;
    snprintf(rec, sizeof rec, "{\"type\":\"train\",\"step\":%lld,\"epoch\":%lld,\"loss\":%.8g,"
             "\"lr\":%.8g,\"samples_per_s\":%.1f,\"time_s\":%.3f%s%s}", (long long)pt.step,
             (long long)f->epoch + 1, pt.loss, pt.lr, pt.samples_per_s, now - f->prog.start,
             norms[0] ? "," : "", norms);
    f->t->grad_norms[0] = '\0';
    dt_rundir_metric(&f->run, rec);
    f->interval_start = now;
    f->interval_loss = 0.0;
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

    const int cls = s->loss.kind == DT_LOSS_CROSS_ENTROPY;
    const double train_loss = f->epoch_samples ? f->epoch_loss / (double)f->epoch_samples : 0;
    char acc[64] = "";
    if (cls) snprintf(acc, sizeof acc, "  test accuracy %.2f%%", 100.0 * ev->accuracy);
    DT_INFO("epoch %lld/%lld  train loss %.4f  test loss %.4f%s  (%lld test samples)",
            (long long)f->epoch + 1, (long long)s->ts.epochs, train_loss, ev->loss, acc,
            (long long)ev->count);

    char rec[512];
    snprintf(rec, sizeof rec, "{\"type\":\"eval\",\"split\":\"test\",\"epoch\":%lld,"
             "\"step\":%lld,\"train_loss\":%.8g,\"train_accuracy\":%.8g,\"loss\":%.8g,"
             "\"accuracy\":%.8g,\"count\":%lld,\"time_s\":%.3f}", (long long)f->epoch + 1,
             (long long)s->optim->step, train_loss,
             f->epoch_samples ? f->epoch_correct / (double)f->epoch_samples : 0.0, ev->loss,
             ev->accuracy, (long long)ev->count, dt_now() - f->prog.start);
    dt_rundir_metric(&f->run, rec);
    f->epoch_loss = f->epoch_correct = 0.0;
    f->epoch_samples = 0;
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
        evaluated = 1;
        f->epoch++;
        f->step_in_epoch = 0;
        if (s->ts.checkpoint_every && f->epoch % s->ts.checkpoint_every == 0) {
            char name[64];
            snprintf(name, sizeof name, "epoch-%lld.h5", (long long)f->epoch);
            DT_TRY(save_checkpoint(f, name));
        }
    }
    if (!evaluated) {
        if (f->interval_steps) log_interval(f, 1);
        dt_progress_break(&f->prog);
        DT_TRY(dt_trainer_evaluate(f->t, s->test, final));
    }
    return save_checkpoint(f, "last.h5");
}

static dt_status fit_setup(fit_state *f)
{
    dt_session *s = f->t->s;
    DT_TRY(dt_comm_check_same(s->comm, s->model->params, s->model->n_params * 4,
                              "initial parameters"));
    if (s->ts.resume[0]) DT_TRY(resume(f));

    const dt_loader_config lc = {.global_batch = s->ts.batch_size,
                                 .rank = dt_comm_rank(s->comm),
                                 .world = dt_comm_size(s->comm),
                                 .sampler = s->ts.shuffle ? DT_SAMPLER_SHUFFLE
                                                          : DT_SAMPLER_SEQUENTIAL,
                                 .seed = s->seed,
                                 .prefetch = s->ts.prefetch};
    DT_TRY(dt_comm_agree(s->comm, dt_loader_create(s->train, &lc, &f->loader)));
    f->steps_per_epoch = dt_loader_steps_per_epoch(f->loader);
    int64_t total = s->ts.epochs * f->steps_per_epoch;
    if (s->ts.max_steps && s->ts.max_steps < total) total = s->ts.max_steps;
    dt_progress_init(&f->prog, dt_log_terminal_enabled(DT_LOG_INFO), total, f->steps_per_epoch,
                     s->ts.epochs);
    f->interval_start = dt_now();
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

    dt_status st = fit_setup(&f);
    if (st == DT_OK) st = fit_loop(&f, final);
    dt_progress_break(&f.prog);
    dt_loader_destroy(f.loader);
    dt_rundir_close(&f.run);
    return st;
}
