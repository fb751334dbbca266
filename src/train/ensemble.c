/* Training ensemble members in rank groups, and evaluating them together. */
#include "train/ensemble.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/sampler.h"
#include "dist/group.h"
#include "train/checkpoint.h"
#include "train/evalset.h"
#include "train/progress.h"
#include "train/sweep.h"
#include "train/trainer.h"

#define MAX_MEMBERS 1024

typedef struct member_result {
    int filled, status;
    char name[64];
    char error[600];
    char run_dir[1100];
    double acc, loss, wall_s, unique;
    int64_t steps;
} member_result;

typedef struct ens {
    const dt_ensemble_opts *o;
    uint64_t seed;
    dt_group_plan gp;
    char dir[1024];
} ens;

/* ---- training ---- */

static void member_overrides(const ens *e, int m, dt_ovlist *ov)
{
    char name[32];
    dt_job_overrides_start(ov, e->o->overrides, e->o->n_overrides);
    dt_ovlist_add(ov, "seed=%llu", (unsigned long long)(e->seed + (uint64_t)m));
    snprintf(name, sizeof name, "member-%02d", m);
    dt_job_overrides_place(ov, e->dir, name);
}

static double unique_fraction(const int64_t *sorted, int64_t n)
{
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++) u += i == 0 || sorted[i] != sorted[i - 1];
    return n ? (double)u / (double)n : 0.0;
}

static dt_status fit_member(const ens *e, dt_session *s, int m, member_result *r)
{
    if (e->o->bootstrap) {
        const int64_t n = dt_dataset_get_info(s->train)->count;
        s->train_subset = dt_calloc((size_t)n, sizeof(int64_t));
        s->train_subset_n = n;
        dt_sampler_bootstrap(e->seed, m, n, s->train_subset);
        r->unique = unique_fraction(s->train_subset, n);
    }
    dt_trainer *t = NULL;
    dt_eval_result final;
    char *run_dir = NULL;
    const double t0 = dt_now();
    dt_status st = dt_trainer_create(s, &t);
    if (st == DT_OK) st = dt_trainer_fit(t, &final, &run_dir);
    r->wall_s = dt_now() - t0;
    r->steps = s->optim->step;
    if (run_dir) snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    free(run_dir);
    if (st == DT_OK) {
        r->acc = final.accuracy;
        r->loss = final.loss;
    }
    dt_trainer_destroy(t);
    return st;
}

static void train_member(const ens *e, dt_comm *comm, int m, member_result *r)
{
    dt_ovlist ov = {0};
    member_overrides(e, m, &ov);
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "member-%02d", m);
    dt_session *s = NULL;
    dt_status st = dt_session_create(e->o->config, ov.v, ov.n, comm, DT_NEED_DATA, &s);
    dt_ovlist_free(&ov);
    if (st == DT_OK) {
        s->command_line = e->o->command_line;
        st = fit_member(e, s, m, r);
    }
    r->status = (int)st;
    if (st != DT_OK) snprintf(r->error, sizeof r->error, "%s", dt_error_message());
    dt_session_destroy(s);
    r->filled = dt_comm_rank(comm) == 0;
}

static dt_status train_groups(ens *e, dt_comm *world, member_result *all)
{
    const int M = e->o->members;
    dt_comm *group = NULL;
    DT_TRY(dt_group_split(world, &e->gp, &group));
    member_result *mine = dt_calloc((size_t)M, sizeof *mine);
    for (int m = 0; m < M; m++) {
        if (dt_group_of_job(&e->gp, m) != e->gp.group) continue;
        train_member(e, group, m, &mine[m]);
        if (!mine[m].filled) continue;
        if (mine[m].status == DT_OK)
            printf("[group %d] %s: test accuracy %.2f%% (loss %.4f), %.1f s\n", e->gp.group,
                   mine[m].name, 100 * mine[m].acc, mine[m].loss, mine[m].wall_s);
        else
            printf("[group %d] %s: FAILED: %s\n", e->gp.group, mine[m].name, mine[m].error);
        fflush(stdout);
    }
    dt_comm_destroy(group, 0);
    dt_log_init(dt_comm_rank(world), dt_comm_size(world), DT_LOG_INFO);

    const int64_t bytes = (int64_t)M * (int64_t)sizeof *mine;
    char *gathered = dt_calloc((size_t)e->gp.world, (size_t)bytes);
    const dt_status st = dt_comm_allgather(world, mine, gathered, bytes);
    for (int m = 0; st == DT_OK && m < M; m++) {
        const int leader = dt_group_leader(&e->gp, dt_group_of_job(&e->gp, m));
        memcpy(&all[m], gathered + leader * bytes + (int64_t)m * (int64_t)sizeof *mine,
               sizeof *mine);
    }
    free(gathered);
    free(mine);
    return st;
}

static dt_status write_manifest(const ens *e, const member_result *all)
{
    cJSON *j = cJSON_CreateObject(), *ms = NULL;
    cJSON_AddStringToObject(j, "format", "dtrain-ensemble");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "config", e->o->config);
    cJSON_AddStringToObject(j, "command", e->o->command_line ? e->o->command_line : "");
    cJSON_AddStringToObject(j, "mode", e->o->bootstrap ? "bootstrap" : "init");
    cJSON_AddNumberToObject(j, "seed", (double)e->seed);
    cJSON_AddNumberToObject(j, "groups", e->gp.n_groups);
    cJSON_AddNumberToObject(j, "group_size", e->gp.group_size);
    ms = cJSON_AddArrayToObject(j, "members");
    for (int m = 0; m < e->o->members; m++) {
        cJSON *x = cJSON_CreateObject();
        char ck[128];
        snprintf(ck, sizeof ck, "%s/checkpoints/last.h5", all[m].name);
        cJSON_AddStringToObject(x, "name", all[m].name);
        cJSON_AddNumberToObject(x, "index", m);
        cJSON_AddNumberToObject(x, "seed", (double)(e->seed + (uint64_t)m));
        cJSON_AddStringToObject(x, "status", all[m].status == DT_OK ? "ok" : "failed");
        cJSON_AddStringToObject(x, "checkpoint", ck);
        cJSON_AddNumberToObject(x, "test_accuracy", all[m].acc);
        cJSON_AddNumberToObject(x, "test_loss", all[m].loss);
        cJSON_AddNumberToObject(x, "unique_fraction", all[m].unique);
        cJSON_AddNumberToObject(x, "wall_s", all[m].wall_s);
        cJSON_AddStringToObject(x, "error", all[m].error);
        cJSON_AddItemToArray(ms, x);
    }
    char path[1200], *text = cJSON_Print(j);
    snprintf(path, sizeof path, "%s/ensemble.json", e->dir);
    FILE *f = fopen(path, "w");
    const int ok = f && fprintf(f, "%s\n", text) > 0;
    if (f) fclose(f);
    free(text);
    cJSON_Delete(j);
    return ok ? DT_OK : dt_error_set(DT_ERR_IO, "cannot write %s", path);
}

static dt_status read_seed(const dt_ensemble_opts *o, uint64_t *seed, char *root, size_t cap)
{
    dt_cfg *cfg;
    DT_TRY(dt_cfg_load_file(o->config, &cfg));
    dt_status st = DT_OK;
    for (int i = 0; st == DT_OK && i < o->n_overrides; i++)
        st = dt_cfg_override(cfg, o->overrides[i]);
    int64_t s = 1;
    const char *r = "runs";
    if (st == DT_OK) st = dt_cfg_int(cfg, "seed", 1, 0, INT64_MAX, &s);
    if (st == DT_OK) st = dt_cfg_str(dt_cfg_get(cfg, "train"), "run_dir", "runs", &r);
    snprintf(root, cap, "%s", r);
    dt_cfg_free(cfg);
    *seed = (uint64_t)s;
    return st;
}

dt_status dt_ensemble_run(dt_comm *world, const dt_ensemble_opts *o, char **dir, int *failed)
{
    ens e = {.o = o};
    char root[1024];
    *dir = NULL;
    *failed = 0;
    if (o->members < 1 || o->members > MAX_MEMBERS)
        return dt_error_set(DT_ERR_ARG, "members=%d: expected 1 to %d", o->members, MAX_MEMBERS);
    DT_TRY(dt_comm_agree(world, read_seed(o, &e.seed, root, sizeof root)));
    DT_TRY(dt_group_plan_make(dt_comm_size(world), dt_comm_rank(world), o->groups, o->members,
                              &e.gp));
    DT_TRY(dt_sweep_make_dir(world, o->out_dir, root, "ensemble", o->config, e.dir,
                             sizeof e.dir));
    *dir = dt_strdup(e.dir);
    if (dt_comm_rank(world) == 0) {
        printf("ensemble: %d member(s) (%s) on %d group(s) of %d rank(s) into %s\n", o->members,
               o->bootstrap ? "bootstrap resamples" : "full set, seeds differ", e.gp.n_groups,
               e.gp.group_size, e.dir);
        fflush(stdout);
    }
    member_result *all = dt_calloc((size_t)o->members, sizeof *all);
    dt_status st = train_groups(&e, world, all);
    for (int m = 0; m < o->members; m++) *failed += all[m].status != DT_OK;
    if (st == DT_OK && dt_comm_rank(world) == 0) st = write_manifest(&e, all);
    free(all);
    DT_TRY(dt_comm_agree(world, st));
    if (*failed == o->members)
        return dt_error_set(DT_ERR_ARG, "every member failed; see %s/ensemble.json", e.dir);
    return dt_ensemble_evaluate(world, o->config, o->overrides, o->n_overrides, e.dir);
}
