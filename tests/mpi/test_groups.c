/* Rank groups under mpiexec (2, 3 or 4 ranks).
 *  - every rank draws the same bootstrap sample and folds;
 *  - group split: every rank lands in group rank / size with the expected
 *    rank inside it, and a collective inside a group sees only its group;
 *  - a sweep of 2 configurations on 2 groups (1 group when the world is
 *    odd) ends with the parameters of each configuration trained alone on
 *    a communicator of the group's size: bitwise equal;
 *  - sharpness: restores the weights bitwise, its base loss is the model's
 *    loss on the same subset, and a larger box finds a larger increase;
 *  - a configuration that cannot be built fails alone: it is recorded as failed
 *    in the summary and the other configuration completes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "data/convert.h"
#include "data/sampler.h"
#include "dist/group.h"
#include "blobs.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/evalset.h"
#include "train/sweep.h"
#include "train/trainer.h"

static char g_dir[256];

static void write_data(void)
{
    char csv[300];
    dt_test_write_blobs(g_dir, 3, 240, 6, 1.5f);

    snprintf(csv, sizeof csv, "%s/run.yaml", g_dir);
    FILE *f = fopen(csv, "w");
    fprintf(f, "seed: 4\ndata: {path: %s/shards}\n"
               "model:\n  layers:\n    - {kind: linear, units: 12}\n    - {kind: tanh}\n"
               "    - {kind: dropout, p: 0.2}\n    - {kind: linear, units: 3}\n"
               "optim: {kind: sgd, lr: 0.1, momentum: 0.9}\n"
               "train: {batch_size: 24, epochs: 2, log_every: 1000, run_dir: %s/runs}\n"
               "runtime: {threads: 1, log_level: warn}\n", g_dir, g_dir);
    fclose(f);
}

static void test_split(dt_comm *world, const dt_group_plan *p)
{
    dt_comm *g = NULL;
    CHECK_OK(dt_group_split(world, p, &g));
    if (!g) return;
    CHECK(dt_comm_size(g) == p->group_size);
    CHECK(dt_comm_rank(g) == dt_comm_rank(world) % p->group_size);
    double v[2] = {dt_comm_rank(world), 1};
    CHECK_OK(dt_comm_allreduce_f64(g, v, 2));
    const int first = p->group * p->group_size;
    double expect = 0;
    for (int r = first; r < first + p->group_size; r++) expect += r;
    CHECK(v[0] == expect && v[1] == p->group_size);
    dt_comm_destroy(g, 0);
}

/* Train configuration `lr` alone on comm; return the final parameters. */
static float *train_alone(dt_comm *comm, const char *lr, const char *name, int64_t *n)
{
    char cfg[300], *ov[2] = {(char *)lr, (char *)name};
    snprintf(cfg, sizeof cfg, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    dt_trainer *t = NULL;
    dt_eval_result ev;
    char *run = NULL;
    CHECK_OK(dt_session_create(cfg, ov, 2, comm, DT_NEED_DATA, &s));
    if (!s) return NULL;
    CHECK_OK(dt_trainer_create(s, &t));
    CHECK_OK(dt_trainer_fit(t, &ev, &run));
    *n = s->model->n_params;
    float *p = malloc((size_t)*n * sizeof *p);
    memcpy(p, s->model->params, (size_t)*n * sizeof *p);
    free(run);
    dt_trainer_destroy(t);
    dt_session_destroy(s);
    return p;
}

/* The parameters of a checkpoint, read into a model built from the config. */
static float *read_params(dt_comm *self, const char *ckpt, int64_t n)
{
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    dt_ckpt_meta meta;
    CHECK_OK(dt_session_create(cfg, NULL, 0, self, DT_NEED_DATA, &s));
    if (!s) return NULL;
    CHECK(s->model->n_params == n);
    CHECK_OK(dt_checkpoint_load(ckpt, s->model, NULL, &meta));
    float *p = malloc((size_t)n * sizeof *p);
    memcpy(p, s->model->params, (size_t)n * sizeof *p);
    dt_session_destroy(s);
    return p;
}

static void test_sweep_equals_alone(dt_comm *world, dt_comm *self, int groups)
{
    char out[300], *ov[1] = {"optim.lr=0.05,0.2"};
    snprintf(out, sizeof out, "%s/sweep", g_dir);
    dt_sweep_opts o;
    dt_sweep_opts_init(&o);
    o.config = "run.yaml";
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/run.yaml", g_dir);
    o.config = cfg;
    o.overrides = ov;
    o.n_overrides = 1;
    o.groups = groups;
    o.out_dir = out;
    o.sharpness = 0;
    char *dir = NULL;
    int failed = -1;
    CHECK_OK(dt_sweep_run(world, &o, &dir, &failed));
    CHECK(failed == 0);
    free(dir);

    /* each configuration alone on the first group_size ranks */
    dt_group_plan p;
    CHECK_OK(dt_group_plan_make(dt_comm_size(world), dt_comm_rank(world), groups, 2, &p));
    dt_comm *g = NULL;
    CHECK_OK(dt_group_split(world, &p, &g));
    const char *lrs[2] = {"optim.lr=0.05", "optim.lr=0.2"};
    const char *jobs[2] = {"c00_lr-0.05", "c01_lr-0.2"};
    for (int c = 0; c < 2; c++) {
        if (p.group == 0) {
            int64_t n = 0;
            char name[64], ckpt[400];
            snprintf(name, sizeof name, "train.name=alone-%d", c);
            float *alone = train_alone(g, lrs[c], name, &n);
            snprintf(ckpt, sizeof ckpt, "%s/%s/checkpoints/last.h5", out, jobs[c]);
            float *swept = p.rank_in_group == 0 && alone ? read_params(self, ckpt, n) : NULL;
            if (p.rank_in_group == 0) {
                CHECK(alone && swept && memcmp(alone, swept, (size_t)n * sizeof *alone) == 0);
                if (dt_comm_rank(world) == 0)
                    printf("configuration %d: sweep on %d group(s) == alone: %s\n", c, groups,
                           alone && swept && !memcmp(alone, swept, (size_t)n * 4) ? "yes" : "NO");
            }
            free(alone);
            free(swept);
        }
        dt_comm_barrier(world);
    }
    dt_comm_destroy(g, 0);
}

static void test_failing_job(dt_comm *world, int groups)
{
    char out[300], cfg[300], *ov[1] = {"model.layers.1.kind=tanh,bogus"};
    snprintf(out, sizeof out, "%s/sweep-fail", g_dir);
    snprintf(cfg, sizeof cfg, "%s/run.yaml", g_dir);
    dt_sweep_opts o;
    dt_sweep_opts_init(&o);
    o.config = cfg;
    o.overrides = ov;
    o.n_overrides = 1;
    o.groups = groups;
    o.out_dir = out;
    o.sharpness = 0;
    char *dir = NULL;
    int failed = -1;
    CHECK_OK(dt_sweep_run(world, &o, &dir, &failed));
    CHECK(failed == 1);
    free(dir);
    if (dt_comm_rank(world) != 0) return;
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/summary.csv", out);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    int ok = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        ok += strncmp(line, "c00_kind-tanh,ok,", 17) == 0;
        bad += strncmp(line, "c01_kind-bogus,failed,", 22) == 0 && strstr(line, "bogus") != NULL;
    }
    fclose(f);
    CHECK(ok == 1 && bad == 1);
}

static void test_sharpness(dt_comm *world)
{
    char cfg[300], *ov[1] = {"train.name=sharp"};
    snprintf(cfg, sizeof cfg, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    dt_trainer *t = NULL;
    dt_eval_result ev;
    char *run = NULL;
    CHECK_OK(dt_session_create(cfg, ov, 1, world, DT_NEED_DATA, &s));
    if (!s) return;
    CHECK_OK(dt_trainer_create(s, &t));
    CHECK_OK(dt_trainer_fit(t, &ev, &run));
    const int64_t n = s->model->n_params;
    float *w = malloc((size_t)n * sizeof *w);
    memcpy(w, s->model->params, (size_t)n * sizeof *w);

    dt_sharpness_opts o = {.eps = 1e-3, .steps = 5, .samples = 100};
    dt_sharpness_result small, big;
    CHECK_OK(dt_sharpness_measure(s, &o, &small));
    CHECK(memcmp(w, s->model->params, (size_t)n * sizeof *w) == 0);
    o.eps = 3e-2;
    CHECK_OK(dt_sharpness_measure(s, &o, &big));
    CHECK(memcmp(w, s->model->params, (size_t)n * sizeof *w) == 0);
    CHECK(small.max_loss >= small.base_loss && small.sharpness >= 0);
    CHECK(big.sharpness > small.sharpness);
    CHECK_CLOSE(big.base_loss, small.base_loss, 1e-12, 0);

    int64_t idx[100];
    dt_sharpness_subset(dt_dataset_get_info(s->train)->count, 100, idx);
    CHECK_OK(dt_evaluate_indices(s, s->train, idx, 100, &ev));
    CHECK_CLOSE(small.base_loss, ev.loss, 1e-5, 0);
    if (dt_comm_rank(world) == 0)
        printf("sharpness: eps 1e-3 -> %.4g, eps 3e-2 -> %.4g (base loss %.4f)\n",
               small.sharpness, big.sharpness, small.base_loss);
    free(w);
    free(run);
    dt_trainer_destroy(t);
    dt_session_destroy(s);
}

int main(int argc, char **argv)
{
    dt_comm *world, *self;
    CHECK_OK(dt_comm_init_world(&argc, &argv, &world));
    const int rank = dt_comm_rank(world), size = dt_comm_size(world);
    snprintf(g_dir, sizeof g_dir, "groups-np%d", size);
    if (rank == 0) {
        mkdir(g_dir, 0775);
        write_data();
    }
    dt_comm_barrier(world);
    CHECK_OK(dt_comm_split(world, rank, 0, &self));

    for (int g = 1; g <= size; g++) {
        dt_group_plan p;
        if (size % g) continue;
        CHECK_OK(dt_group_plan_make(size, rank, g, 0, &p));
        test_split(world, &p);
    }
    /* every rank draws the same bootstrap sample and folds */
    int64_t boot[500], tr[500], va[500], nt, nv;
    dt_sampler_bootstrap(7, 3, 500, boot);
    dt_sampler_kfold(7, 500, 5, 2, tr, &nt, va, &nv);
    CHECK_OK(dt_comm_check_same(world, boot, sizeof boot, "bootstrap samples"));
    CHECK_OK(dt_comm_check_same(world, va, nv * 8, "validation folds"));

    const int groups = size % 2 == 0 ? 2 : 1;
    test_sweep_equals_alone(world, self, groups);
    test_failing_job(world, groups);
    test_sharpness(world);

    dt_comm_destroy(self, 0);
    int64_t failures = dt_test_failures;
    dt_comm_allreduce_max_i64(world, &failures, 1);
    dt_comm_destroy(world, 1);
    if (failures && !dt_test_failures) dt_test_failures = 1;
    return dt_test_result();
}
