/* The sweep: grid, group plan, the job queue of each group, summaries. */
#include "train/sweep.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "data/sampler.h"
#include "dist/group.h"
#include "train/evalset.h"
#include "train/noise_scale.h"
#include "train/progress.h"
#include "train/sweep_internal.h"
#include "train/trainer.h"

#define MAX_JOBS 4096

void dt_sweep_opts_init(dt_sweep_opts *o)
{
    *o = (dt_sweep_opts){.warmup = -1, .sharpness = 1, .train_eval_samples = 10000,
                         .sharp = {.eps = 1e-3, .absolute = 0, .steps = 5, .samples = 2048}};
}

/* Values are split at commas unless the value is a YAML flow collection. */
static dt_status add_override(dt_sweep *w, char *ov)
{
    char *eq = strchr(ov, '=');
    const size_t klen = (size_t)(eq - ov);
    if (klen == 8 && strncmp(ov, "cv.folds", 8) == 0) {
        w->folds = atoi(eq + 1);
        if (w->folds < 2 || w->folds > 100)
            return dt_error_set(DT_ERR_ARG, "cv.folds=%s: expected an integer in [2, 100]",
                                eq + 1);
        return DT_OK;
    }
    if (eq[1] == '[' || eq[1] == '{' || !strchr(eq + 1, ',')) {
        w->fixed[w->n_fixed++] = ov;
        return DT_OK;
    }
    if (w->n_axes == MAX_AXES || klen >= sizeof w->axes[0].key)
        return dt_error_set(DT_ERR_ARG, "%s: at most %d swept keys of < 200 characters", ov,
                            MAX_AXES);
    dt_sweep_axis *a = &w->axes[w->n_axes++];
    memcpy(a->key, ov, klen);
    a->key[klen] = '\0';
    char *copy = dt_strdup(eq + 1), *save = NULL;
    for (char *v = strtok_r(copy, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        if (a->n == MAX_VALUES) {
            free(copy);
            return dt_error_set(DT_ERR_ARG, "%s: at most %d values per key", a->key, MAX_VALUES);
        }
        a->values[a->n++] = dt_strdup(v);
    }
    free(copy);
    if (a->n < 2)
        return dt_error_set(DT_ERR_ARG, "%s: expected several values separated by commas",
                            a->key);
    return DT_OK;
}

/* ---- planning a configuration: batch, accumulation, learning rate ---- */

static dt_status read_plan(dt_sweep *w, dt_cfg *root, int c, dt_sweep_plan *p)
{
    const dt_sweep_opts *o = w->o;
    dt_cfg *train = dt_cfg_get(root, "train"), *optim = dt_cfg_get(root, "optim");
    const char *kind;
    int64_t micro;
    DT_TRY(dt_cfg_int_req(train, "batch_size", 1, 1 << 30, &p->batch));
    DT_TRY(dt_cfg_int(train, "accumulation", 1, 1, 1 << 20, &p->accumulation));
    DT_TRY(dt_cfg_int(train, "micro_batch", 0, 0, 1 << 30, &micro));
    if (o->scale_lr_ref) { /* a bad value otherwise fails its own job, not the dt_sweep */
        DT_TRY(dt_cfg_str(optim, "kind", "adam", &kind));
        DT_TRY(dt_cfg_float(optim, "lr", strcmp(kind, "sgd") == 0 ? 0.01 : 0.001, 0.0, 1e6,
                            &p->lr));
    }

    const int64_t g = w->gp.group_size, b = p->batch;
    if (b < g)
        return dt_error_set(DT_ERR_CONFIG, "configuration %d: batch size %lld cannot be reached "
                            "on groups of %lld ranks: every rank needs at least one sample",
                            c, (long long)b, (long long)g);
    if (micro) {
        if (b % (micro * g) != 0)
            return dt_error_set(DT_ERR_CONFIG, "configuration %d: batch size %lld cannot be "
                                "reached with micro_batch %lld on groups of %lld ranks: no "
                                "accumulation a gives %lld x a x %lld = %lld", c, (long long)b,
                                (long long)micro, (long long)g, (long long)micro, (long long)g,
                                (long long)b);
        p->accumulation = b / (micro * g);
    } else if (o->max_micro) {
        const int64_t per = o->max_micro * g;
        p->accumulation = (b + per - 1) / per;
    }
    if (b < p->accumulation * g)
        return dt_error_set(DT_ERR_CONFIG, "configuration %d: batch size %lld is smaller than "
                            "accumulation %lld x %lld ranks", c, (long long)b,
                            (long long)p->accumulation, (long long)g);
    if (o->scale_lr_ref) {
        p->lr = p->lr * (double)b / (double)o->scale_lr_ref;
        p->scaled = 1;
    }
    p->warmup_ov[0] = '\0';
    if (o->warmup >= 0) {
        dt_cfg *s = dt_cfg_get(optim, "schedule");
        if (s && s->kind == DT_CFG_SCALAR)
            snprintf(p->warmup_ov, sizeof p->warmup_ov,
                     "optim.schedule={kind: %s, warmup_steps: %lld}", s->value,
                     (long long)o->warmup);
        else
            snprintf(p->warmup_ov, sizeof p->warmup_ov, "optim.schedule.warmup_steps=%lld",
                     (long long)o->warmup);
    }
    return DT_OK;
}

/* The overrides of job (c, fold): defaults, fixed, the grid's values, the
 * planned settings, and the run directory. */
/* job_overrides' fold for the retraining of the best configuration. */
#define DT_SWEEP_RETRAIN (-2)

static void job_overrides(const dt_sweep *w, int c, int fold, dt_ovlist *ov, int planned)
{
    const dt_sweep_plan *p = &w->plans[c];
    char name[160];
    dt_job_overrides_start(ov, w->fixed, w->n_fixed);
    for (int k = 0; k < w->n_axes; k++)
        dt_ovlist_add(ov, "%s=%s", w->axes[k].key, w->axes[k].values[dt_sweep_value_of(w, c, k)]);
    if (!planned) return;
    dt_ovlist_add(ov, "train.accumulation=%lld", (long long)p->accumulation);
    if (p->scaled) dt_ovlist_add(ov, "optim.lr=%.9g", p->lr);
    if (p->warmup_ov[0]) dt_ovlist_add(ov, "%s", p->warmup_ov);
    dt_sweep_job_name(w, c, w->folds ? fold : -1, name, sizeof name);
    if (fold == DT_SWEEP_RETRAIN)
        snprintf(name + strlen(name), sizeof name - strlen(name), "_retrain");
    dt_job_overrides_place(ov, w->dir, name);
}

static dt_status plan_configs(dt_sweep *w)
{
    w->plans = dt_calloc((size_t)w->n_configs, sizeof *w->plans);
    for (int c = 0; c < w->n_configs; c++) {
        dt_cfg *root;
        DT_TRY(dt_cfg_load_file(w->o->config, &root));
        dt_ovlist ov = {0};
        job_overrides(w, c, 0, &ov, 0);
        dt_status st = DT_OK;
        for (int i = 0; st == DT_OK && i < ov.n; i++) st = dt_cfg_override(root, ov.v[i]);
        if (st == DT_OK) st = read_plan(w, root, c, &w->plans[c]);
        dt_ovlist_free(&ov);
        dt_cfg_free(root);
        DT_TRY(st);
    }
    return DT_OK;
}

/* An unknown key fails the whole sweep before anything trains: build the
 * first job's session (shapes and data only) on the world. */
static dt_status check_keys(dt_sweep *w, dt_comm *world)
{
    dt_ovlist ov = {0};
    job_overrides(w, 0, 0, &ov, 1);
    dt_session *s = NULL;
    const dt_status st = dt_session_create(w->o->config, ov.v, ov.n, world, 0, &s);
    dt_ovlist_free(&ov);
    dt_session_destroy(s);
    if (st != DT_OK && strstr(dt_error_message(), "unknown key")) return st;
    dt_error_clear();
    return DT_OK;
}

/* ---- directories ---- */

static dt_status mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0') continue;
        *p = '\0';
        if (mkdir(tmp, 0775) != 0 && errno != EEXIST)
            return dt_error_set(DT_ERR_IO, "cannot create directory %s: %s", tmp,
                                strerror(errno));
        *p = c;
        if (!c) break;
    }
    return DT_OK;
}

dt_status dt_sweep_make_dir(dt_comm *c, const char *path, const char *root, const char *prefix,
                            const char *config, char *out, size_t cap)
{
    dt_status st = DT_OK;
    memset(out, 0, cap);
    if (dt_comm_rank(c) == 0) {
        if (path && path[0]) {
            snprintf(out, cap, "%s", path);
        } else {
            const char *base = strrchr(config, '/');
            char stem[128], stamp[32];
            snprintf(stem, sizeof stem, "%s", base ? base + 1 : config);
            char *dot = strrchr(stem, '.');
            if (dot) *dot = '\0';
            const time_t now = time(NULL);
            strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
            snprintf(out, cap, "%s/%s-%s-%s", root, prefix, stem, stamp);
        }
        st = mkdirs(out);
    }
    DT_TRY(dt_comm_agree(c, st));
    return dt_comm_bcast(c, out, (int64_t)cap, 0);
}

/* The run root for default sweep directories: train.run_dir of the config. */
static dt_status run_root(const dt_sweep_opts *o, char *out, size_t cap)
{
    dt_cfg *root;
    DT_TRY(dt_cfg_load_file(o->config, &root));
    dt_status st = DT_OK;
    for (int i = 0; st == DT_OK && i < o->n_overrides; i++)
        if (strncmp(o->overrides[i], "train.run_dir=", 14) == 0)
            st = dt_cfg_override(root, o->overrides[i]);
    const char *r = "runs";
    if (st == DT_OK) st = dt_cfg_str(dt_cfg_get(root, "train"), "run_dir", "runs", &r);
    snprintf(out, cap, "%s", r);
    dt_cfg_free(root);
    return st;
}

/* ---- one job on one group ---- */

/* Best accuracy and the first evaluation reaching the target, from the
 * run's metrics.jsonl (group leader). */
static void read_history(const dt_sweep *w, dt_sweep_job *r)
{
    char path[1200], line[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->run_dir);
    FILE *f = fopen(path, "r");
    r->best_acc = 0.0;
    r->target_steps = r->target_time = -1.0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *type = cJSON_GetObjectItem(j, "type");
        if (cJSON_IsString(type) && strcmp(type->valuestring, "eval") == 0) {
            const double acc = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "accuracy"));
            if (acc > r->best_acc) r->best_acc = acc;
            if (w->o->target > 0 && acc >= w->o->target && r->target_steps < 0) {
                r->target_steps = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "step"));
                r->target_time = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "time_s"));
            }
        }
        cJSON_Delete(j);
    }
    fclose(f);
}

/* Restrict training to the fold's training part; *val gets the rest. */
static void set_fold(const dt_sweep *w, dt_session *s, int fold, int64_t **val, int64_t *n_val)
{
    const int64_t n = dt_dataset_get_info(s->train)->count;
    s->train_subset = dt_calloc((size_t)n, sizeof(int64_t));
    *val = dt_calloc((size_t)(n / w->folds + 1), sizeof(int64_t));
    dt_sampler_kfold(s->seed, n, w->folds, fold, s->train_subset, &s->train_subset_n, *val,
                     n_val);
    /* the schedule's length follows the smaller epoch */
    const int64_t per_epoch = dt_sampler_steps(s->train_subset_n, s->ts.batch_size);
    int64_t total = s->ts.epochs * per_epoch;
    if (s->ts.max_steps && s->ts.max_steps < total) total = s->ts.max_steps;
    s->optim->total_steps = total;
}

/* After training: train accuracy on a fixed subset, validation fold,
 * sharpness, noise scale. Collective over the group. */
static dt_status measure(const dt_sweep *w, dt_session *s, dt_trainer *t, const int64_t *val,
                         int64_t n_val, dt_sweep_job *r)
{
    const int64_t count = dt_dataset_get_info(s->train)->count;
    const int64_t m = w->o->train_eval_samples < count ? w->o->train_eval_samples : count;
    dt_eval_result ev;
    if (m > 0) {
        int64_t *idx = dt_calloc((size_t)m, sizeof *idx);
        dt_sharpness_subset(count, m, idx);
        const dt_status st = dt_evaluate_indices(s, s->train, idx, m, &ev);
        free(idx);
        DT_TRY(st);
        r->train_acc = ev.accuracy;
        r->train_loss = ev.loss;
    }
    if (val) {
        DT_TRY(dt_evaluate_indices(s, s->train, val, n_val, &ev));
        r->val_acc = ev.accuracy;
        r->val_loss = ev.loss;
    }
    r->sharpness = r->sharp_base = r->sharp_max = NAN;
    if (w->o->sharpness) {
        dt_sharpness_result sr;
        DT_TRY(dt_sharpness_measure(s, &w->o->sharp, &sr));
        r->sharpness = sr.sharpness;
        r->sharp_base = sr.base_loss;
        r->sharp_max = sr.max_loss;
    }
    r->noise_scale = dt_noise_scale_value(dt_trainer_noise_scale(t));
    return DT_OK;
}

static dt_status train_job(const dt_sweep *w, dt_session *s, int fold, dt_sweep_job *r)
{
    int64_t *val = NULL, n_val = 0;
    if (fold >= 0) set_fold(w, s, fold, &val, &n_val);
    r->micro = s->ts.micro_batch;
    r->warmup = s->optim->warmup_steps;
    r->lr = s->optim->lr;
    r->params = s->model->n_params;

    dt_trainer *t = NULL;
    dt_eval_result final;
    char *run_dir = NULL;
    const double t0 = dt_now();
    dt_status st = dt_trainer_create(s, &t);
    if (st == DT_OK) st = dt_trainer_fit(t, &final, &run_dir);
    r->wall_s = dt_now() - t0;
    if (run_dir) snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    free(run_dir);
    r->steps = s->optim->step;
    if (st == DT_OK) {
        r->final_acc = final.accuracy;
        r->final_loss = final.loss;
        st = measure(w, s, t, val, n_val, r);
    }
    dt_trainer_destroy(t);
    free(val);
    return st;
}

static void run_job(const dt_sweep *w, dt_comm *comm, int c, int fold, const char *cmdline,
                    dt_sweep_job *r)
{
    dt_ovlist ov = {0};
    job_overrides(w, c, fold, &ov, 1);
    memset(r, 0, sizeof *r);
    r->config = c;
    r->fold = fold;
    r->batch = w->plans[c].batch;
    r->accumulation = w->plans[c].accumulation;
    dt_sweep_job_name(w, c, w->folds ? fold : -1, r->name, sizeof r->name);

    dt_session *s = NULL;
    dt_status st = dt_session_create(w->o->config, ov.v, ov.n, comm, DT_NEED_DATA, &s);
    dt_ovlist_free(&ov);
    if (st == DT_OK) {
        s->command_line = cmdline;
        st = train_job(w, s, w->folds ? fold : -1, r);
    }
    r->status = (int)st;
    if (st != DT_OK) snprintf(r->error, sizeof r->error, "%s", dt_error_message());
    dt_session_destroy(s);
    r->filled = dt_comm_rank(comm) == 0;
    if (r->filled && r->run_dir[0]) read_history(w, r);
}

/* ---- the whole sweep ---- */

static dt_status parse(dt_sweep *w, const dt_sweep_opts *o)
{
    w->o = o;
    w->fixed = dt_calloc((size_t)o->n_overrides + 1, sizeof *w->fixed);
    for (int i = 0; i < o->n_overrides; i++) DT_TRY(add_override(w, o->overrides[i]));
    w->n_configs = 1;
    for (int k = 0; k < w->n_axes; k++) {
        if (w->n_configs * w->axes[k].n > MAX_JOBS)
            return dt_error_set(DT_ERR_ARG, "the grid has more than %d configurations",
                                MAX_JOBS);
        w->n_configs *= w->axes[k].n;
    }
    w->n_jobs = w->n_configs * (w->folds ? w->folds : 1);
    if (w->n_jobs > MAX_JOBS)
        return dt_error_set(DT_ERR_ARG, "%d jobs: at most %d", w->n_jobs, MAX_JOBS);
    if (o->retrain && !w->folds)
        return dt_error_set(DT_ERR_ARG, "--retrain needs cv.folds=k");
    return DT_OK;
}

static void free_sweep(dt_sweep *w)
{
    for (int k = 0; k < w->n_axes; k++)
        for (int i = 0; i < w->axes[k].n; i++) free(w->axes[k].values[i]);
    free(w->fixed);
    free(w->plans);
}

/* Each group works through its jobs; then one gather over the world. */
static dt_status run_groups(dt_sweep *w, dt_comm *world, dt_sweep_job *all)
{
    dt_comm *group = NULL;
    DT_TRY(dt_group_split(world, &w->gp, &group));
    dt_sweep_job *mine = dt_calloc((size_t)w->n_jobs, sizeof *mine);
    const int F = w->folds ? w->folds : 1;
    for (int j = 0; j < w->n_jobs; j++) {
        if (dt_group_of_job(&w->gp, j) != w->gp.group) continue;
        run_job(w, group, j / F, w->folds ? j % F : 0, w->o->command_line, &mine[j]);
        if (!mine[j].filled) continue;
        if (mine[j].status == DT_OK)
            printf("[group %d] %s: test accuracy %.2f%% (loss %.4f), %lld steps, %.1f s\n",
                   w->gp.group, mine[j].name, 100 * mine[j].final_acc, mine[j].final_loss,
                   (long long)mine[j].steps, mine[j].wall_s);
        else
            printf("[group %d] %s: FAILED: %s\n", w->gp.group, mine[j].name, mine[j].error);
        fflush(stdout);
    }
    dt_comm_destroy(group, 0);
    dt_log_init(dt_comm_rank(world), dt_comm_size(world), DT_LOG_INFO);

    /* one gather: every rank's records; job j's comes from its group leader */
    const int64_t bytes = (int64_t)w->n_jobs * (int64_t)sizeof *mine;
    char *gathered = dt_calloc((size_t)w->gp.world, (size_t)bytes);
    const dt_status st = dt_comm_allgather(world, mine, gathered, bytes);
    for (int j = 0; st == DT_OK && j < w->n_jobs; j++) {
        const int leader = dt_group_leader(&w->gp, dt_group_of_job(&w->gp, j));
        memcpy(&all[j], gathered + leader * bytes + (int64_t)j * (int64_t)sizeof *mine,
               sizeof *mine);
    }
    free(gathered);
    free(mine);
    return st;
}

static dt_status retrain_best(dt_sweep *w, dt_comm *world, int best)
{
    dt_sweep_job r;
    const int folds = w->folds;
    w->folds = 0; /* the full training set */
    dt_ovlist ov = {0};
    job_overrides(w, best, DT_SWEEP_RETRAIN, &ov, 1);
    memset(&r, 0, sizeof r);
    dt_sweep_job_name(w, best, -1, r.name, sizeof r.name);
    dt_session *s = NULL;
    dt_status st = dt_session_create(w->o->config, ov.v, ov.n, world, DT_NEED_DATA, &s);
    dt_ovlist_free(&ov);
    if (st == DT_OK) {
        s->command_line = w->o->command_line;
        st = train_job(w, s, -1, &r);
    }
    dt_session_destroy(s);
    dt_log_init(dt_comm_rank(world), dt_comm_size(world), DT_LOG_INFO);
    w->folds = folds;
    DT_TRY(st);
    if (dt_comm_rank(world) == 0) {
        FILE *md = NULL;
        char path[1200];
        snprintf(path, sizeof path, "%s/summary.md", w->dir);
        md = fopen(path, "a");
        if (md) {
            fprintf(md, "\nBest configuration %s retrained on the full training set on all "
                        "%d ranks: test accuracy %.2f%% (loss %.4f), run directory %s\n",
                    r.name, dt_comm_size(world), 100 * r.final_acc, r.final_loss, r.run_dir);
            fclose(md);
        }
        printf("retrained %s on the full training set: test accuracy %.2f%%\n", r.name,
               100 * r.final_acc);
    }
    return DT_OK;
}

static dt_status sweep_main(dt_sweep *w, dt_comm *world, int *failed)
{
    const dt_sweep_opts *o = w->o;
    DT_TRY(dt_group_plan_make(dt_comm_size(world), dt_comm_rank(world), o->groups, w->n_jobs,
                              &w->gp));
    char root[1024];
    DT_TRY(run_root(o, root, sizeof root));
    DT_TRY(dt_sweep_make_dir(world, o->out_dir, root, "sweep", o->config, w->dir,
                             sizeof w->dir));
    DT_TRY(dt_comm_agree(world, plan_configs(w)));
    DT_TRY(check_keys(w, world));
    dt_log_init(dt_comm_rank(world), dt_comm_size(world), DT_LOG_INFO);
    if (dt_comm_rank(world) == 0) {
        dt_sweep_write_plan(w);
        printf("sweep: %d job(s) on %d group(s) of %d rank(s) into %s\n", w->n_jobs,
               w->gp.n_groups, w->gp.group_size, w->dir);
        fflush(stdout);
    }

    dt_sweep_job *all = dt_calloc((size_t)w->n_jobs, sizeof *all);
    dt_status st = run_groups(w, world, all);
    int best = -1;
    *failed = 0;
    for (int j = 0; j < w->n_jobs; j++) *failed += all[j].status != DT_OK;
    if (st == DT_OK && dt_comm_rank(world) == 0) st = dt_sweep_write_summary(w, all, &best);
    st = dt_comm_agree(world, st);
    if (st == DT_OK) st = dt_comm_bcast(world, &best, sizeof best, 0);
    free(all);
    if (st == DT_OK && o->retrain && best >= 0) st = retrain_best(w, world, best);
    return st;
}

dt_status dt_sweep_run(dt_comm *world, const dt_sweep_opts *o, char **dir, int *failed)
{
    dt_sweep w = {0};
    *dir = NULL;
    *failed = 0;
    dt_status st = parse(&w, o);
    st = dt_comm_agree(world, st);
    if (st == DT_OK) st = sweep_main(&w, world, failed);
    if (w.dir[0]) *dir = dt_strdup(w.dir);
    free_sweep(&w);
    return st;
}
