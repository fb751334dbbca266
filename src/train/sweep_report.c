/* Sweep summaries: CSV, Markdown, cross-validation statistics, the plan. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/sweep_internal.h"

/* Value index of axis `k` in configuration `c` (the last axis varies fastest). */
int dt_sweep_value_of(const dt_sweep *w, int c, int k)
{
    for (int j = w->n_axes - 1; j > k; j--) c /= w->axes[j].n;
    return c % w->axes[k].n;
}

void dt_sweep_job_name(const dt_sweep *w, int c, int fold, char *out, size_t cap)
{
    int len = snprintf(out, cap, "c%02d", c);
    for (int k = 0; k < w->n_axes && len < (int)cap; k++) {
        const char *key = strrchr(w->axes[k].key, '.');
        key = key ? key + 1 : w->axes[k].key;
        len += snprintf(out + len, cap - (size_t)len, "_%s-%s", key,
                        w->axes[k].values[dt_sweep_value_of(w, c, k)]);
    }
    if (fold >= 0 && len < (int)cap) snprintf(out + len, cap - (size_t)len, "_fold%d", fold);
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == ' ' || *p == '=' || *p == ',' || *p == ':') *p = '_';
}

/* ---- summaries (world rank 0) ---- */

static const char *num(double v, char *buf, const char *fmt)
{
    if (!isfinite(v)) return "";
    snprintf(buf, 32, fmt, v);
    return buf;
}

static void write_csv(const dt_sweep *w, const dt_sweep_job *res, FILE *f)
{
    fprintf(f, "name,status");
    for (int k = 0; k < w->n_axes; k++) fprintf(f, ",%s", w->axes[k].key);
    fprintf(f, ",fold,batch,accumulation,micro_batch,lr,warmup_steps,steps,final_test_acc,"
               "best_test_acc,final_test_loss,train_acc,train_loss,gap,val_acc,val_loss,"
               "steps_to_target,time_to_target_s,wall_s,sharpness,sharp_base_loss,"
               "sharp_max_loss,noise_scale,run_dir,error\n");
    for (int j = 0; j < w->n_jobs; j++) {
        const dt_sweep_job *r = &res[j];
        const int ok = r->status == DT_OK;
        char b[12][32];
        fprintf(f, "%s,%s", r->name, ok ? "ok" : "failed");
        for (int k = 0; k < w->n_axes; k++)
            fprintf(f, ",%s", w->axes[k].values[dt_sweep_value_of(w, r->config, k)]);
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

static void write_md_jobs(const dt_sweep *w, const dt_sweep_job *res, FILE *f)
{
    fprintf(f, "| job | status | batch | accum. | lr | steps | test acc. | best | train acc. "
               "| gap | to target (steps / s) | sharpness | noise scale | wall s |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int j = 0; j < w->n_jobs; j++) {
        const dt_sweep_job *r = &res[j];
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
static int cv_stats(const dt_sweep *w, const dt_sweep_job *res, int c, double *m_acc,
                    double *s_acc,
                    double *m_loss, double *s_loss)
{
    double sa = 0, sa2 = 0, sl = 0, sl2 = 0;
    int k = 0;
    for (int f = 0; f < w->folds; f++) {
        const dt_sweep_job *r = &res[c * w->folds + f];
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

static int write_cv(const dt_sweep *w, const dt_sweep_job *res, FILE *csv, FILE *md)
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
        dt_sweep_job_name(w, c, -1, name, sizeof name);
        fprintf(csv, "%s", name);
        for (int a = 0; a < w->n_axes; a++)
            fprintf(csv, ",%s", w->axes[a].values[dt_sweep_value_of(w, c, a)]);
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

dt_status dt_sweep_write_summary(const dt_sweep *w, const dt_sweep_job *res, int *best)
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

void dt_sweep_write_plan(const dt_sweep *w)
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

