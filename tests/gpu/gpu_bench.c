/* gpu_bench: training throughput of one device on synthetic data, for
 * machines where the dtrain executable cannot be built or run (GPU hosts
 * without MPI or HDF5). It links the compute library alone.
 *
 * usage: gpu_bench CONFIG [--device cuda|cpu] [--batch N] [--steps N]
 *                         [--intervals N] [--warmup N] [KEY=VALUE ...]
 *
 * The config is a dtrain config (model.input, model.layers, optim; the
 * loss is cross-entropy over the model's outputs); KEY=VALUE overrides it
 * as on the dtrain command line. Each step uploads a fresh batch (two
 * synthetic batches used in turn, through the backend's upload), runs
 * forward, the loss (whose sums come back to the host), backward and the
 * optimizer step, as `dtrain bench` does on one rank. Whole steps are
 * timed after warm-up, in several intervals; the median is reported with
 * the achieved GFLOP/s (6 flops per multiply-add per sample), last line:
 *     result: samples_per_s=S gflops=G batch=B device=D */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/backend_cuda.h"
#include "core/config.h"
#include "core/rng.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "optim/optim.h"

typedef struct bench_args {
    const char *config, *device;
    int64_t batch;
    int steps, intervals, warmup;
    const char *overrides[32];
    int n_overrides;
} bench_args;

typedef struct bench {
    const dt_backend *be;
    dt_cfg *cfg;
    dt_model *m;
    dt_optim *o;
    dt_loss loss;
    int64_t in, classes, batch;
    float *host_x[2], *host_y[2], *dev_x[2], *dev_y[2];
    int64_t *index;
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.device = "cuda", .batch = 0, .steps = 50, .intervals = 5, .warmup = 10};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        if (strcmp(s, "--device") == 0 && more) a->device = argv[++i];
        else if (strcmp(s, "--batch") == 0 && more) a->batch = atoll(argv[++i]);
        else if (strcmp(s, "--steps") == 0 && more) a->steps = atoi(argv[++i]);
        else if (strcmp(s, "--intervals") == 0 && more) a->intervals = atoi(argv[++i]);
        else if (strcmp(s, "--warmup") == 0 && more) a->warmup = atoi(argv[++i]);
        else if (strchr(s, '=') && a->n_overrides < 32) a->overrides[a->n_overrides++] = s;
        else if (!a->config && s[0] != '-') a->config = s;
        else return 0;
    }
    return a->config && a->steps > 0 && a->intervals > 0 && a->intervals <= 64 &&
           a->warmup >= 0;
}

/* Config, backend, model, optimizer and two synthetic batches. */
static dt_status bench_open(const bench_args *a, bench *b)
{
    DT_TRY(dt_cfg_load_file(a->config, &b->cfg));
    for (int i = 0; i < a->n_overrides; i++) DT_TRY(dt_cfg_override(b->cfg, a->overrides[i]));
    dt_cfg *model_cfg, *optim_cfg, *train_cfg = dt_cfg_get(b->cfg, "train");
    DT_TRY(dt_cfg_require(b->cfg, "model", DT_CFG_MAP, &model_cfg));
    DT_TRY(dt_cfg_require(b->cfg, "optim", DT_CFG_MAP, &optim_cfg));
    int64_t dims[8], batch = a->batch;
    int nd = 8;
    DT_TRY(dt_cfg_int_list(model_cfg, "input", dims, &nd));
    if (batch <= 0 && train_cfg)
        DT_TRY(dt_cfg_int(train_cfg, "batch_size", 64, 1, 1 << 24, &batch));
    if (batch <= 0) batch = 64;
    b->batch = batch;

    if (strcmp(a->device, "cuda") == 0) DT_TRY(dt_backend_cuda_open(0, &b->be));
    else b->be = dt_backend_cpu();
    const dt_shape in = dt_shape_make(nd, dims);
    DT_TRY(dt_model_build(model_cfg, &in, b->be, &b->m));
    dt_model_reserve(b->m, batch);
    dt_model_init_params(b->m, 1);
    DT_TRY(dt_optim_create(optim_cfg, b->be, b->m->n_params, 1 << 30, &b->o));
    b->in = dt_shape_numel(&in);
    b->classes = dt_shape_numel(dt_model_out_shape(b->m));
    b->loss = (dt_loss){.kind = DT_LOSS_CROSS_ENTROPY, .out_dim = b->classes, .y_dim = 1};

    const dt_rng r = dt_rng_make(1, DT_RNG_USER, 7, 0);
    b->index = calloc((size_t)batch, sizeof(int64_t));
    for (int k = 0; k < 2; k++) {
        b->host_x[k] = malloc((size_t)(batch * b->in) * sizeof(float));
        b->host_y[k] = malloc((size_t)batch * sizeof(float));
        dt_rng_fill_uniform(&r, (uint64_t)(k * batch * b->in), b->host_x[k], batch * b->in, 0, 1);
        for (int64_t i = 0; i < batch; i++)
            b->host_y[k][i] = (float)((i * 7 + k * 3) % b->classes);
        b->dev_x[k] = b->be->alloc((size_t)(batch * b->in) * sizeof(float));
        b->dev_y[k] = b->be->alloc((size_t)batch * sizeof(float));
    }
    for (int64_t i = 0; i < batch; i++) b->index[i] = i;
    return b->be->sync();
}

/* One training step on batch k (mod 2). */
static void bench_step(bench *b, int64_t batch, int64_t k)
{
    const int s = (int)(k % 2);
    void *const dst[2] = {b->dev_x[s], b->dev_y[s]};
    const void *const src[2] = {b->host_x[s], b->host_y[s]};
    const size_t bytes[2] = {(size_t)(batch * b->in) * sizeof(float),
                             (size_t)batch * sizeof(float)};
    b->be->upload(dst, src, bytes, 2);
    const dt_pass p = {.be = b->be, .n = batch, .index = b->index, .step = b->o->step,
                       .seed = 1, .training = 1, .overwrite_grads = 1};
    dt_model_forward(b->m, b->dev_x[s], &p);
    (void)dt_loss_compute(&b->loss, b->be, dt_model_output(b->m), b->dev_y[s], batch,
                          1.0f / (float)batch, dt_model_output_grad(b->m));
    dt_model_backward(b->m, &p, NULL, NULL);
    dt_optim_step(b->o, b->m->params, b->m->grads);
}

static void bench_close(bench *b)
{
    for (int k = 0; k < 2; k++) {
        if (b->be && b->dev_x[k]) b->be->free(b->dev_x[k]);
        if (b->be && b->dev_y[k]) b->be->free(b->dev_y[k]);
        free(b->host_x[k]);
        free(b->host_y[k]);
    }
    free(b->index);
    dt_optim_destroy(b->o);
    dt_model_destroy(b->m);
    dt_cfg_free(b->cfg);
}

int main(int argc, char **argv)
{
    bench_args a;
    if (!parse_args(argc, argv, &a)) {
        fprintf(stderr, "usage: gpu_bench CONFIG [--device cuda|cpu] [--batch N] [--steps N] "
                        "[--intervals N] [--warmup N] [KEY=VALUE ...]\n");
        return 2;
    }
    bench b = {0};
    dt_status st = bench_open(&a, &b);
    const int64_t batch = b.batch;
    double rates[64];
    int64_t k = 0;
    for (int w = 0; st == DT_OK && w < a.warmup; w++) bench_step(&b, batch, k++);
    if (st == DT_OK) st = b.be->sync();
    for (int i = 0; st == DT_OK && i < a.intervals; i++) {
        const double t0 = now_s();
        for (int j = 0; j < a.steps; j++) bench_step(&b, batch, k++);
        st = b.be->sync();
        rates[i] = (double)(batch * a.steps) / (now_s() - t0);
    }
    if (st != DT_OK) {
        fprintf(stderr, "gpu_bench: %s\n", dt_error_message());
        bench_close(&b);
        return 1;
    }
    qsort(rates, (size_t)a.intervals, sizeof *rates, cmp_double);
    const double med = rates[a.intervals / 2];
    const double gflops = med * 6.0 * (double)dt_model_macs(b.m) / 1e9;
    printf("%s on %s: %lld parameters, batch %lld, %.0f samples/s (median of %d x %d steps), "
           "%.1f GFLOP/s\n", a.config, b.be->name, (long long)b.m->n_params, (long long)batch,
           med, a.intervals, a.steps, gflops);
    printf("result: samples_per_s=%.1f gflops=%.2f batch=%lld device=%s\n", med, gflops,
           (long long)batch, b.be->name);
    bench_close(&b);
    return 0;
}
