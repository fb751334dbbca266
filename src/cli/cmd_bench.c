/* `dtrain bench`: training throughput on synthetic data of the config's
 * shapes. It times whole optimizer steps (forward, backward, all-reduce,
 * update) after warm-up, in several intervals, and reports the median
 * samples/s and the achieved GFLOP/s, counting 6 flops per multiply-add
 * per sample (forward 2, backward 4). Disk is left out on purpose: the
 * loader runs in the background during training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/rng.h"
#include "data/sampler.h"
#include "train/progress.h"
#include "train/trainer.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Token models: ids in [5, vocab) (above the special ids) and, for one
 * step in seven, a target token (as masked-LM batches have about 15%). */
static void synth_tokens(const dt_session *s, int64_t n, int64_t lo, float *x, float *y,
                         const dt_rng *r)
{
    const int64_t T = s->info.y_dim, V = s->info.num_classes;
    const int64_t in = dt_shape_numel(&s->info.x_shape);
    for (int64_t i = 0; i < n * in; i++)
        x[i] = 5.0f + (float)dt_rng_below(r, (uint64_t)(lo * in + i), (uint64_t)(V - 5));
    for (int64_t i = 0; i < n * T; i++) {
        const uint64_t k = (uint64_t)(1u << 30) + (uint64_t)(lo * T + i);
        y[i] = dt_rng_below(r, k, 7) ? -1.0f : 5.0f + (float)dt_rng_below(r, k + (1u << 29),
                                                                           (uint64_t)(V - 5));
    }
}

/* This rank's slice of a synthetic global batch: uniform inputs, random
 * class labels (or normal targets for regression, or tokens). */
static void synth_batch(const dt_session *s, int64_t n, int64_t lo, float *x, float *y,
                        int64_t *index)
{
    const int64_t in = dt_shape_numel(&s->info.x_shape), yd = s->info.y_dim;
    const dt_rng r = dt_rng_make(s->seed, DT_RNG_USER, 7, 0);
    for (int64_t i = 0; i < n; i++) index[i] = lo + i;
    if (dt_loss_is_tokens(&s->loss) && s->info.num_classes > 5) {
        synth_tokens(s, n, lo, x, y, &r);
        return;
    }
    dt_rng_fill_uniform(&r, (uint64_t)(lo * in), x, n * in, 0.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) {
        if (s->loss.kind == DT_LOSS_CROSS_ENTROPY)
            y[i] = (float)dt_rng_below(&r, (uint64_t)(1u << 30) + (uint64_t)(lo + i),
                                       (uint64_t)s->info.num_classes);
        else
            dt_rng_fill_normal(&r, (uint64_t)(1u << 31) + (uint64_t)((lo + i) * yd), y + i * yd,
                               yd, 0.0f, 1.0f);
    }
}

/* Seconds one blocking MPI_Allreduce of the whole gradient takes (median of
 * 9), the cost the overlapped reducer would pay with no overlap at all. */
static double blocking_allreduce_s(const dt_session *s)
{
    const int64_t n = s->model->n_params;
    float *g = dt_calloc((size_t)n, sizeof(float));
    double t[9];
    for (int k = 0; k < 9; k++) {
        MPI_Barrier(dt_comm_mpi(s->comm));
        const double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, dt_comm_mpi(s->comm));
        t[k] = MPI_Wtime() - t0;
    }
    free(g);
    qsort(t, 9, sizeof *t, cmp_double);
    return t[4];
}

/* What the all-reduce costs the step: the time still spent waiting at the
 * end of backward (which includes waiting for the slowest rank), next to a
 * blocking all-reduce of every gradient on synchronized ranks. Running the
 * bench again with dist.bucket_mb=4096 (one bucket, started when backward
 * ends) gives the step time without overlap. */
static void report_overlap(const dt_session *s, const dt_trainer *t, int64_t steps)
{
    if (dt_comm_size(s->comm) == 1 || steps <= 0) return;
    const dt_reducer_stats st = dt_trainer_reducer_stats(t);
    const double wait = st.wait_s / (double)steps, full = blocking_allreduce_s(s);
    if (dt_comm_rank(s->comm) != 0) return;
    printf("  %s: %.3f ms/step waiting after backward (%.1f of %lld buckets started "
           "during backward); a blocking all-reduce of all %lld gradients takes %.3f ms\n",
           s->optim->shard ? "reduce-scatter" : "all-reduce", 1e3 * wait,
           (double)st.overlapped / (double)steps, (long long)(st.buckets / steps),
           (long long)s->model->n_params, 1e3 * full);
}

static dt_status run_bench(dt_session *s, const dt_cli *cli, double *rates, int *n_rates)
{
    const int64_t B = s->ts.batch_size, world = dt_comm_size(s->comm);
    int64_t lo, hi;
    dt_sampler_slice(B, dt_comm_rank(s->comm), (int)world, &lo, &hi);
    const int64_t n = hi - lo, in = dt_shape_numel(&s->info.x_shape);
    float *x = dt_calloc((size_t)(n * in + 1), sizeof(float));
    float *y = dt_calloc((size_t)(n * s->info.y_dim + 1), sizeof(float));
    int64_t *index = dt_calloc((size_t)n + 1, sizeof(int64_t));
    synth_batch(s, n, lo, x, y, index);

    dt_trainer *t;
    dt_step_result r;
    dt_status st = dt_trainer_create(s, &t);
    for (int i = 0; st == DT_OK && i < cli->warmup; i++)
        st = dt_trainer_step(t, x, y, index, n, B, &r);
    for (int k = 0; st == DT_OK && k < cli->intervals; k++) {
        st = dt_comm_barrier(s->comm);
        const double t0 = dt_now();
        for (int i = 0; st == DT_OK && i < cli->steps; i++)
            st = dt_trainer_step(t, x, y, index, n, B, &r);
        if (st == DT_OK) st = dt_comm_barrier(s->comm);
        rates[(*n_rates)++] = (double)(B * cli->steps) / (dt_now() - t0);
    }
    if (st == DT_OK) report_overlap(s, t, (int64_t)(cli->warmup + cli->intervals * cli->steps));
    dt_memory_report mem;
    if (st == DT_OK) st = dt_trainer_memory(t, &mem);
    if (st == DT_OK && dt_comm_rank(s->comm) == 0) {
        char text[400];
        dt_memory_report_text(&mem, text, sizeof text);
        printf("  memory per rank: %s\n", text);
        printf("memory: params=%lld grads=%lld optim_state=%lld optim_scratch=%lld "
               "activations=%lld total=%lld sharded=%d\n", (long long)mem.params,
               (long long)mem.grads, (long long)mem.optim_state, (long long)mem.optim_scratch,
               (long long)mem.activations, (long long)mem.total, mem.sharded);
    }
    dt_trainer_destroy(t);
    free(x);
    free(y);
    free(index);
    return st;
}

/* The rate of the backend's GEMM alone on the shapes of the model's linear
 * layers at this rank's batch: forward, weight gradient and (except for a
 * layer reading the model input) input gradient, as a training step does.
 * This is the ceiling the whole step is compared with. */
static double sgemm_rate(const dt_session *s, int64_t n, int steps)
{
    const dt_model *m = s->model;
    const dt_backend *be = m->be;
    int64_t widest = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const int64_t in = dt_shape_numel(&m->layers[i]->in_shape[0]);
        widest = in > widest ? in : widest;
        widest = m->layers[i]->units > widest ? m->layers[i]->units : widest;
    }
    int64_t steps_max = 1; /* rows per sample of a per-token layer */
    for (int i = 0; i < m->n_layers; i++) {
        const dt_shape *sh = &m->layers[i]->in_shape[0];
        if (sh->ndim == 2 && sh->dim[0] > steps_max) steps_max = sh->dim[0];
    }
    float *a = be->alloc((size_t)(n * steps_max * widest) * sizeof(float));
    float *b = be->alloc((size_t)(n * steps_max * widest) * sizeof(float));
    double best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        double flops = 0.0;
        const double t0 = dt_now();
        for (int it = 0; it < steps; it++)
            for (int i = 0; i < m->n_layers; i++) {
                const dt_layer *l = m->layers[i];
                if (strcmp(l->ops->kind, "linear") != 0) continue;
                const dt_param *wp = l->tied ? l->tied : &l->params[0];
                const int in = (int)wp->shape.dim[1], out = (int)l->units;
                /* per-token layers: every step is a row */
                const int rows = (int)(n * (dt_shape_numel(&l->in_shape[0]) / in));
                float *w = wp->data, *dw = wp->grad;
                be->gemm(0, 1, rows, out, in, 1.0f, a, in, w, in, 0.0f, b, out);
                be->gemm(1, 0, out, in, rows, 1.0f, b, out, a, in, 0.0f, dw, in);
                flops += 4.0 * (double)rows * in * out;
                if (l->in[0] >= 0) {
                    be->gemm(0, 0, rows, in, out, 1.0f, b, out, w, in, 0.0f, a, in);
                    flops += 2.0 * (double)rows * in * out;
                }
            }
        (void)be->sync(); /* a GPU queues the products: wait for them */
        const double rate = flops / (dt_now() - t0) / 1e9;
        best = rate > best ? rate : best;
    }
    be->free(a);
    be->free(b);
    return best;
}

int dt_cmd_bench(int argc, char **argv)
{
    static const char usage[] = "dtrain bench CONFIG [--steps N] [--warmup N] [--intervals N] "
                                "[--sgemm] [key=value ...]";
    dt_cli cli;
    int rc = dt_cli_parse(argc, argv, usage, &cli);
    if (rc || cli.help) return rc;
    if (cli.steps <= 0) cli.steps = 20;
    if (cli.warmup < 0) cli.warmup = 0;
    if (!cli.warmup) cli.warmup = 5;
    if (cli.intervals <= 0) cli.intervals = 5;
    if (cli.intervals > 1000) cli.intervals = 1000;

    dt_comm *comm;
    dt_session *s;
    if ((rc = dt_cli_start(&argc, &argv, &cli, 0, &comm, &s))) return rc;

    if (cli.sgemm) {
        int64_t lo, hi;
        dt_sampler_slice(s->ts.batch_size, dt_comm_rank(comm), dt_comm_size(comm), &lo, &hi);
        const double g = sgemm_rate(s, hi - lo, cli.steps);
        if (dt_comm_rank(comm) == 0)
            printf("sgemm: gflops=%.2f batch=%lld threads=%d (GEMMs of the linear layers "
                   "alone, best of 5 x %d steps)\n", g, (long long)(hi - lo), s->threads,
                   cli.steps);
        dt_cli_finish(comm, s);
        return 0;
    }

    double rates[1000];
    int n_rates = 0;
    if (run_bench(s, &cli, rates, &n_rates) != DT_OK) return dt_cli_fail("bench", comm, s);

    qsort(rates, (size_t)n_rates, sizeof *rates, cmp_double);
    const double med = rates[n_rates / 2];
    const double gflops = med * 6.0 * (double)dt_model_macs(s->model) / 1e9;
    if (dt_comm_rank(comm) == 0) {
        printf("bench %s: %d rank(s) x %d thread(s), global batch %lld, optimizer %s%s\n",
               cli.config, dt_comm_size(comm), s->threads, (long long)s->ts.batch_size,
               dt_optim_name(s->optim->kind),
               s->optim->shard && dt_comm_size(comm) > 1 ? " (state sharded)" : "");
        printf("  %.0f samples/s median of %d intervals of %d steps (min %.0f, max %.0f), "
               "%.2f ms/step, %.1f GFLOP/s\n", med, n_rates, cli.steps, rates[0],
               rates[n_rates - 1], 1e3 * (double)s->ts.batch_size / med, gflops);
        if (dt_loss_is_tokens(&s->loss))
            printf("  %.0f tokens/s (%lld steps per sample)\n", med * (double)s->loss.steps,
                   (long long)s->loss.steps);
        printf("result: samples_per_s=%.1f gflops=%.2f ranks=%d threads=%d batch=%lld", med,
               gflops, dt_comm_size(comm), s->threads, (long long)s->ts.batch_size);
        if (dt_loss_is_tokens(&s->loss))
            printf(" tokens_per_s=%.1f", med * (double)s->loss.steps);
        printf("\n");
    }
    dt_cli_finish(comm, s);
    return 0;
}
