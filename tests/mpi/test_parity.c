/* Data-parallel parity under mpiexec (2 or 3 ranks).
 *
 * On a small synthetic classification set (written as CSV and converted
 * to a shard set), with dropout and shuffling on:
 *  - k steps on all ranks give the parameters of k steps on one rank with
 *    the same global batch, within 1e-5 relative (SGD-momentum and Adam,
 *    and with gradient accumulation on the many-rank side);
 *  - two runs with the same seed and world size are bitwise identical;
 *  - a run stopped at step k1 and resumed from its checkpoint ends bitwise
 *    where the uninterrupted run ends. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "data/convert.h"
#include "dist/comm.h"
#include "test_util.h"
#include "train/trainer.h"

static char g_dir[256];

/* 3 classes in 8 features: class c has its mean shifted along feature c. */
static void write_data(void)
{
    char csv[300];
    snprintf(csv, sizeof csv, "%s/points.csv", g_dir);
    FILE *f = fopen(csv, "w");
    const dt_rng r = dt_rng_make(7, DT_RNG_USER, 0, 0);
    for (int i = 0; i < 301; i++) {
        float v[8];
        dt_rng_fill_normal(&r, (uint64_t)i * 8, v, 8, 0.0f, 1.0f);
        const int c = i % 3;
        v[c] += 1.5f;
        for (int j = 0; j < 8; j++) fprintf(f, "%.6f,", v[j]);
        fprintf(f, "%d\n", c);
    }
    fclose(f);

    dt_convert_options o;
    dt_convert_options_init(&o);
    char out[300];
    snprintf(out, sizeof out, "%s/shards", g_dir);
    o.out_dir = out;
    o.csv_classes = 1;
    o.shards = 2;
    CHECK_OK(dt_convert_csv(csv, NULL, &o));
}

/* Rank 0 writes the config; the barrier makes every rank read it whole.
 * The first barrier keeps it from rewriting the file while a slower rank
 * still reads the previous one (its single-rank run starts late). */
static void write_config(dt_comm *comm, const char *optim)
{
    char path[300];
    dt_comm_barrier(comm);
    if (dt_comm_rank(comm) != 0) {
        dt_comm_barrier(comm);
        return;
    }
    snprintf(path, sizeof path, "%s/run.yaml", g_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "seed: 5\n"
               "data: {path: %s/shards}\n"
               "model:\n  layers:\n"
               "    - {kind: linear, units: 16}\n"
               "    - {kind: tanh}\n"
               "    - {kind: dropout, p: 0.25}\n"
               "    - {kind: linear, units: 3}\n"
               "optim: %s\n"
               "train: {batch_size: 48, epochs: 3, log_every: 1000, run_dir: %s/runs}\n"
               "runtime: {threads: 1, log_level: warn}\n",
            g_dir, optim, g_dir);
    fclose(f);
    dt_comm_barrier(comm);
}

/* Train on `comm` with extra overrides; return the final parameters. */
static float *train(dt_comm *comm, const char *o1, const char *o2, int64_t *n)
{
    char path[300], *ov[2] = {(char *)o1, (char *)o2};
    snprintf(path, sizeof path, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    dt_trainer *t = NULL;
    dt_eval_result ev;
    char *run = NULL;
    CHECK_OK(dt_session_create(path, ov, (o1 != NULL) + (o2 != NULL), comm, DT_NEED_DATA, &s));
    if (!s) return NULL;
    CHECK_OK(dt_trainer_create(s, &t));
    CHECK_OK(dt_trainer_fit(t, &ev, &run));
    /* every test sample exactly once, on any number of ranks */
    CHECK(ev.count == dt_dataset_get_info(s->test)->count);
    *n = s->model->n_params;
    float *p = malloc((size_t)*n * sizeof *p);
    memcpy(p, s->model->params, (size_t)*n * sizeof *p);
    free(run);
    dt_trainer_destroy(t);
    dt_session_destroy(s);
    return p;
}

/* ||a - b|| / ||b|| over the whole parameter vector, and the largest
 * elementwise |a - b| / (|b| + 1e-3) for reference. */
static double rel_diff(const float *a, const float *b, int64_t n, double *worst)
{
    double num = 0.0, den = 0.0;
    *worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double e = (double)a[i] - b[i];
        num += e * e;
        den += (double)b[i] * b[i];
        const double d = fabs(e) / (fabs((double)b[i]) + 1e-3);
        if (d > *worst) *worst = d;
    }
    return sqrt(num / den);
}

static void parity(dt_comm *world, dt_comm *self, const char *optim, const char *acc)
{
    int64_t n1 = 0, n2 = 0;
    write_config(world, optim);
    char name[64];
    snprintf(name, sizeof name, "train.name=single-%d", dt_comm_rank(world));
    float *many = train(world, acc, NULL, &n1);
    float *one = train(self, name, NULL, &n2);
    if (many && one && n1 == n2) {
        double worst;
        const double d = rel_diff(many, one, n1, &worst);
        if (dt_comm_rank(world) == 0)
            printf("%s %s: relative difference %.3g (largest elementwise %.3g)\n", optim,
                   acc ? acc : "", d, worst);
        CHECK(d < 1e-5);
    }
    free(many);
    free(one);
    /* every rank has read run.yaml before rank 0 writes the next one */
    dt_comm_barrier(world);
}

int main(int argc, char **argv)
{
    dt_comm *world, *self;
    CHECK_OK(dt_comm_init_world(&argc, &argv, &world));
    const int rank = dt_comm_rank(world);
    snprintf(g_dir, sizeof g_dir, "parity-np%d", dt_comm_size(world));
    if (rank == 0) {
        mkdir(g_dir, 0775);
        write_data();
    }
    dt_comm_barrier(world);
    CHECK_OK(dt_comm_split(world, rank, 0, &self));

    parity(world, self, "{kind: sgd, lr: 0.1, momentum: 0.9}", NULL);
    parity(world, self, "{kind: adam, lr: 0.01}", NULL);
    parity(world, self, "{kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true}",
           "train.accumulation=2");

    /* Same seed, same world: bitwise identical. */
    int64_t n = 0, m = 0;
    write_config(world, "{kind: adam, lr: 0.01}");
    float *a = train(world, NULL, NULL, &n), *b = train(world, NULL, NULL, &m);
    CHECK(a && b && n == m && memcmp(a, b, (size_t)n * sizeof *a) == 0);

    /* Stop at step 7 (mid-epoch: 7 steps/epoch... 241 train samples -> 6
     * steps per epoch), resume, and end where the run of 15 steps ends. */
    float *full = train(world, "train.max_steps=15", NULL, &n);
    float *part = train(world, "train.max_steps=8", "train.name=part", &m);
    char resume[400];
    snprintf(resume, sizeof resume, "train.resume=%s/runs/part/checkpoints/last.h5", g_dir);
    float *rest = train(world, "train.max_steps=15", resume, &m);
    CHECK(full && rest && memcmp(full, rest, (size_t)n * sizeof *full) == 0);
    CHECK(part && full && memcmp(part, full, (size_t)n * sizeof *full) != 0);

    free(a);
    free(b);
    free(full);
    free(part);
    free(rest);
    dt_comm_destroy(self, 0);
    int failures = dt_test_failures;
    dt_comm_allreduce_max_i64(world, (int64_t[]){failures}, 1);
    dt_comm_destroy(world, 1);
    return dt_test_result();
}
