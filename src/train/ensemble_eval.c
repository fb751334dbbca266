/* Evaluating an ensemble directory: members loaded one at a time, each
 * rank scoring its slice of the test split, sums all-reduced. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/sampler.h"
#include "train/checkpoint.h"
#include "train/ensemble.h"
#include "train/evalset.h"

typedef struct member_ref {
    char name[64];
    char ckpt[1200];
    char error[600];
    int index, ok;
} member_ref;

typedef struct manifest {
    int bootstrap, n;
    uint64_t seed;
    member_ref *m;
} manifest;

/* Rank 0 reads DIR/ensemble.json and broadcasts the text. */
static dt_status read_text(dt_comm *c, const char *path, char **text)
{
    int64_t len = -1;
    char *buf = NULL;
    if (dt_comm_rank(c) == 0) {
        FILE *f = fopen(path, "rb");
        if (f && fseek(f, 0, SEEK_END) == 0) {
            len = ftell(f);
            rewind(f);
            buf = dt_calloc((size_t)len + 1, 1);
            if (fread(buf, 1, (size_t)len, f) != (size_t)len) len = -1;
        }
        if (f) fclose(f);
    }
    DT_TRY(dt_comm_bcast(c, &len, sizeof len, 0));
    if (len < 0) {
        free(buf);
        return dt_error_set(DT_ERR_IO, "cannot read %s (an ensemble directory holds "
                            "ensemble.json)", path);
    }
    if (!buf) buf = dt_calloc((size_t)len + 1, 1);
    DT_TRY(dt_comm_bcast(c, buf, len, 0));
    *text = buf;
    return DT_OK;
}

static dt_status parse_manifest(const char *dir, const char *path, const char *text,
                                manifest *mf)
{
    cJSON *j = cJSON_Parse(text);
    const cJSON *fmt = cJSON_GetObjectItem(j, "format"), *ms = cJSON_GetObjectItem(j, "members");
    const cJSON *mode = cJSON_GetObjectItem(j, "mode");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "dtrain-ensemble") != 0 ||
        !cJSON_IsArray(ms) || !cJSON_IsString(mode)) {
        cJSON_Delete(j);
        return dt_error_set(DT_ERR_DATA, "%s: not a dtrain-ensemble manifest (format, mode "
                            "and members expected)", path);
    }
    mf->bootstrap = strcmp(mode->valuestring, "bootstrap") == 0;
    mf->seed = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seed"));
    mf->n = cJSON_GetArraySize(ms);
    mf->m = dt_calloc((size_t)(mf->n ? mf->n : 1), sizeof *mf->m);
    for (int i = 0; i < mf->n; i++) {
        const cJSON *x = cJSON_GetArrayItem(ms, i);
        const cJSON *st = cJSON_GetObjectItem(x, "status"), *nm = cJSON_GetObjectItem(x, "name");
        const cJSON *ck = cJSON_GetObjectItem(x, "checkpoint");
        const cJSON *err = cJSON_GetObjectItem(x, "error");
        member_ref *r = &mf->m[i];
        r->index = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(x, "index"));
        r->ok = cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0 && cJSON_IsString(ck);
        snprintf(r->name, sizeof r->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "?");
        if (r->ok) snprintf(r->ckpt, sizeof r->ckpt, "%s/%s", dir, ck->valuestring);
        snprintf(r->error, sizeof r->error, "%s", cJSON_IsString(err) ? err->valuestring : "");
    }
    cJSON_Delete(j);
    return DT_OK;
}

/* Rank 0 reads the member's checkpoint; the parameters are broadcast. */
static dt_status load_member(dt_session *s, const member_ref *r)
{
    dt_ckpt_meta meta;
    dt_status st = DT_OK;
    if (dt_comm_rank(s->comm) == 0) st = dt_checkpoint_load(r->ckpt, s->model, NULL, &meta);
    if (st == DT_OK && dt_comm_rank(s->comm) == 0)
        st = dt_checkpoint_check_tokenizer(r->ckpt, &meta, &s->info, s->data_path,
                                           "evaluating");
    DT_TRY(dt_comm_agree(s->comm, st));
    return dt_comm_bcast(s->comm, s->model->params, s->model->n_params * 4, 0);
}

/* ---- forward callbacks ---- */

typedef struct collect {
    float *out, *y;
    int64_t out_dim, y_dim;
} collect;

static void keep_rows(void *ctx, const float *out, const float *y, const int64_t *idx,
                      int64_t rows, int64_t first)
{
    collect *c = ctx;
    memcpy(c->out + first * c->out_dim, out, (size_t)(rows * c->out_dim) * sizeof(float));
    memcpy(c->y + first * c->y_dim, y, (size_t)(rows * c->y_dim) * sizeof(float));
}

typedef struct oob {
    int64_t lo, n, classes;
    double *sum; /* n x classes */
    int32_t *count, *label;
} oob;

static void add_oob(void *ctx, const float *out, const float *y, const int64_t *idx,
                    int64_t rows, int64_t first)
{
    oob *o = ctx;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = idx[r] - o->lo;
        double p[1024];
        dt_ens_softmax(out + r * o->classes, o->classes, p);
        for (int64_t c = 0; c < o->classes; c++) o->sum[i * o->classes + c] += p[c];
        o->count[i]++;
        o->label[i] = (int32_t)y[r];
    }
}

/* This member's out-of-bag samples within this rank's range of the
 * training split, forwarded into the sums. */
static dt_status member_oob(dt_session *s, const manifest *mf, const member_ref *r, oob *o)
{
    const int64_t n = dt_dataset_get_info(s->train)->count;
    int64_t *boot = dt_calloc((size_t)n, sizeof *boot), *out = dt_calloc((size_t)n, sizeof *out);
    dt_sampler_bootstrap(mf->seed, r->index, n, boot);
    const int64_t k = dt_sampler_out_of_bag(boot, n, n, out);
    int64_t a = 0, b = 0;
    while (a < k && out[a] < o->lo) a++;
    for (b = a; b < k && out[b] < o->lo + o->n; b++) {}
    const dt_status st = dt_forward_indices(s, s->train, out + a, b - a, add_oob, o);
    free(boot);
    free(out);
    return dt_comm_agree(s->comm, st);
}

static dt_status oob_metrics(dt_session *s, const oob *o, dt_ens_metrics *m, double *coverage)
{
    double sums[DT_ENS_NSUMS] = {0}, p[1024];
    for (int64_t i = 0; i < o->n; i++) {
        if (!o->count[i]) continue;
        for (int64_t c = 0; c < o->classes; c++)
            p[c] = o->sum[i * o->classes + c] / o->count[i];
        dt_ens_prob_sums(p, o->classes, o->label[i], sums);
    }
    DT_TRY(dt_comm_allreduce_f64(s->comm, sums, DT_ENS_NSUMS));
    *m = dt_ens_finish(DT_LOSS_CROSS_ENTROPY, sums, 1);
    *coverage = (double)m->count / (double)dt_dataset_get_info(s->train)->count;
    return DT_OK;
}

/* ---- the report ---- */

typedef struct report {
    dt_loss_kind kind;
    int n;                    /* members evaluated */
    dt_ens_metrics *prefix;   /* ensemble of members 1..k */
    dt_ens_metrics *member;   /* member k alone */
    const char **names;
    int has_oob;
    dt_ens_metrics oob;
    double oob_coverage;
    const manifest *mf; /* for the failed members */
} report;

static void csv_row(FILE *f, const char *what, int k, const dt_ens_metrics *m)
{
    fprintf(f, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%lld\n", what, k, m->accuracy, m->nll,
            m->brier, m->ece, m->disagreement, m->rmse, m->spread, (long long)m->count);
}

static dt_ens_metrics average_member(const report *r)
{
    dt_ens_metrics a = {0};
    for (int k = 0; k < r->n; k++) {
        a.accuracy += r->member[k].accuracy / r->n;
        a.nll += r->member[k].nll / r->n;
        a.brier += r->member[k].brier / r->n;
        a.ece += r->member[k].ece / r->n;
        a.rmse += r->member[k].rmse / r->n;
        a.count = r->member[k].count;
    }
    return a;
}

/* A table row; `alone` leaves out the disagreement (one member). */
static void md_row(FILE *f, const char *what, const dt_ens_metrics *m, int cls, int alone)
{
    if (cls && alone)
        fprintf(f, "| %s | %.2f%% | %.4f | %.4f | %.4f |\n", what, 100 * m->accuracy, m->nll,
                m->brier, m->ece);
    else if (cls)
        fprintf(f, "| %s | %.2f%% | %.4f | %.4f | %.4f | %.4f |\n", what, 100 * m->accuracy,
                m->nll, m->brier, m->ece, m->disagreement);
    else
        fprintf(f, "| %s | %.4f | %.4f | %.4f |\n", what, m->nll, m->rmse, m->spread);
}

static void write_report(const char *dir, const report *r, FILE *f, FILE *md)
{
    const int cls = r->kind == DT_LOSS_CROSS_ENTROPY;
    const dt_ens_metrics avg = average_member(r);
    char name[96];
    fprintf(f, "row,members,accuracy,nll,brier,ece,disagreement,rmse,spread,count\n");
    for (int k = 0; k < r->n; k++) csv_row(f, "ensemble", k + 1, &r->prefix[k]);
    for (int k = 0; k < r->n; k++) csv_row(f, r->names[k], 1, &r->member[k]);
    csv_row(f, "average_member", 1, &avg);
    if (r->has_oob) csv_row(f, "oob", r->n, &r->oob);

    fprintf(md, "# Ensemble %s\n\nTest split, %lld samples. %s\n\n", dir,
            (long long)avg.count, cls ? "Mean of class probabilities; ECE over 15 equal-width "
            "confidence bins; disagreement: fraction of (member pair, sample) with different "
            "arg-max." : "Mixture of the members' predictions; nll per target without the "
            "0.5 log 2 pi constant; spread: variance of the member means.");
    fprintf(md, cls ? "| members | accuracy | nll | brier | ece | disagreement |\n"
                      "|---|---|---|---|---|---|\n"
                    : "| members | nll | rmse | spread |\n|---|---|---|---|\n");
    for (int k = 0; k < r->n; k++) {
        snprintf(name, sizeof name, "1..%d", k + 1);
        md_row(md, name, &r->prefix[k], cls, 0);
    }
    fprintf(md, "\nMembers alone:\n\n");
    fprintf(md, cls ? "| member | accuracy | nll | brier | ece |\n|---|---|---|---|---|\n"
                    : "| member | nll | rmse | spread |\n|---|---|---|---|\n");
    for (int k = 0; k < r->n; k++) md_row(md, r->names[k], &r->member[k], cls, 1);
    md_row(md, "average member", &avg, cls, 1);
    const dt_ens_metrics *all = &r->prefix[r->n - 1];
    if (cls)
        fprintf(md, "\nEnsemble of %d vs average member: accuracy %.2f%% vs %.2f%%, nll %.4f vs "
                    "%.4f, brier %.4f vs %.4f, ece %.4f vs %.4f.\n", r->n, 100 * all->accuracy,
                100 * avg.accuracy, all->nll, avg.nll, all->brier, avg.brier, all->ece, avg.ece);
    for (int i = 0; i < r->mf->n; i++)
        if (!r->mf->m[i].ok)
            fprintf(md, "\nFailed member %s (left out): %s\n", r->mf->m[i].name,
                    r->mf->m[i].error);
    if (r->has_oob)
        fprintf(md, "\nOut-of-bag estimate (training samples predicted only by members that did "
                    "not see them; %.1f%% of the training set covered): accuracy %.2f%%, nll "
                    "%.4f.\n", 100 * r->oob_coverage, 100 * r->oob.accuracy, r->oob.nll);
}

static dt_status publish(const char *dir, const report *r)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/ensemble.csv", dir);
    FILE *f = fopen(path, "w");
    snprintf(path, sizeof path, "%s/ensemble.md", dir);
    FILE *md = f ? fopen(path, "w") : NULL;
    if (!md) {
        if (f) fclose(f);
        return dt_error_set(DT_ERR_IO, "cannot write %s", path);
    }
    write_report(dir, r, f, md);
    fclose(f);
    fclose(md);
    const dt_ens_metrics avg = average_member(r), *all = &r->prefix[r->n - 1];
    if (r->kind == DT_LOSS_CROSS_ENTROPY)
        printf("ensemble of %d: test accuracy %.2f%% nll %.4f brier %.4f ece %.4f disagreement "
               "%.4f; average member: accuracy %.2f%% nll %.4f\n", r->n, 100 * all->accuracy,
               all->nll, all->brier, all->ece, all->disagreement, 100 * avg.accuracy, avg.nll);
    else
        printf("ensemble of %d: test nll %.4f rmse %.4f; average member: nll %.4f rmse %.4f\n",
               r->n, all->nll, all->rmse, avg.nll, avg.rmse);
    if (r->has_oob)
        printf("out-of-bag: accuracy %.2f%% nll %.4f (%.1f%% of the training set)\n",
               100 * r->oob.accuracy, r->oob.nll, 100 * r->oob_coverage);
    printf("ensemble report: %s/ensemble.md, %s/ensemble.csv\n", dir, dir);
    return DT_OK;
}

/* ---- evaluation ---- */

typedef struct evaluation {
    dt_session *s;
    const manifest *mf;
    collect col;
    dt_ens_acc acc;
    oob o;
    report rep;
} evaluation;

static dt_status score_member(evaluation *ev, const member_ref *ref, int64_t lo, int64_t n)
{
    dt_session *s = ev->s;
    int64_t *idx = dt_calloc((size_t)(n ? n : 1), sizeof *idx);
    for (int64_t i = 0; i < n; i++) idx[i] = lo + i;
    dt_status st = dt_forward_indices(s, s->test, idx, n, keep_rows, &ev->col);
    free(idx);
    DT_TRY(dt_comm_agree(s->comm, st));

    const int k = ev->rep.n;
    double one[DT_ENS_NSUMS] = {0}, all[DT_ENS_NSUMS] = {0};
    dt_ens_member_sums(ev->acc.kind, ev->col.out, ev->col.y, n, ev->acc.width, one);
    dt_ens_add(&ev->acc, ev->col.out);
    dt_ens_sums(&ev->acc, ev->col.y, all);
    DT_TRY(dt_comm_allreduce_f64(s->comm, one, DT_ENS_NSUMS));
    DT_TRY(dt_comm_allreduce_f64(s->comm, all, DT_ENS_NSUMS));
    ev->rep.member[k] = dt_ens_finish(ev->acc.kind, one, 1);
    ev->rep.prefix[k] = dt_ens_finish(ev->acc.kind, all, k + 1);
    ev->rep.names[k] = ref->name;
    ev->rep.n++;
    if (ev->rep.has_oob) DT_TRY(member_oob(s, ev->mf, ref, &ev->o));
    return DT_OK;
}

static dt_status evaluate_members(evaluation *ev)
{
    dt_session *s = ev->s;
    const manifest *mf = ev->mf;
    const int64_t count = dt_dataset_get_info(s->test)->count;
    int64_t lo, hi;
    dt_sampler_slice(count, dt_comm_rank(s->comm), dt_comm_size(s->comm), &lo, &hi);
    const int cls = s->loss.kind == DT_LOSS_CROSS_ENTROPY;
    const int64_t width = cls ? s->info.num_classes : s->info.y_dim;
    ev->col.out_dim = dt_shape_numel(dt_model_out_shape(s->model));
    ev->col.y_dim = s->info.y_dim;
    ev->col.out = dt_calloc((size_t)((hi - lo + 1) * ev->col.out_dim), sizeof(float));
    ev->col.y = dt_calloc((size_t)((hi - lo + 1) * ev->col.y_dim), sizeof(float));
    dt_ens_acc_init(&ev->acc, s->loss.kind, hi - lo, width, mf->n);
    ev->rep = (report){.kind = s->loss.kind, .has_oob = cls && mf->bootstrap && width <= 1024,
                       .mf = mf};
    ev->rep.prefix = dt_calloc((size_t)mf->n, sizeof(dt_ens_metrics));
    ev->rep.member = dt_calloc((size_t)mf->n, sizeof(dt_ens_metrics));
    ev->rep.names = dt_calloc((size_t)mf->n, sizeof(char *));
    if (ev->rep.has_oob) {
        const int64_t n_tr = dt_dataset_get_info(s->train)->count;
        int64_t tlo, thi;
        dt_sampler_slice(n_tr, dt_comm_rank(s->comm), dt_comm_size(s->comm), &tlo, &thi);
        ev->o = (oob){.lo = tlo, .n = thi - tlo, .classes = width};
        ev->o.sum = dt_calloc((size_t)((thi - tlo + 1) * width), sizeof(double));
        ev->o.count = dt_calloc((size_t)(thi - tlo + 1), sizeof(int32_t));
        ev->o.label = dt_calloc((size_t)(thi - tlo + 1), sizeof(int32_t));
    }
    for (int i = 0; i < mf->n; i++) {
        if (!mf->m[i].ok) continue;
        DT_TRY(load_member(s, &mf->m[i]));
        DT_TRY(score_member(ev, &mf->m[i], lo, hi - lo));
    }
    if (!ev->rep.n) return dt_error_set(DT_ERR_ARG, "the ensemble has no trained member");
    if (ev->rep.has_oob) DT_TRY(oob_metrics(s, &ev->o, &ev->rep.oob, &ev->rep.oob_coverage));
    return DT_OK;
}

static void free_evaluation(evaluation *ev)
{
    free(ev->col.out);
    free(ev->col.y);
    dt_ens_acc_free(&ev->acc);
    free(ev->o.sum);
    free(ev->o.count);
    free(ev->o.label);
    free(ev->rep.prefix);
    free(ev->rep.member);
    free(ev->rep.names);
}

dt_status dt_ensemble_evaluate(dt_comm *world, const char *config, char **overrides,
                               int n_overrides, const char *dir)
{
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/ensemble.json", dir);
    DT_TRY(read_text(world, path, &text));
    manifest mf = {0};
    dt_status st = parse_manifest(dir, path, text, &mf);
    free(text);
    DT_TRY(st);

    char **ov = dt_calloc((size_t)n_overrides + 1, sizeof *ov);
    ov[0] = "runtime.log_level=warn";
    for (int i = 0; i < n_overrides; i++) ov[i + 1] = overrides[i];
    evaluation ev = {.mf = &mf};
    st = dt_session_create(config, ov, n_overrides + 1, world, DT_NEED_DATA, &ev.s);
    free(ov);
    if (st == DT_OK) {
        dt_model_reserve(ev.s->model, ev.s->ts.eval_batch);
        st = evaluate_members(&ev);
    }
    if (st == DT_OK && dt_comm_rank(world) == 0) st = publish(dir, &ev.rep);
    st = dt_comm_agree(world, st);
    free_evaluation(&ev);
    dt_session_destroy(ev.s);
    free(mf.m);
    dt_log_init(dt_comm_rank(world), dt_comm_size(world), DT_LOG_INFO);
    return st;
}
