/* The gradient noise scale under mpiexec, against per-sample gradients.
 *
 * A small classifier (8 -> 16 tanh -> 3) on 1920 synthetic training
 * samples, with the learning rate 0 so the weights stay where they start.
 * Direct: every per-sample gradient g_i through the model's backward gives
 * G = mean g_i and tr(Sigma) = mean |g_i|^2 - |G|^2, so B = tr(Sigma)/|G|^2.
 * Because each epoch draws batches without replacement from N samples, the
 * two-batch estimators' expectations are tr(Sigma) N/(N-1) and
 * |G|^2 - tr(Sigma)/(N-1); the test compares with that B (which differs
 * from the plain B by about B/N).
 * Estimated: 8 epochs of 40 steps (global batch 48) through
 * dt_trainer_step, the small batch being each rank's slice (48 / ranks);
 * the per-step estimates averaged over all steps must give B within 15%
 * (a factor of 1.15), and the trainer's moving-average value within a
 * factor of 2. The same on one rank with accumulation 2 (small batch: the
 * first micro-batch of 24). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "data/convert.h"
#include "data/loader.h"
#include "blobs.h"
#include "test_util.h"
#include "train/noise_scale.h"
#include "train/trainer.h"

static char g_dir[256];

static void write_data(void)
{
    char csv[300];
    dt_test_write_blobs(g_dir, 17, 2400, 8, 1.0f);
    snprintf(csv, sizeof csv, "%s/run.yaml", g_dir);
    FILE *f = fopen(csv, "w");
    fprintf(f, "seed: 2\ndata: {path: %s/shards}\n"
               "model:\n  layers:\n    - {kind: linear, units: 16}\n    - {kind: tanh}\n"
               "    - {kind: linear, units: 3}\n"
               "optim: {kind: sgd, lr: 0}\n"
               "train: {batch_size: 48, epochs: 8, log_every: 1000, run_dir: %s/runs}\n"
               "runtime: {threads: 1, log_level: warn}\n", g_dir, g_dir);
    fclose(f);
}

/* B from per-sample gradients, with the finite-population expectation. */
static double direct_b(dt_session *s, double *plain)
{
    dt_model *m = s->model;
    const int64_t n = dt_dataset_get_info(s->train)->count, np = m->n_params;
    double *g = calloc((size_t)np, sizeof *g), sq = 0.0;
    float x[8], y[1];
    for (int64_t i = 0; i < n; i++) {
        CHECK_OK(dt_dataset_read(s->train, &i, 1, x, y));
        const dt_pass p = {.be = m->be, .n = 1, .index = &i, .seed = s->seed, .training = 1,
                           .overwrite_grads = 1};
        dt_model_forward(m, x, &p);
        dt_loss_compute(&s->loss, m->be, dt_model_output(m), y, 1, 1.0f,
                        dt_model_output_grad(m));
        dt_model_backward(m, &p, NULL, NULL);
        for (int64_t j = 0; j < np; j++) {
            g[j] += m->grads[j] / (double)n;
            sq += (double)m->grads[j] * m->grads[j] / (double)n;
        }
    }
    double g2 = 0.0;
    for (int64_t j = 0; j < np; j++) g2 += g[j] * g[j];
    free(g);
    const double tr = sq - g2;
    *plain = tr / g2;
    return (tr * n / (n - 1.0)) / (g2 - tr / (n - 1.0));
}

static void estimate(dt_comm *comm, const char *acc, const char *who)
{
    char cfg[300], *ov[1] = {(char *)acc};
    snprintf(cfg, sizeof cfg, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    dt_trainer *t = NULL;
    CHECK_OK(dt_session_create(cfg, ov, acc ? 1 : 0, comm, DT_NEED_DATA, &s));
    if (!s) return;
    CHECK_OK(dt_trainer_create(s, &t));
    double plain;
    const double expect = direct_b(s, &plain);

    const dt_loader_config lc = {.global_batch = 48, .rank = dt_comm_rank(comm),
                                 .world = dt_comm_size(comm), .sampler = DT_SAMPLER_SHUFFLE,
                                 .seed = s->seed};
    dt_loader *l = NULL;
    CHECK_OK(dt_loader_create(s->train, &lc, &l));
    const dt_noise_scale *ns = dt_trainer_noise_scale(t);
    double sum_g2 = 0.0, sum_tr = 0.0;
    int64_t steps = 0;
    for (int e = 0; l && e < 8; e++) {
        CHECK_OK(dt_loader_start_epoch(l, e, 0));
        for (;;) {
            dt_batch b;
            dt_step_result r;
            CHECK_OK(dt_loader_next(l, &b));
            if (b.global_n == 0) break;
            const int64_t before = ns->count;
            CHECK_OK(dt_trainer_step(t, b.x, b.y, b.index, b.n, b.global_n, &r));
            CHECK(ns->count == before + 1);
            sum_g2 += ns->last_g2;
            sum_tr += ns->last_tr;
            steps++;
        }
    }
    const double mean_b = sum_tr / sum_g2, ema = dt_noise_scale_value(ns);
    if (dt_comm_rank(comm) == 0)
        printf("%s: direct B %.2f (plain %.2f); estimated over %lld steps %.2f (ratio %.3f), "
               "moving average %.2f\n", who, expect, plain, (long long)steps, mean_b,
               mean_b / expect, ema);
    CHECK(steps == 320);
    CHECK(fabs(mean_b / expect - 1.0) < 0.15);
    CHECK(ema > expect / 2 && ema < expect * 2);
    dt_loader_destroy(l);
    dt_trainer_destroy(t);
    dt_session_destroy(s);
}

int main(int argc, char **argv)
{
    dt_comm *world, *self;
    CHECK_OK(dt_comm_init_world(&argc, &argv, &world));
    const int rank = dt_comm_rank(world), size = dt_comm_size(world);
    snprintf(g_dir, sizeof g_dir, "noise-np%d", size);
    if (rank == 0) {
        mkdir(g_dir, 0775);
        write_data();
    }
    dt_comm_barrier(world);
    CHECK_OK(dt_comm_split(world, rank, 0, &self));

    estimate(world, NULL, "ranks as small batches");
    if (rank == 0) estimate(self, "train.accumulation=2", "one rank, micro-batches");
    dt_comm_barrier(world);

    dt_comm_destroy(self, 0);
    int64_t failures = dt_test_failures;
    dt_comm_allreduce_max_i64(world, &failures, 1);
    dt_comm_destroy(world, 1);
    if (failures && !dt_test_failures) dt_test_failures = 1;
    return dt_test_result();
}
