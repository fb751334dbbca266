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
#include "train/trainer.h"

#define MAX_AXES 8
#define MAX_VALUES 64
#define MAX_JOBS 4096

void dt_sweep_opts_init(dt_sweep_opts *o)
{
    *o = (dt_sweep_opts){.warmup = -1, .sharpness = 1, .train_eval_samples = 10000,
                         .sharp = {.eps = 1e-3, .absolute = 0, .steps = 5, .samples = 2048}};
}

/* ---- the grid ---- */

typedef struct axis {
    char key[200];
    char *values[MAX_VALUES];
    int n;
} axis;

/* What one configuration trains with, worked out before anything runs. */
typedef struct config_plan {
    int64_t batch, accumulation;
    double lr;
    int scaled;           /* lr was set by the scaling rule */
    char warmup_ov[300];  /* the warm-up override, or "" */
} config_plan;

typedef struct sweep {
    const dt_sweep_opts *o;
    axis axes[MAX_AXES];
    int n_axes;
    char **fixed; /* single-valued overrides */
    int n_fixed;
    int folds; /* 0: no cross-validation */
    int n_configs, n_jobs;
    config_plan *plans;
    dt_group_plan gp;
    char dir[1024];
} sweep;

/* The fixed-size record of one job, gathered over the world at the end. */
typedef struct job_result {
    int filled, status;
    int config, fold;
    char name[120];
    char error[600];
    char run_dir[1100];
    double lr;
    int64_t batch, accumulation, micro, warmup, steps, params;
    double final_acc, best_acc, final_loss, train_acc, train_loss, val_acc, val_loss;
    double wall_s, target_steps, target_time;
    double sharpness, sharp_base, sharp_max, noise_scale;
} job_result;

/* Values are split at commas unless the value is a YAML flow collection. */
static dt_status add_override(sweep *w, char *ov)
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
    axis *a = &w->axes[w->n_axes++];
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

/* Value index of axis `k` in configuration `c` (the last axis varies fastest). */
static int value_of(const sweep *w, int c, int k)
{
    for (int j = w->n_axes - 1; j > k; j--) c /= w->axes[j].n;
    return c % w->axes[k].n;
}

static void job_name(const sweep *w, int c, int fold, char *out, size_t cap)
{
    int len = snprintf(out, cap, "c%02d", c);
    for (int k = 0; k < w->n_axes && len < (int)cap; k++) {
        const char *key = strrchr(w->axes[k].key, '.');
        key = key ? key + 1 : w->axes[k].key;
        len += snprintf(out + len, cap - (size_t)len, "_%s-%s", key,
                        w->axes[k].values[value_of(w, c, k)]);
    }
    if (fold >= 0 && len < (int)cap) snprintf(out + len, cap - (size_t)len, "_fold%d", fold);
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == ' ' || *p == '=' || *p == ',' || *p == ':') *p = '_';
}

/* ---- planning a configuration: batch, accumulation, learning rate ---- */

static dt_status read_plan(sweep *w, dt_cfg *root, int c, config_plan *p)
{
    const dt_sweep_opts *o = w->o;
    dt_cfg *train = dt_cfg_get(root, "train"), *optim = dt_cfg_get(root, "optim");
    const char *kind;
    int64_t micro;
    DT_TRY(dt_cfg_int_req(train, "batch_size", 1, 1 << 30, &p->batch));
    DT_TRY(dt_cfg_int(train, "accumulation", 1, 1, 1 << 20, &p->accumulation));
    DT_TRY(dt_cfg_int(train, "micro_batch", 0, 0, 1 << 30, &micro));
    if (o->scale_lr_ref) { /* a bad value otherwise fails its own job, not the sweep */
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
 * planned settings, and the run directory. Strings are malloc'd. */
static int job_overrides(const sweep *w, int c, int fold, char **ov, int planned)
{
    const config_plan *p = &w->plans[c];
    char name[120], buf[1400];
    int n = 0;
    ov[n++] = dt_strdup("runtime.log_level=warn");
    for (int i = 0; i < w->n_fixed; i++) ov[n++] = dt_strdup(w->fixed[i]);
    for (int k = 0; k < w->n_axes; k++) {
        snprintf(buf, sizeof buf, "%s=%s", w->axes[k].key, w->axes[k].values[value_of(w, c, k)]);
        ov[n++] = dt_strdup(buf);
    }
    if (!planned) return n;
    snprintf(buf, sizeof buf, "train.accumulation=%lld", (long long)p->accumulation);
    ov[n++] = dt_strdup(buf);
    if (p->scaled) {
        snprintf(buf, sizeof buf, "optim.lr=%.9g", p->lr);
        ov[n++] = dt_strdup(buf);
    }
    if (p->warmup_ov[0]) ov[n++] = dt_strdup(p->warmup_ov);
    job_name(w, c, w->folds ? fold : -1, name, sizeof name);
    snprintf(buf, sizeof buf, "train.run_dir=%s", w->dir);
    ov[n++] = dt_strdup(buf);
    snprintf(buf, sizeof buf, "train.name=%s", name);
    ov[n++] = dt_strdup(buf);
    return n;
}

static void free_overrides(char **ov, int n)
{
    for (int i = 0; i < n; i++) free(ov[i]);
}

static dt_status plan_configs(sweep *w)
{
    w->plans = dt_calloc((size_t)w->n_configs, sizeof *w->plans);
    for (int c = 0; c < w->n_configs; c++) {
        dt_cfg *root;
        DT_TRY(dt_cfg_load_file(w->o->config, &root));
        char *ov[MAX_AXES + 300];
        const int n = job_overrides(w, c, 0, ov, 0);
        dt_status st = DT_OK;
        for (int i = 0; st == DT_OK && i < n; i++) st = dt_cfg_override(root, ov[i]);
        if (st == DT_OK) st = read_plan(w, root, c, &w->plans[c]);
        free_overrides(ov, n);
        dt_cfg_free(root);
        DT_TRY(st);
    }
    return DT_OK;
}

/* An unknown key fails the whole sweep before anything trains: build the
 * first job's session (shapes and data only) on the world. */
static dt_status check_keys(sweep *w, dt_comm *world)
{
    char *ov[MAX_AXES + 300];
    const int n = job_overrides(w, 0, 0, ov, 1);
    dt_session *s = NULL;
    const dt_status st = dt_session_create(w->o->config, ov, n, world, 0, &s);
    free_overrides(ov, n);
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
static void read_history(const sweep *w, job_result *r)
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
static void set_fold(const sweep *w, dt_session *s, int fold, int64_t **val, int64_t *n_val)
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
static dt_status measure(const sweep *w, dt_session *s, dt_trainer *t, const int64_t *val,
                         int64_t n_val, job_result *r)
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

static dt_status train_job(const sweep *w, dt_session *s, int fold, job_result *r)
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

static void run_job(const sweep *w, dt_comm *comm, int c, int fold, const char *cmdline,
                    job_result *r)
{
    char *ov[MAX_AXES + 300];
    const int n = job_overrides(w, c, fold, ov, 1);
    memset(r, 0, sizeof *r);
    r->config = c;
    r->fold = fold;
    r->batch = w->plans[c].batch;
    r->accumulation = w->plans[c].accumulation;
    job_name(w, c, w->folds ? fold : -1, r->name, sizeof r->name);

    dt_session *s = NULL;
    dt_status st = dt_session_create(w->o->config, ov, n, comm, DT_NEED_DATA, &s);
    free_overrides(ov, n);
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

/* ---- summaries (world rank 0) ---- */

static const char *num(double v, char *buf, const char *fmt)
{
    if (!isfinite(v)) return "";
    snprintf(buf, 32, fmt, v);
    return buf;
}

static void write_csv(const sweep *w, const job_result *res, FILE *f)
{
    fprintf(f, "name,status");
    for (int k = 0; k < w->n_axes; k++) fprintf(f, ",%s", w->axes[k].key);
    fprintf(f, ",fold,batch,accumulation,micro_batch,lr,warmup_steps,steps,final_test_acc,"
               "best_test_acc,final_test_loss,train_acc,train_loss,gap,val_acc,val_loss,"
               "steps_to_target,time_to_target_s,wall_s,sharpness,sharp_base_loss,"
               "sharp_max_loss,noise_scale,run_dir,error\n");
    for (int j = 0; j < w->n_jobs; j++) {
        const job_result *r = &res[j];
        const int ok = r->status == DT_OK;
        char b[12][32];
        fprintf(f, "%s,%s", r->name, ok ? "ok" : "failed");
        for (int k = 0; k < w->n_axes; k++)
            fprintf(f, ",%s", w->axes[k].values[value_of(w, r->config, k)]);
        fprintf(f, ",%d,%lld,%lld,%lld,%.6g,%lld,%lld", r->fold, (long long)r->batch,
                (long long)r->accumulation, (long long)r->micro, r->lr, (long long)r->warmup,
                (long long)r->steps);
        if (ok)
            fprintf(f, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%s,%s,%s,%s,%.2f,%s,%s,%s,%s",
                    r->final_acc, r->best_acc, r->final_loss, r->train_acc, r->train_loss,
                    r->train_acc - r->final_acc, w->folds ? num(r->val_acc, b[0], "%.6f") : "",
                    w->folds ? num(r->val_loss, b[1], "%.6f") : "",
                    r->target_steps >= 0 ? num(r->target_steps, b[2], "%.0f") : "",
                    r->target_time >= 0 ? num(r->target_time, b[3], "%.2f") : "", r->wall_s,
                    num(r->sharpness, b[4], "%.6g"), num(r->sharp_base, b[5], "%.6g"),
                    num(r->sharp_max, b[6], "%.6g"), num(r->noise_scale, b[7], "%.6g"));
        else
            fprintf(f, ",,,,,,,,,,,%.2f,,,,", r->wall_s);
        /* the message may hold commas and quotes: quote it CSV-style */
        fprintf(f, ",%s,\"", r->run_dir);
        for (const char *p = r->error; *p; p++) {
            if (*p == '"') fputc('"', f);
            fputc(*p == '\n' ? ' ' : *p, f);
        }
        fprintf(f, "\"\n");
    }
}

static void write_md_jobs(const sweep *w, const job_result *res, FILE *f)
{
    fprintf(f, "| job | status | batch | accum. | lr | steps | test acc. | best | train acc. "
               "| gap | to target (steps / s) | sharpness | noise scale | wall s |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int j = 0; j < w->n_jobs; j++) {
        const job_result *r = &res[j];
        char b[4][32];
        if (r->status != DT_OK) {
            fprintf(f, "| %s | **failed** | %lld | %lld | | | | | | | | | | %.1f |\n", r->name,
                    (long long)r->batch, (long long)r->accumulation, r->wall_s);
            continue;
        }
        char target[64] = "not reached";
        if (w->o->target <= 0) snprintf(target, sizeof target, "-");
        else if (r->target_steps >= 0)
            snprintf(target, sizeof target, "%.0f / %.1f", r->target_steps, r->target_time);
        fprintf(f, "| %s | ok | %lld | %lld | %.4g | %lld | %.2f%% | %.2f%% | %.2f%% | %.2f | "
                   "%s | %s | %s | %.1f |\n", r->name, (long long)r->batch,
                (long long)r->accumulation, r->lr, (long long)r->steps, 100 * r->final_acc,
                100 * r->best_acc, 100 * r->train_acc, 100 * (r->train_acc - r->final_acc),
                target, num(r->sharpness, b[0], "%.3g"), num(r->noise_scale, b[1], "%.0f"),
                r->wall_s);
    }
    int failed = 0;
    for (int j = 0; j < w->n_jobs; j++) failed += res[j].status != DT_OK;
    if (!failed) return;
    fprintf(f, "\nFailed jobs:\n\n");
    for (int j = 0; j < w->n_jobs; j++)
        if (res[j].status != DT_OK) fprintf(f, "- %s: %s\n", res[j].name, res[j].error);
}

/* Mean and sample standard deviation of validation accuracy and loss over
 * a configuration's successful folds. Returns the folds counted. */
static int cv_stats(const sweep *w, const job_result *res, int c, double *m_acc, double *s_acc,
                    double *m_loss, double *s_loss)
{
    double sa = 0, sa2 = 0, sl = 0, sl2 = 0;
    int k = 0;
    for (int f = 0; f < w->folds; f++) {
        const job_result *r = &res[c * w->folds + f];
        if (r->status != DT_OK) continue;
        sa += r->val_acc;
        sa2 += r->val_acc * r->val_acc;
        sl += r->val_loss;
        sl2 += r->val_loss * r->val_loss;
        k++;
    }
    *m_acc = k ? sa / k : NAN;
    *m_loss = k ? sl / k : NAN;
    *s_acc = k > 1 ? sqrt(fmax(0.0, (sa2 - k * *m_acc * *m_acc) / (k - 1))) : NAN;
    *s_loss = k > 1 ? sqrt(fmax(0.0, (sl2 - k * *m_loss * *m_loss) / (k - 1))) : NAN;
    return k;
}

static int write_cv(const sweep *w, const job_result *res, FILE *csv, FILE *md)
{
    int best = -1;
    double best_acc = -1;
    fprintf(csv, "config");
    for (int k = 0; k < w->n_axes; k++) fprintf(csv, ",%s", w->axes[k].key);
    fprintf(csv, ",folds_ok,val_acc_mean,val_acc_std,val_loss_mean,val_loss_std\n");
    fprintf(md, "\n## Cross-validation (%d folds): validation accuracy per configuration\n\n"
                "| config | folds ok | val. acc. mean | std | val. loss mean | std |\n"
                "|---|---|---|---|---|---|\n", w->folds);
    for (int c = 0; c < w->n_configs; c++) {
        double ma, sa, ml, sl;
        char b[4][32], name[120];
        const int k = cv_stats(w, res, c, &ma, &sa, &ml, &sl);
        job_name(w, c, -1, name, sizeof name);
        fprintf(csv, "%s", name);
        for (int a = 0; a < w->n_axes; a++)
            fprintf(csv, ",%s", w->axes[a].values[value_of(w, c, a)]);
        fprintf(csv, ",%d,%s,%s,%s,%s\n", k, num(ma, b[0], "%.6f"), num(sa, b[1], "%.6f"),
                num(ml, b[2], "%.6f"), num(sl, b[3], "%.6f"));
        fprintf(md, "| %s | %d/%d | %s%% | %s%% | %s | %s |\n", name, k, w->folds,
                num(100 * ma, b[0], "%.2f"), num(100 * sa, b[1], "%.2f"), num(ml, b[2], "%.4f"),
                num(sl, b[3], "%.4f"));
        if (k && ma > best_acc) {
            best_acc = ma;
            best = c;
        }
    }
    return best;
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) dt_error_set(DT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static dt_status write_summary(const sweep *w, const job_result *res, int *best)
{
    FILE *csv = open_in(w->dir, "summary.csv"), *md = csv ? open_in(w->dir, "summary.md") : NULL;
    if (!md) {
        if (csv) fclose(csv);
        return DT_ERR_IO;
    }
    write_csv(w, res, csv);
    fprintf(md, "# Sweep of %s\n\n%d configuration(s) x %d fold(s) on %d group(s) of %d "
                "rank(s); test accuracy is on the test split, train accuracy on up to %lld "
                "fixed training samples (evaluation mode), gap = train - test; noise scale: the "
                "final B_simple, the predicted critical batch size.\n\n", w->o->config,
            w->n_configs, w->folds ? w->folds : 1, w->gp.n_groups, w->gp.group_size,
            (long long)w->o->train_eval_samples);
    write_md_jobs(w, res, md);
    *best = -1;
    if (w->folds) {
        FILE *cv = open_in(w->dir, "cv.csv");
        if (cv) {
            *best = write_cv(w, res, cv, md);
            fclose(cv);
        }
    }
    fclose(csv);
    fclose(md);
    return DT_OK;
}

static void write_plan_json(const sweep *w)
{
    cJSON *j = cJSON_CreateObject(), *axes = cJSON_AddArrayToObject(j, "axes");
    cJSON_AddStringToObject(j, "format", "dtrain-sweep");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "config", w->o->config);
    cJSON_AddStringToObject(j, "command", w->o->command_line ? w->o->command_line : "");
    for (int k = 0; k < w->n_axes; k++) {
        cJSON *a = cJSON_CreateObject(), *v = cJSON_AddArrayToObject(a, "values");
        cJSON_AddStringToObject(a, "key", w->axes[k].key);
        for (int i = 0; i < w->axes[k].n; i++)
            cJSON_AddItemToArray(v, cJSON_CreateString(w->axes[k].values[i]));
        cJSON_AddItemToArray(axes, a);
    }
    cJSON *fx = cJSON_AddArrayToObject(j, "fixed");
    for (int i = 0; i < w->n_fixed; i++) cJSON_AddItemToArray(fx, cJSON_CreateString(w->fixed[i]));
    cJSON_AddNumberToObject(j, "folds", w->folds);
    cJSON_AddNumberToObject(j, "groups", w->gp.n_groups);
    cJSON_AddNumberToObject(j, "group_size", w->gp.group_size);
    cJSON_AddNumberToObject(j, "scale_lr_reference_batch", (double)w->o->scale_lr_ref);
    cJSON_AddNumberToObject(j, "warmup_steps", (double)w->o->warmup);
    cJSON_AddNumberToObject(j, "target_accuracy", w->o->target);
    cJSON_AddStringToObject(j, "queue", "static round robin: job j on group j mod groups");
    char *text = cJSON_Print(j);
    FILE *f = open_in(w->dir, "sweep.json");
    if (f) {
        fprintf(f, "%s\n", text);
        fclose(f);
    }
    free(text);
    cJSON_Delete(j);
}

/* ---- the whole sweep ---- */

static dt_status parse(sweep *w, const dt_sweep_opts *o)
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

static void free_sweep(sweep *w)
{
    for (int k = 0; k < w->n_axes; k++)
        for (int i = 0; i < w->axes[k].n; i++) free(w->axes[k].values[i]);
    free(w->fixed);
    free(w->plans);
}

/* Each group works through its jobs; then one gather over the world. */
static dt_status run_groups(sweep *w, dt_comm *world, job_result *all)
{
    dt_comm *group = NULL;
    DT_TRY(dt_group_split(world, &w->gp, &group));
    job_result *mine = dt_calloc((size_t)w->n_jobs, sizeof *mine);
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

static dt_status retrain_best(sweep *w, dt_comm *world, int best)
{
    job_result r;
    const int folds = w->folds;
    w->folds = 0; /* the full training set */
    char *ov[MAX_AXES + 300];
    const int n = job_overrides(w, best, -1, ov, 1);
    char name[160];
    job_name(w, best, -1, name, sizeof name);
    free(ov[n - 1]);
    snprintf(name + strlen(name), sizeof name - strlen(name), "_retrain");
    char buf[200];
    snprintf(buf, sizeof buf, "train.name=%s", name);
    ov[n - 1] = dt_strdup(buf);
    memset(&r, 0, sizeof r);
    dt_session *s = NULL;
    dt_status st = dt_session_create(w->o->config, ov, n, world, DT_NEED_DATA, &s);
    free_overrides(ov, n);
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
                    name, dt_comm_size(world), 100 * r.final_acc, r.final_loss, r.run_dir);
            fclose(md);
        }
        printf("retrained %s on the full training set: test accuracy %.2f%%\n", name,
               100 * r.final_acc);
    }
    return DT_OK;
}

static dt_status sweep_main(sweep *w, dt_comm *world, int *failed)
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
        write_plan_json(w);
        printf("sweep: %d job(s) on %d group(s) of %d rank(s) into %s\n", w->n_jobs,
               w->gp.n_groups, w->gp.group_size, w->dir);
        fflush(stdout);
    }

    job_result *all = dt_calloc((size_t)w->n_jobs, sizeof *all);
    dt_status st = run_groups(w, world, all);
    int best = -1;
    *failed = 0;
    for (int j = 0; j < w->n_jobs; j++) *failed += all[j].status != DT_OK;
    if (st == DT_OK && dt_comm_rank(world) == 0) st = write_summary(w, all, &best);
    st = dt_comm_agree(world, st);
    if (st == DT_OK) st = dt_comm_bcast(world, &best, sizeof best, 0);
    free(all);
    if (st == DT_OK && o->retrain && best >= 0) st = retrain_best(w, world, best);
    return st;
}

dt_status dt_sweep_run(dt_comm *world, const dt_sweep_opts *o, char **dir, int *failed)
{
    sweep w = {0};
    *dir = NULL;
    *failed = 0;
    dt_status st = parse(&w, o);
    st = dt_comm_agree(world, st);
    if (st == DT_OK) st = sweep_main(&w, world, failed);
    if (w.dir[0]) *dir = dt_strdup(w.dir);
    free_sweep(&w);
    return st;
}
