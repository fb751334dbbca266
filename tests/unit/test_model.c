/* Unit tests for building models (src/nn/model.c and the layers' setup):
 * the errors a user can make in the `model` section and what they say,
 * the loss/output checks of dt_loss_setup, parameter counts and layout in
 * PyTorch's conventions, multiply-add counts, initialization, and the
 * scratch arena (src/core/arena.c). */
#include "nn/model.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/arena.h"
#include "nn/loss.h"
#include "test_util.h"

/* Check that the last error message contains `needle`. */
#define CHECK_MSG(needle)                                                      \
    do {                                                                       \
        if (!strstr(dt_error_message(), (needle))) {                           \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,  \
                    __LINE__, dt_error_message(), (needle));                   \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

static const int64_t k_in5[1] = {5}, k_in234[3] = {2, 3, 4}, k_mnist[3] = {1, 28, 28};

/* Build from YAML text named "model.yaml"; *cfg is freed by the caller. */
static dt_status build(const char *yaml, int ndim, const int64_t *dims, dt_cfg **cfg,
                       dt_model **m)
{
    const dt_shape in = dt_shape_make(ndim, dims);
    *m = NULL;
    *cfg = NULL;
    const dt_status s = dt_cfg_load_string(yaml, "model.yaml", cfg);
    if (s != DT_OK) return s;
    return dt_model_build(*cfg, &in, dt_backend_cpu(), m);
}

/* Expect the build to fail with `want`, and the message to contain each of
 * the NULL-terminated needles. */
static void expect_error(int line, const char *yaml, int ndim, const int64_t *dims,
                         dt_status want, const char *const *needles)
{
    dt_cfg *cfg;
    dt_model *m;
    dt_error_clear();
    const dt_status s = build(yaml, ndim, dims, &cfg, &m);
    if (s != want || m != NULL) {
        fprintf(stderr, "%s:%d: build gave %s (%s), expected %s\n", __FILE__, line,
                dt_status_name(s), dt_error_message(), dt_status_name(want));
        dt_test_failures++;
    }
    for (int i = 0; needles[i]; i++) {
        if (!strstr(dt_error_message(), needles[i])) {
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, line,
                    dt_error_message(), needles[i]);
            dt_test_failures++;
        }
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

#define EXPECT_ERROR(yaml, ndim, dims, want, ...)                              \
    expect_error(__LINE__, yaml, ndim, dims, want, (const char *const[]){__VA_ARGS__, NULL})

static void test_build_errors(void)
{
    /* Unknown kind: the line, the key, what was found and every kind. */
    EXPECT_ERROR("layers:\n"
                 "  - {kind: linear, units: 4}\n"
                 "  - {kind: dense, units: 3}\n",
                 1, k_in5, DT_ERR_CONFIG, "model.yaml:3", "'layers.1.kind'", "'dense'",
                 "linear, relu, leaky_relu, sigmoid, tanh, gelu, softmax, dropout, flatten, "
                 "reshape, add, concat");
    EXPECT_ERROR("layers:\n  - {units: 3}\n", 1, k_in5, DT_ERR_CONFIG, "kind");

    /* Inputs that name no earlier layer. */
    EXPECT_ERROR("layers:\n"
                 "  - {kind: linear, units: 4, name: a}\n"
                 "  - {kind: linear, units: 4, inputs: [nope]}\n",
                 1, k_in5, DT_ERR_CONFIG, "model.yaml:3", "'nope'", "layers.1.inputs");
    EXPECT_ERROR("layers:\n"
                 "  - {kind: linear, units: 4, name: a, inputs: [later]}\n"
                 "  - {kind: linear, units: 4, name: later}\n",
                 1, k_in5, DT_ERR_CONFIG, "model.yaml:2", "'later'");
    EXPECT_ERROR("layers:\n  - {kind: add, inputs: [input, self], name: self}\n", 1, k_in5,
                 DT_ERR_CONFIG, "'self'");

    /* Names must be unique, and "input" is taken. */
    EXPECT_ERROR("layers:\n"
                 "  - {kind: linear, units: 4, name: fc}\n"
                 "  - {kind: relu}\n"
                 "  - {kind: linear, units: 4, name: fc}\n",
                 1, k_in5, DT_ERR_CONFIG, "model.yaml:4", "'fc' used twice");
    EXPECT_ERROR("layers:\n  - {kind: relu, name: input}\n", 1, k_in5, DT_ERR_CONFIG,
                 "'input'");

    /* Reshape sizes. */
    EXPECT_ERROR("layers:\n  - {kind: reshape, shape: [5, 5]}\n", 3, k_in234, DT_ERR_CONFIG,
                 "model.yaml:2", "layer 'reshape1'", "(5, 5)", "(2, 3, 4)");
    EXPECT_ERROR("layers:\n  - {kind: reshape, shape: [-1, 5]}\n", 3, k_in234, DT_ERR_CONFIG,
                 "(2, 3, 4)");
    EXPECT_ERROR("layers:\n  - {kind: reshape, shape: [-1, -1]}\n", 3, k_in234,
                 DT_ERR_CONFIG, "-1");
    EXPECT_ERROR("layers:\n  - {kind: reshape, shape: [0, 24]}\n", 3, k_in234, DT_ERR_CONFIG,
                 "positive");
    EXPECT_ERROR("layers:\n  - {kind: reshape}\n", 3, k_in234, DT_ERR_CONFIG, "shape");

    /* Merges. */
    EXPECT_ERROR("layers:\n"
                 "  - {kind: linear, units: 4, name: a}\n"
                 "  - {kind: linear, units: 3, name: b, inputs: [input]}\n"
                 "  - {kind: add, inputs: [a, b]}\n",
                 1, k_in5, DT_ERR_CONFIG, "model.yaml:4", "layer 'add3'", "(4) and (3)");
    EXPECT_ERROR("layers:\n  - {kind: linear, units: 4}\n  - {kind: add}\n", 1, k_in5,
                 DT_ERR_CONFIG, "at least two inputs");
    EXPECT_ERROR("layers:\n"
                 "  - {kind: reshape, shape: [2, 4, 3], name: r}\n"
                 "  - {kind: concat, inputs: [input, r]}\n",
                 3, k_in234, DT_ERR_CONFIG, "(2, 3, 4) and (2, 4, 3)");

    /* A one-input layer given several inputs would silently drop all but
     * the first. */
    EXPECT_ERROR("layers:\n"
                 "  - {kind: linear, units: 5, name: a}\n"
                 "  - {kind: relu, inputs: [a, input]}\n",
                 1, k_in5, DT_ERR_CONFIG, "model.yaml:3", "one input");
    EXPECT_ERROR("layers:\n  - {kind: linear, units: 5, inputs: [input, input]}\n", 1, k_in5,
                 DT_ERR_CONFIG, "one input");

    /* Per-kind keys. */
    EXPECT_ERROR("layers:\n  - {kind: linear}\n", 1, k_in5, DT_ERR_CONFIG, "'layers.0.units'");
    EXPECT_ERROR("layers:\n  - {kind: linear, units: 0}\n", 1, k_in5, DT_ERR_CONFIG, "units");
    EXPECT_ERROR("layers:\n  - {kind: linear, units: 2, init: glorot}\n", 1, k_in5,
                 DT_ERR_CONFIG, "glorot");
    EXPECT_ERROR("layers:\n  - {kind: dropout, p: 1.0}\n", 1, k_in5, DT_ERR_CONFIG,
                 "'layers.0.p'");
    EXPECT_ERROR("layers:\n  - {kind: leaky_relu, slope: steep}\n", 1, k_in5, DT_ERR_CONFIG,
                 "steep");

    /* The list itself. */
    EXPECT_ERROR("name: x\n", 1, k_in5, DT_ERR_CONFIG, "layers");
    EXPECT_ERROR("layers: []\n", 1, k_in5, DT_ERR_CONFIG, "at least one layer");
    EXPECT_ERROR("layers:\n  - relu\n", 1, k_in5, DT_ERR_CONFIG, "model.yaml:2");
}

/* dt_loss_setup checks the model's output against the labels. */
static void check_loss_setup(int line, const char *yaml, int64_t out_units, int classes,
                             int y_dim, dt_status want, const char *needle)
{
    dt_cfg *cfg = NULL;
    dt_loss loss;
    const dt_shape out = dt_shape_make(1, &out_units);
    CHECK_OK(dt_cfg_load_string(yaml, "loss.yaml", &cfg));
    dt_error_clear();
    const dt_status s = dt_loss_setup(cfg, &out, classes > 0, classes, y_dim, &loss);
    if (s != want || (needle && !strstr(dt_error_message(), needle))) {
        fprintf(stderr, "%s:%d: loss setup gave %s \"%s\", expected %s with \"%s\"\n",
                __FILE__, line, dt_status_name(s), dt_error_message(), dt_status_name(want),
                needle ? needle : "");
        dt_test_failures++;
    }
    dt_cfg_free(cfg);
}

static void test_loss_setup(void)
{
    check_loss_setup(__LINE__, "kind: cross_entropy", 5, 3, 1, DT_ERR_SHAPE, "expected 3");
    check_loss_setup(__LINE__, "kind: cross_entropy", 3, 3, 1, DT_OK, NULL);
    check_loss_setup(__LINE__, "kind: mse", 5, 0, 3, DT_ERR_SHAPE, "expected 3");
    check_loss_setup(__LINE__, "kind: mse", 3, 0, 3, DT_OK, NULL);
    check_loss_setup(__LINE__, "kind: gaussian_nll", 3, 0, 3, DT_ERR_SHAPE, "expected 6");
    check_loss_setup(__LINE__, "kind: gaussian_nll", 6, 0, 3, DT_OK, NULL);
    check_loss_setup(__LINE__, "kind: cross_entropy", 3, 0, 3, DT_ERR_CONFIG, "regression");
    check_loss_setup(__LINE__, "kind: mse", 3, 3, 1, DT_ERR_CONFIG, "class labels");
    check_loss_setup(__LINE__, "kind: hinge", 3, 3, 1, DT_ERR_CONFIG, "'kind'");
    check_loss_setup(__LINE__, "{kind: cross_entropy, label_smoothing: 1.5}", 3, 3, 1,
                     DT_ERR_CONFIG, "'label_smoothing'");

    /* Defaults follow the labels; the dimensions are recorded. */
    dt_cfg *cfg = NULL;
    dt_loss loss;
    const int64_t six = 6;
    const dt_shape out6 = dt_shape_make(1, &six);
    CHECK_OK(dt_cfg_load_string("label_smoothing: 0.25", "loss.yaml", &cfg));
    CHECK_OK(dt_loss_setup(cfg, &out6, 1, 6, 1, &loss));
    CHECK(loss.kind == DT_LOSS_CROSS_ENTROPY && loss.label_smoothing == 0.25f);
    CHECK(loss.out_dim == 6);
    CHECK_OK(dt_loss_setup(NULL, &out6, 0, 0, 6, &loss));
    CHECK(loss.kind == DT_LOSS_MSE && loss.y_dim == 6);
    CHECK(strcmp(dt_loss_name(DT_LOSS_GAUSSIAN_NLL), "gaussian_nll") == 0);
    dt_cfg_free(cfg);
}

/* The MNIST MLP of the PyTorch tutorials: nn.Linear(784, 256), ReLU,
 * nn.Linear(256, 10) has 784*256 + 256 + 256*10 + 10 = 203,530 parameters. */
static void test_param_counts(void)
{
    dt_cfg *cfg;
    dt_model *m;
    CHECK_OK(build("layers:\n"
                   "  - {kind: flatten}\n"
                   "  - {kind: linear, units: 256, name: fc1}\n"
                   "  - {kind: relu}\n"
                   "  - {kind: dropout, p: 0.2}\n"
                   "  - {kind: linear, units: 10, name: fc2}\n",
                   3, k_mnist, &cfg, &m));
    if (m) {
        CHECK(m->n_params == 203530);
        CHECK(dt_model_macs(m) == 784 * 256 + 256 * 10);
        CHECK(m->n_layers == 5);
        CHECK(dt_shape_numel(dt_model_out_shape(m)) == 10);

        /* Weight (out, in) then bias, layer after layer. */
        const dt_layer *fc1 = dt_model_find(m, "fc1"), *fc2 = dt_model_find(m, "fc2");
        CHECK(fc1 && fc2 && fc1->n_params == 2 && fc2->n_params == 2);
        if (fc1 && fc2) {
            CHECK(fc1->params[0].shape.ndim == 2 && fc1->params[0].shape.dim[0] == 256 &&
                  fc1->params[0].shape.dim[1] == 784);
            CHECK(fc1->params[0].offset == 0 && fc1->params[1].offset == 200704);
            CHECK(fc2->params[0].offset == 200960 && fc2->params[1].offset == 203520);
            CHECK(!fc1->params[0].no_decay && fc1->params[1].no_decay);
            CHECK(fc2->params[1].data == m->params + 203520);
            CHECK(fc2->params[1].grad == m->grads + 203520);
        }
        /* Unnamed layers are named after their kind and position. */
        CHECK(dt_model_find(m, "relu3") != NULL && dt_model_find(m, "dropout4") != NULL);
        CHECK(dt_model_find(m, "input") == NULL);
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);

    /* nn.Linear(5, 7, bias=False) has 35; layers without weights add none. */
    CHECK_OK(build("layers:\n"
                   "  - {kind: linear, units: 7, bias: false}\n"
                   "  - {kind: gelu}\n"
                   "  - {kind: add, inputs: [linear1, gelu2]}\n"
                   "  - {kind: concat, inputs: [add3, input]}\n"
                   "  - {kind: softmax}\n",
                   1, k_in5, &cfg, &m));
    if (m) {
        CHECK(m->n_params == 35);
        CHECK(dt_model_macs(m) == 35);
        CHECK(dt_shape_numel(dt_model_out_shape(m)) == 12);
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);

    CHECK_OK(build("layers: [{kind: relu}, {kind: reshape, shape: [4, -1]}]", 3, k_in234, &cfg,
                   &m));
    if (m) {
        const dt_shape *out = dt_model_out_shape(m);
        CHECK(m->n_params == 0 && dt_model_macs(m) == 0);
        CHECK(out->ndim == 2 && out->dim[0] == 4 && out->dim[1] == 6);
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

/* Initializers: PyTorch's default U(-1/sqrt(in), 1/sqrt(in)) for weight and
 * bias, Xavier's bound, He's standard deviation; reproducible by seed. */
static void test_init(void)
{
    dt_cfg *cfg;
    dt_model *m;
    CHECK_OK(build("layers:\n"
                   "  - {kind: linear, units: 200, name: a}\n"
                   "  - {kind: linear, units: 300, init: xavier, name: b}\n"
                   "  - {kind: linear, units: 100, init: he, name: c}\n",
                   3, k_mnist, &cfg, &m));
    if (!m) {
        dt_cfg_free(cfg);
        return;
    }
    dt_model_init_params(m, 1);
    float *first = malloc((size_t)m->n_params * sizeof(float));
    memcpy(first, m->params, (size_t)m->n_params * sizeof(float));

    const dt_layer *a = dt_model_find(m, "a"), *b = dt_model_find(m, "b");
    const dt_param *aw = &a->params[0], *ab = &a->params[1];
    const dt_param *bw = &b->params[0], *bb = &b->params[1];
    const dt_param *cw = &dt_model_find(m, "c")->params[0];
    const float bound_a = 1.0f / 28.0f, bound_b = sqrtf(6.0f / (200 + 300));
    float max_a = 0.0f, max_ab = 0.0f, max_b = 0.0f;
    for (int64_t i = 0; i < 200 * 784; i++) max_a = fmaxf(max_a, fabsf(aw->data[i]));
    for (int64_t i = 0; i < 200; i++) max_ab = fmaxf(max_ab, fabsf(ab->data[i]));
    for (int64_t i = 0; i < 300 * 200; i++) max_b = fmaxf(max_b, fabsf(bw->data[i]));
    CHECK(max_a <= bound_a && max_a > 0.99f * bound_a);
    CHECK(max_ab <= bound_a && max_ab > 0.9f * bound_a);
    CHECK(max_b <= bound_b && max_b > 0.99f * bound_b);
    int bias_zero = 1;
    for (int64_t i = 0; i < 300; i++) bias_zero &= bb->data[i] == 0.0f;
    CHECK(bias_zero);

    /* He: N(0, 2/300) over 30000 weights; std error of the sd about 0.4%. */
    double sumsq = 0.0;
    for (int64_t i = 0; i < 100 * 300; i++) sumsq += (double)cw->data[i] * cw->data[i];
    CHECK_CLOSE(sqrt(sumsq / (100 * 300)), sqrt(2.0 / 300), 0.02, 0.0);

    /* The same seed gives the same parameters; another seed others. */
    dt_model_init_params(m, 1);
    CHECK(memcmp(first, m->params, (size_t)m->n_params * sizeof(float)) == 0);
    dt_model_init_params(m, 2);
    CHECK(memcmp(first, m->params, 64 * sizeof(float)) != 0);
    /* Two tensors of one model draw from different streams. */
    CHECK(memcmp(aw->data, cw->data, 16 * sizeof(float)) != 0);
    free(first);
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

/* Activation buffers grow on demand and never shrink. */
static void test_reserve(void)
{
    dt_cfg *cfg;
    dt_model *m;
    CHECK_OK(build("layers: [{kind: linear, units: 3}, {kind: tanh}]", 1, k_in5, &cfg, &m));
    if (m) {
        dt_model_init_params(m, 4);
        dt_model_reserve(m, 2);
        CHECK(m->max_batch == 2);
        dt_model_reserve(m, 5);
        CHECK(m->max_batch == 5);
        dt_model_reserve(m, 3);
        CHECK(m->max_batch == 5);

        /* A forward pass over the full reserve writes every output row. */
        float x[25];
        for (int i = 0; i < 25; i++) x[i] = 0.1f * (float)(i % 7) - 0.3f;
        int64_t index[5] = {0, 1, 2, 3, 4};
        const dt_pass p = {.be = dt_backend_cpu(), .n = 5, .index = index};
        dt_model_forward(m, x, &p);
        const float *out = dt_model_output(m);
        const dt_layer *fc = m->layers[0];
        for (int r = 0; r < 5; r++) {
            for (int j = 0; j < 3; j++) {
                double z = fc->params[1].data[j];
                for (int k = 0; k < 5; k++)
                    z += (double)fc->params[0].data[j * 5 + k] * x[r * 5 + k];
                CHECK_CLOSE(out[r * 3 + j], tanh(z), 1e-5, 1e-6);
            }
        }
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

/* Run f in a child process; 1 if it died of SIGABRT. */
static int aborts(void (*f)(void))
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        f();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void overfill_arena(void)
{
    dt_arena a;
    dt_arena_init(&a, 256);
    dt_arena_alloc(&a, 200);
    dt_arena_alloc(&a, 100);
}

static void test_arena(void)
{
    CHECK(dt_arena_aligned(0) == 0);
    CHECK(dt_arena_aligned(1) == 64);
    CHECK(dt_arena_aligned(64) == 64);
    CHECK(dt_arena_aligned(65) == 128);

    dt_arena a;
    dt_arena_init(&a, 1000);
    CHECK(a.cap == 1024 && a.used == 0 && a.peak == 0);

    char *p1 = dt_arena_alloc(&a, 10);
    float *p2 = dt_arena_floats(&a, 20); /* 80 bytes, 128 with alignment */
    char *p3 = dt_arena_alloc(&a, 64);
    CHECK(((uintptr_t)p1 % 64) == 0 && ((uintptr_t)p2 % 64) == 0 && ((uintptr_t)p3 % 64) == 0);
    CHECK((char *)p2 == p1 + 64 && p3 == (char *)p2 + 128);
    CHECK(a.used == 256 && a.peak == 256);

    /* The blocks do not overlap. */
    memset(p1, 1, 10);
    for (int i = 0; i < 20; i++) p2[i] = 2.0f;
    memset(p3, 3, 64);
    CHECK(p1[9] == 1 && p2[0] == 2.0f && p2[19] == 2.0f && p3[0] == 3);

    /* Reset frees everything at once; the peak is remembered. */
    dt_arena_reset(&a);
    CHECK(a.used == 0 && a.peak == 256);
    CHECK(dt_arena_alloc(&a, 1024) == p1);
    CHECK(a.used == 1024 && a.peak == 1024);
    dt_arena_free(&a);
    CHECK(a.base == NULL && a.cap == 0);

    /* Asking for more than the capacity is a broken invariant. */
    CHECK(aborts(overfill_arena));
}

int main(void)
{
    test_build_errors();
    test_loss_setup();
    test_param_counts();
    test_init();
    test_reserve();
    test_arena();
    return dt_test_result();
}
