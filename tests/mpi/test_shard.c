/* Optimizer-state sharding (optim.shard) and gradient accumulation under
 * mpiexec (2 or 3 ranks).
 *
 * The model has 227 parameters, a count neither 2 nor 3 divides, and its
 * first weight (160 floats) straddles every shard boundary, so lars and
 * lamb need their per-tensor norms summed over the shards. Checked:
 *  - k steps sharded give the parameters and the global gradient norm of
 *    k steps unsharded within 1e-5 relative, for SGD-momentum, Adam, AdamW
 *    (weight decay with no_decay_bias_norm), LAMB (with clipping and
 *    per-layer gradient norms) and LARS; with gradients in several
 *    buckets; also inside rank groups;
 *  - each rank holds the state of its shard only: bytes per rank are the
 *    total over the ranks within the shard rule's rounding, and sum to it;
 *  - a sharded run stopped and resumed from its checkpoint ends bitwise
 *    where the uninterrupted sharded run ends; the same checkpoint resumed
 *    unsharded ends there within 1e-5;
 *  - a global batch of 64 as 4 micro-steps of 16 gives the parameters of
 *    one step of 64 within 1e-5 relative, unsharded and sharded;
 *  - train.precision=bf16 is refused on the CPU with a message naming the
 *    key and what it needs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blobs.h"
#include "dist/comm.h"
#include "test_util.h"
#include "train/trainer.h"

static char g_dir[256];

typedef struct result {
    float *params;
    int64_t n;
    double grad_norm; /* the last step's global norm, before clipping */
    int64_t steps, buckets; /* optimizer steps; buckets the reducer sent */
    double layer_norms[8];  /* rank 0, train.log_grad_norms: the last record's */
    int n_layer_norms;
    long long state_bytes; /* rank 0: optim_state of the memory record */
} result;

/* The per-layer norms of the last train record with "grad_norms" in
 * RUN/metrics.jsonl (rank 0 writes it). */
static void read_layer_norms(const char *run, result *r)
{
    char path[1200], line[4096], last[4096] = "";
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "\"grad_norms\":{")) snprintf(last, sizeof last, "%s", line);
        const char *st = strstr(line, "\"type\":\"memory\"") ? strstr(line, "optim_state") : NULL;
        if (st) r->state_bytes = atoll(st + 13);
    }
    fclose(f);
    const char *p = strstr(last, "\"grad_norms\":{");
    for (p = p ? p + 14 : NULL; p && *p != '}' && r->n_layer_norms < 8;) {
        const char *colon = strchr(p, ':');
        if (!colon) break;
        char *end;
        r->layer_norms[r->n_layer_norms++] = strtod(colon + 1, &end);
        p = *end == ',' ? end + 1 : end;
    }
}

/* Rank 0 writes the config; barriers around it so that no rank reads a
 * half-written file or the previous one. 10 features -> 16 -> 3 classes:
 * 11 x 16 + 17 x 3 = 227 parameters. */
static void write_config(dt_comm *comm, const char *optim)
{
    char path[300];
    dt_comm_barrier(comm);
    if (dt_comm_rank(comm) == 0) {
        snprintf(path, sizeof path, "%s/run.yaml", g_dir);
        FILE *f = fopen(path, "w");
        fprintf(f, "seed: 3\n"
                   "data: {path: %s/shards}\n"
                   "model:\n  layers:\n"
                   "    - {kind: linear, units: 16}\n"
                   "    - {kind: tanh}\n"
                   "    - {kind: dropout, p: 0.2}\n"
                   "    - {kind: linear, units: 3}\n"
                   "optim: %s\n"
                   "train: {batch_size: 48, epochs: 2, log_every: 2, run_dir: %s/runs}\n"
                   "runtime: {threads: 1, log_level: warn}\n",
                g_dir, optim, g_dir);
        fclose(f);
    }
    dt_comm_barrier(comm);
}

/* Train on `comm` with up to three overrides (NULL ends the list). */
static result train(dt_comm *comm, const char *o1, const char *o2, const char *o3)
{
    char path[300], *ov[3] = {(char *)o1, (char *)o2, (char *)o3};
    const int n_ov = !o1 ? 0 : !o2 ? 1 : !o3 ? 2 : 3;
    snprintf(path, sizeof path, "%s/run.yaml", g_dir);
    result r = {0};
    dt_session *s = NULL;
    dt_trainer *t = NULL;
    dt_eval_result ev;
    char *run = NULL;
    CHECK_OK(dt_session_create(path, ov, n_ov, comm, DT_NEED_DATA, &s));
    if (!s) return r;
    CHECK_OK(dt_trainer_create(s, &t));
    CHECK_OK(dt_trainer_fit(t, &ev, &run));
    r.n = s->model->n_params;
    r.grad_norm = s->optim->last_grad_norm;
    r.steps = s->optim->step;
    r.buckets = dt_trainer_reducer_stats(t).buckets;
    if (run && dt_comm_rank(comm) == 0) read_layer_norms(run, &r);
    r.params = malloc((size_t)r.n * sizeof *r.params);
    memcpy(r.params, s->model->params, (size_t)r.n * sizeof *r.params);
    free(run);
    dt_trainer_destroy(t);
    dt_session_destroy(s);
    return r;
}

/* ||a - b|| / ||b|| over the parameter vector. */
static double rel_diff(const result *a, const result *b)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < b->n; i++) {
        const double e = (double)a->params[i] - b->params[i];
        num += e * e;
        den += (double)b->params[i] * b->params[i];
    }
    return sqrt(num / den);
}

static int same_bits(const result *a, const result *b)
{
    return a->params && b->params && a->n == b->n &&
           memcmp(a->params, b->params, (size_t)a->n * sizeof *a->params) == 0;
}

static void expect_close(dt_comm *comm, const char *what, const result *a, const result *b)
{
    CHECK(a->params && b->params && a->n == b->n && a->n >= 227);
    if (!a->params || !b->params || a->n != b->n) return;
    const double d = rel_diff(a, b);
    if (dt_comm_rank(comm) == 0)
        printf("%-60s relative difference %.3g, grad norm %.6g vs %.6g\n", what, d,
               a->grad_norm, b->grad_norm);
    CHECK(d < 1e-5);
    CHECK(a->grad_norm > 0);
    CHECK_CLOSE(a->grad_norm, b->grad_norm, 1e-5, 0.0);
    CHECK(a->n_layer_norms == b->n_layer_norms);
    for (int i = 0; i < a->n_layer_norms && i < b->n_layer_norms; i++)
        CHECK_CLOSE(a->layer_norms[i], b->layer_norms[i], 1e-5, 0.0);
}

static void free_results(result *r, int n)
{
    for (int i = 0; i < n; i++) free(r[i].params);
}

/* Sharded against unsharded for one optimizer, with up to two more
 * overrides on both sides. */
static void parity(dt_comm *comm, const char *optim, const char *extra, const char *extra2)
{
    write_config(comm, optim);
    result r[2] = {train(comm, extra, extra2, NULL),
                   train(comm, "optim.shard=true", extra, extra2)};
    char what[200];
    snprintf(what, sizeof what, "%s %s %s", optim, extra ? extra : "", extra2 ? extra2 : "");
    expect_close(comm, what, &r[1], &r[0]);
    /* The memory record of metrics.jsonl: the state divided by the ranks. */
    const long long world = dt_comm_size(comm);
    if (dt_comm_rank(comm) == 0)
        CHECK(r[0].state_bytes > 0 && r[1].state_bytes * world >= r[0].state_bytes &&
              r[1].state_bytes * world <= r[0].state_bytes + 2 * 4 * DT_SHARD_ALIGN * world);
    if (extra && strstr(extra, "log_grad_norms") && dt_comm_rank(comm) == 0)
        CHECK(r[0].n_layer_norms == 2 && r[0].layer_norms[0] > 0); /* two linear layers */
    free_results(r, 2);
}

/* State bytes per rank: the shard rule's share of the total. */
static void state_bytes(dt_comm *comm)
{
    write_config(comm, "{kind: adam, lr: 0.01}");
    char path[300], *ov[1] = {"optim.shard=true"};
    snprintf(path, sizeof path, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    dt_trainer *t = NULL;
    CHECK_OK(dt_session_create(path, ov, 1, comm, DT_NEED_DATA, &s));
    if (!s) return;
    CHECK_OK(dt_trainer_create(s, &t));
    const int world = dt_comm_size(comm);
    const int64_t n = s->model->n_params, total = 2 * n * (int64_t)sizeof(float);
    const int64_t mine = dt_optim_state_bytes(s->optim);
    CHECK(s->optim->n_state == 2);
    CHECK(mine == 2 * s->optim->len * (int64_t)sizeof(float));
    CHECK(s->optim->lo % DT_SHARD_ALIGN == 0);
    /* each shard within the alignment of total / ranks */
    CHECK(llabs(mine * world - total) <= 2 * DT_SHARD_ALIGN * (int64_t)sizeof(float) * world);
    double sum[1] = {(double)mine}; /* exact: far below 2^53 */
    CHECK_OK(dt_comm_allreduce_f64(comm, sum, 1));
    CHECK((int64_t)sum[0] == total);
    dt_memory_report mem;
    CHECK_OK(dt_trainer_memory(t, &mem));
    CHECK(mem.sharded && mem.params == n * 4 && mem.optim_state >= mine);
    CHECK(mem.optim_state < total);
    if (dt_comm_rank(comm) == 0)
        printf("optimizer state per rank: %lld of %lld bytes on %d ranks\n",
               (long long)mem.optim_state, (long long)total, world);
    dt_trainer_destroy(t);
    dt_session_destroy(s);
}

/* Resume a sharded run exactly, and load its checkpoint unsharded; an
 * unsharded checkpoint resumed sharded. Returns the uninterrupted run. */
static result resume(dt_comm *comm)
{
    write_config(comm, "{kind: adamw, lr: 0.01, weight_decay: 0.05}");
    char ckpt[400];
    snprintf(ckpt, sizeof ckpt, "train.resume=%s/runs/part/checkpoints/last.h5", g_dir);
    result full = train(comm, "optim.shard=true", "train.max_steps=9", NULL);
    result part = train(comm, "optim.shard=true", "train.max_steps=4", "train.name=part");
    result rest = train(comm, "optim.shard=true", "train.max_steps=9", ckpt);
    result plain = train(comm, "train.max_steps=9", ckpt, NULL);
    CHECK(same_bits(&full, &rest));
    CHECK(!same_bits(&full, &part));
    expect_close(comm, "sharded checkpoint resumed unsharded", &plain, &full);

    snprintf(ckpt, sizeof ckpt, "train.resume=%s/runs/plain/checkpoints/last.h5", g_dir);
    result plain_part = train(comm, "train.max_steps=4", "train.name=plain", NULL);
    result sharded_rest = train(comm, "optim.shard=true", "train.max_steps=9", ckpt);
    expect_close(comm, "unsharded checkpoint resumed sharded", &sharded_rest, &full);
    result all[5] = {part, rest, plain, plain_part, sharded_rest};
    free_results(all, 5);
    return full;
}

/* The first two ranks resume the checkpoint of the whole world's sharded
 * run (of 3 ranks under -np 3) sharded over 2, and end near that run. */
static void resume_other_world(dt_comm *group, const result *full)
{
    write_config(group, "{kind: adamw, lr: 0.01, weight_decay: 0.05}");
    char ckpt[400];
    snprintf(ckpt, sizeof ckpt, "train.resume=%s/runs/part/checkpoints/last.h5", g_dir);
    result r = train(group, "optim.shard=true", "train.max_steps=9", ckpt);
    expect_close(group, "checkpoint of the world resumed sharded on 2 ranks", &r, full);
    free(r.params);
}

/* 64 as 4 micro-steps of 16 against one step of 64. */
static void accumulation(dt_comm *comm, const char *shard)
{
    write_config(comm, "{kind: sgd, lr: 0.1, momentum: 0.9}");
    result r[2] = {train(comm, "train.batch_size=64", shard, NULL),
                   train(comm, "train.batch_size=64", "train.accumulation=4", shard)};
    expect_close(comm, shard ? "accumulation 4 x 16 = 64, sharded" : "accumulation 4 x 16 = 64",
                 &r[1], &r[0]);
    /* The reducer sends its buckets once per optimizer step, on the last
     * micro-step only: as many buckets as without accumulation. */
    CHECK(r[0].steps > 0 && r[1].steps == r[0].steps);
    CHECK(r[0].buckets > 0 && r[1].buckets == r[0].buckets);
    free_results(r, 2);
}

static void precision(dt_comm *comm)
{
    char path[300], *ov[1] = {"train.precision=bf16"};
    snprintf(path, sizeof path, "%s/run.yaml", g_dir);
    dt_session *s = NULL;
    const dt_status st = dt_session_create(path, ov, 1, comm, DT_NEED_DATA, &s);
    CHECK(st != DT_OK && !s);
    CHECK(strstr(dt_error_message(), "precision") && strstr(dt_error_message(), "bf16"));
    CHECK(strstr(dt_error_message(), "backend that supports"));
    dt_session_destroy(s);
}

int main(int argc, char **argv)
{
    dt_comm *world, *group;
    CHECK_OK(dt_comm_init_world(&argc, &argv, &world));
    const int rank = dt_comm_rank(world), size = dt_comm_size(world);
    snprintf(g_dir, sizeof g_dir, "shard-np%d", size);
    if (rank == 0) {
        mkdir(g_dir, 0775);
        dt_test_write_blobs(g_dir, 11, 300, 10, 1.5f);
    }
    dt_comm_barrier(world);

    parity(world, "{kind: sgd, lr: 0.1, momentum: 0.9}", NULL, NULL);
    parity(world, "{kind: adam, lr: 0.01}", NULL, NULL);
    parity(world, "{kind: adamw, lr: 0.01, weight_decay: 0.1, no_decay_bias_norm: true}",
           NULL, NULL);
    parity(world, "{kind: lamb, lr: 0.01, weight_decay: 0.01, no_decay_bias_norm: true, "
                  "clip_grad_norm: 0.5}", "train.log_grad_norms=true", NULL);
    parity(world, "{kind: lars, lr: 0.1, weight_decay: 0.001}", NULL, NULL);
    /* 4,203 parameters in buckets of 1,048 floats: five reduce-scatters per
     * step, each cut differently by the shard boundaries. */
    parity(world, "{kind: lamb, lr: 0.01, weight_decay: 0.01}", "model.layers.0.units=300",
           "dist.bucket_mb=0.004");
    state_bytes(world);
    result full = resume(world);
    accumulation(world, NULL);
    accumulation(world, "optim.shard=true");
    precision(world);

    /* Rank groups: the first two ranks and the rest each shard over their
     * own communicator (each group writes its own directory). */
    CHECK_OK(dt_comm_split(world, rank < 2 ? 0 : 1, rank, &group));
    if (rank < 2) resume_other_world(group, &full);
    free(full.params);
    snprintf(g_dir, sizeof g_dir, "shard-np%d", size);
    if (rank >= 2) snprintf(g_dir, sizeof g_dir, "shard-np%d/group1", size);
    if (rank == 2) {
        mkdir(g_dir, 0775);
        dt_test_write_blobs(g_dir, 11, 300, 10, 1.5f);
    }
    dt_comm_barrier(world);
    parity(group, "{kind: lamb, lr: 0.01, weight_decay: 0.01}", NULL, NULL);
    dt_comm_destroy(group, 0);

    int64_t failures[1] = {dt_test_failures};
    dt_comm_allreduce_max_i64(world, failures, 1);
    dt_comm_destroy(world, 1);
    return dt_test_result();
}
