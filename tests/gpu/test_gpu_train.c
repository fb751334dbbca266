/* One rank trains the same model for K steps on the CPU and on the GPU,
 * from the same parameters, on the same batches, and the two runs must
 * agree: the loss of every step and, at the end, every parameter.
 *
 * Three models: an MLP with every kind of op a dense training step uses
 * (GEMMs, bias, column sums, gelu, relu, dropout with its Philox masks,
 * cross-entropy with label smoothing, the fused optimizer step); a small
 * CNN (convolution with padding and with stride, batch norm, ReLU, max and
 * average pooling, dropout); a 2-layer LSTM over 12 steps of 10
 * features; and a one-block transformer classifier over 12 tokens
 * (embedding, positions, attention with dropout, layer norm, the first
 * token's state into a linear layer). Tolerances: with SGD and momentum the runs differ only by
 * float rounding, which stays small: per-step loss rtol 1e-4, parameters
 * |gpu - cpu| <= 1e-4 (they are of order 0.1); the CNN's batch norm
 * divides by batch standard deviations, the LSTM's steps compound
 * through 12 time steps and the transformer has a softmax and a layer norm
 * in series, so theirs are 1e-3 on parameters. Adam divides
 * by sqrt(v), which magnifies rounding on near-zero gradients up to the
 * step size, so its check is on the loss, rtol 1e-3. */
#include <stdio.h>

#include "core/config.h"
#include "gpu_test.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "optim/optim.h"

#define K 8
#define BATCH 96
#define CLASSES 10

/* A model, its input shape and its input size per sample; vocab > 0:
 * the inputs are token ids below vocab. */
typedef struct model_case {
    const char *name, *yaml;
    int ndim;
    int64_t dim[3];
    int vocab;
} model_case;

static const model_case g_mlp = {
    "mlp",
    "layers:\n"
    "  - {kind: linear, units: 128}\n"
    "  - {kind: gelu}\n"
    "  - {kind: dropout, p: 0.2}\n"
    "  - {kind: linear, units: 64, init: he}\n"
    "  - {kind: relu}\n"
    "  - {kind: linear, units: 10}\n",
    1, {64}, 0};

static const model_case g_cnn = {
    "cnn",
    "layers:\n"
    "  - {kind: conv2d, channels: 8, kernel: 3, padding: 1}\n"
    "  - {kind: batch_norm}\n"
    "  - {kind: relu}\n"
    "  - {kind: max_pool2d, kernel: 2}\n"
    "  - {kind: dropout, p: 0.1}\n"
    "  - {kind: conv2d, channels: 12, kernel: 3, stride: 2}\n"
    "  - {kind: batch_norm}\n"
    "  - {kind: relu}\n"
    "  - {kind: avg_pool2d, kernel: 2}\n"
    "  - {kind: flatten}\n"
    "  - {kind: linear, units: 10}\n",
    3, {1, 13, 11}, 0};

static const model_case g_lstm = {
    "lstm",
    "layers:\n"
    "  - {kind: lstm, hidden: 24, layers: 2, return: last}\n"
    "  - {kind: linear, units: 10}\n",
    3, {1, 12, 10}, 0};

static const model_case g_transformer = {
    "transformer",
    "layers:\n"
    "  - {kind: embedding, vocab: 16, dim: 16}\n"
    "  - {kind: position_embedding, max_len: 12}\n"
    "  - {kind: attention, heads: 2, dropout: 0.1}\n"
    "  - {kind: layer_norm, axis: last}\n"
    "  - {kind: select_token, index: 0}\n"
    "  - {kind: linear, units: 10}\n",
    1, {12}, 16};

static int64_t in_numel(const model_case *mc)
{
    int64_t n = 1;
    for (int i = 0; i < mc->ndim; i++) n *= mc->dim[i];
    return n;
}

typedef struct run {
    dt_cfg *model_cfg, *optim_cfg;
    dt_model *m;
    dt_optim *o;
    float *x, *y; /* the batches on the run's device */
    double loss[K];
} run;

/* Train K steps on `be`; each step takes batch (step mod 2) of xs/ys. */
static int train(run *r, const model_case *mc, const dt_backend *be, const char *optim_yaml,
                 const float *xs, const float *ys)
{
    const dt_shape in = dt_shape_make(mc->ndim, mc->dim);
    const int64_t IN = in_numel(mc);
    CHECK_OK(dt_cfg_load_string(mc->yaml, "model", &r->model_cfg));
    CHECK_OK(dt_cfg_load_string(optim_yaml, "optim", &r->optim_cfg));
    if (!r->model_cfg || !r->optim_cfg) return 0;
    CHECK_OK(dt_model_build(r->model_cfg, &in, be, &r->m));
    if (!r->m) return 0;
    dt_model_reserve(r->m, BATCH);
    dt_model_init_params(r->m, 7);
    CHECK_OK(dt_optim_create(r->optim_cfg, be, r->m->n_params, K, &r->o));
    if (!r->o) return 0;

    const dt_loss loss = {.kind = DT_LOSS_CROSS_ENTROPY, .label_smoothing = 0.1f,
                          .out_dim = CLASSES, .y_dim = 1};
    r->x = dev_from(be, xs, 2 * BATCH * IN);
    r->y = dev_from(be, ys, 2 * BATCH);
    int64_t index[BATCH];
    for (int k = 0; k < K; k++) {
        const int b = k % 2;
        for (int i = 0; i < BATCH; i++) index[i] = (int64_t)b * BATCH + i;
        const dt_pass p = {.be = be, .n = BATCH, .index = index, .step = r->o->step, .seed = 7,
                           .training = 1, .overwrite_grads = 1};
        dt_model_forward(r->m, r->x + (int64_t)b * BATCH * IN, &p);
        const dt_loss_sums ls = dt_loss_compute(&loss, be, dt_model_output(r->m),
                                                r->y + (int64_t)b * BATCH, BATCH,
                                                1.0f / BATCH, dt_model_output_grad(r->m));
        dt_model_backward(r->m, &p, NULL, NULL);
        dt_optim_step(r->o, r->m->params, r->m->grads);
        r->loss[k] = ls.loss / BATCH;
    }
    CHECK_OK(be->sync());
    return 1;
}

static void run_free(run *r, const dt_backend *be)
{
    if (r->x) be->free(r->x);
    if (r->y) be->free(r->y);
    dt_optim_destroy(r->o);
    dt_model_destroy(r->m);
    dt_cfg_free(r->model_cfg);
    dt_cfg_free(r->optim_cfg);
}

static void compare_runs(const model_case *mc, const char *label, const dt_backend *gpu,
                         const char *optim_yaml, double loss_rtol, double param_atol,
                         const float *xs, const float *ys)
{
    run c = {0}, g = {0};
    if (train(&c, mc, dt_backend_cpu(), optim_yaml, xs, ys) &&
        train(&g, mc, gpu, optim_yaml, xs, ys)) {
        for (int k = 0; k < K; k++) {
            printf("%s %s step %d: loss cpu %.7f gpu %.7f\n", mc->name, label, k + 1,
                   c.loss[k], g.loss[k]);
            CHECK_CLOSE(g.loss[k], c.loss[k], loss_rtol, 0.0);
        }
        CHECK(c.loss[K - 1] < c.loss[0]); /* it learns at all */
        if (param_atol > 0) {
            char what[64];
            snprintf(what, sizeof what, "%s %s parameters after %d steps", mc->name, label, K);
            compare(what, gpu, g.m->params, c.m->params, c.m->n_params, 0.0, param_atol);
        }
    }
    run_free(&c, dt_backend_cpu());
    run_free(&g, gpu);
}

/* Two batches of inputs in [-1, 1) whose labels follow the inputs (the
 * arg-max of the first 10 features), so the loss falls; token models get
 * ids, labelled by the first id (mod 10). */
static void make_batches(int64_t in, int vocab, float **xs, float *ys)
{
    *xs = host_random(2 * BATCH * in, 1, vocab ? 0.0f : -1.0f, vocab ? (float)vocab : 1.0f);
    for (int i = 0; vocab && i < 2 * BATCH; i++) {
        for (int64_t j = 0; j < in; j++) (*xs)[i * in + j] = floorf((*xs)[i * in + j]);
        ys[i] = (float)((int)(*xs)[i * in] % CLASSES);
    }
    for (int i = 0; !vocab && i < 2 * BATCH; i++) {
        int arg = 0;
        for (int j = 1; j < CLASSES; j++) arg = (*xs)[i * in + j] > (*xs)[i * in + arg] ? j : arg;
        ys[i] = (float)arg;
    }
}

int main(void)
{
    int skip;
    const dt_backend *gpu = gpu_open(0, &skip);
    if (skip) return DT_GPU_SKIP;
    if (!gpu) return dt_test_result();

    static const char *const sgd = "kind: sgd\nlr: 0.1\nmomentum: 0.9\nweight_decay: 0.0001\n";
    static const char *const adam = "kind: adam\nlr: 0.003\n";
    const struct {
        const model_case *mc;
        double sgd_param_atol;
    } cases[] = {{&g_mlp, 1e-4}, {&g_cnn, 1e-3}, {&g_lstm, 1e-3}, {&g_transformer, 1e-3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float *xs, ys[2 * BATCH];
        make_batches(in_numel(cases[i].mc), cases[i].mc->vocab, &xs, ys);
        compare_runs(cases[i].mc, "sgd", gpu, sgd, 1e-4, cases[i].sgd_param_atol, xs, ys);
        compare_runs(cases[i].mc, "adam", gpu, adam, 1e-3, 0.0, xs, ys);
        free(xs);
    }
    return dt_test_result();
}
