/* Finite-difference checks of every backward pass: each layer kind, each
 * loss, and a DAG with add and concat, on the CPU backend; with them the
 * forward values of the activations, losses and dropout that those checks
 * take for granted.
 *
 * A test model computes L = sum_i w_i out_i over its batch output with fixed
 * random weights w (or a real loss), so dL/d(out) = w is written into the
 * output gradient and dt_model_backward gives the analytic gradient of every
 * parameter. The model input gets no gradient, so each layer under test sits
 * behind a linear layer: the gradient the layer writes into its input
 * reaches that linear layer's weights, and checking those checks it.
 *
 * Numeric gradients are central differences, (L(p+h) - L(p-h)) / 2h with
 * h ~ 1e-3 in float32 (L summed in double). Rounding in the float32 forward
 * pass is ~1e-7 of L, i.e. ~1e-4 after division by 2h, and the truncation
 * error is ~h^2, so analytic and numeric gradients must agree to
 * |a - n| <= 5e-4 + 1e-2 max(|a|, |n|). Activations with a kink (relu,
 * leaky_relu) are checked at inputs at least 0.01 from it. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/rng.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "test_util.h"

#define GC_EPS 1e-3f
#define GC_RTOL 1e-2
#define GC_ATOL 5e-4
#define GC_BATCH 3
#define GC_MAX_REPORTS 5 /* mismatches printed per case */

/* A model under test with its inputs, output weights and pass. */
typedef struct gc {
    const char *label;
    dt_cfg *cfg;
    dt_model *m;
    float *x, *w, *y;   /* inputs (n, in), output weights (n, out), targets */
    int64_t index[GC_BATCH];
    dt_pass pass;
    int64_t in_numel, out_numel;
} gc;

/* Build the model from the text of a `model` map for inputs of shape
 * (ndim, dims), parameters from `seed`, inputs uniform in (-1, 1). Returns
 * 0 (after counting a failure) if the model does not build. */
static int gc_open(gc *g, const char *label, const char *yaml, int ndim, const int64_t *dims,
                   uint64_t seed, int training)
{
    memset(g, 0, sizeof *g);
    g->label = label;
    const dt_shape in = dt_shape_make(ndim, dims);
    CHECK_OK(dt_cfg_load_string(yaml, label, &g->cfg));
    if (!g->cfg) return 0;
    CHECK_OK(dt_model_build(g->cfg, &in, dt_backend_cpu(), &g->m));
    if (!g->m) return 0;

    dt_model_init_params(g->m, seed);
    dt_model_reserve(g->m, GC_BATCH);
    g->in_numel = dt_shape_numel(&in);
    g->out_numel = dt_shape_numel(dt_model_out_shape(g->m));
    g->x = malloc((size_t)(GC_BATCH * g->in_numel) * sizeof(float));
    g->w = malloc((size_t)(GC_BATCH * g->out_numel) * sizeof(float));
    g->y = malloc((size_t)(GC_BATCH * g->out_numel) * sizeof(float));
    const dt_rng r = dt_rng_make(seed, DT_RNG_USER, 1, 0);
    dt_rng_fill_uniform(&r, 0, g->x, GC_BATCH * g->in_numel, -1.0f, 1.0f);
    dt_rng_fill_uniform(&r, 1000000, g->w, GC_BATCH * g->out_numel, -1.0f, 1.0f);
    dt_rng_fill_uniform(&r, 2000000, g->y, GC_BATCH * g->out_numel, -1.0f, 1.0f);

    for (int i = 0; i < GC_BATCH; i++) g->index[i] = 40 + 7 * i;
    g->pass = (dt_pass){.be = dt_backend_cpu(), .n = GC_BATCH, .index = g->index, .step = 3,
                        .seed = 1234, .training = training};
    return 1;
}

static void gc_close(gc *g)
{
    dt_model_destroy(g->m);
    dt_cfg_free(g->cfg);
    free(g->x);
    free(g->w);
    free(g->y);
}

/* L = sum_i w_i out_i after a forward pass. */
static double gc_objective(gc *g)
{
    dt_model_forward(g->m, g->x, &g->pass);
    const float *out = dt_model_output(g->m);
    double l = 0.0;
    for (int64_t i = 0; i < GC_BATCH * g->out_numel; i++) l += (double)g->w[i] * out[i];
    return l;
}

/* One forward and backward of L = sum w out; gradients ADDED into m->grads. */
static void gc_backward_weighted(gc *g)
{
    dt_model_forward(g->m, g->x, &g->pass);
    memcpy(dt_model_output_grad(g->m), g->w, (size_t)(GC_BATCH * g->out_numel) * sizeof(float));
    dt_model_backward(g->m, &g->pass, NULL, NULL);
}

/* "layer.param[i]" for flat parameter k, for messages. */
static const char *param_name(const dt_model *m, int64_t k, char *buf, size_t cap)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_params; j++) {
            const dt_param *p = &m->layers[i]->params[j];
            const int64_t n = dt_shape_numel(&p->shape);
            if (k >= p->offset && k < p->offset + n) {
                snprintf(buf, cap, "%s.%s[%lld]", m->layers[i]->name, p->name,
                         (long long)(k - p->offset));
                return buf;
            }
        }
    snprintf(buf, cap, "param %lld", (long long)k);
    return buf;
}

typedef double (*gc_objective_fn)(gc *g);

/* Compare `analytic` (n_params gradients of f) with central differences of
 * f; returns the number of mismatches. */
static int gc_compare(gc *g, gc_objective_fn f, const float *analytic)
{
    dt_model *m = g->m;
    int bad = 0;
    double max_err = 0.0, norm = 0.0;
    for (int64_t k = 0; k < m->n_params; k++) {
        const float p0 = m->params[k];
        const float hi = p0 + GC_EPS, lo = p0 - GC_EPS;
        m->params[k] = hi;
        const double f_hi = f(g);
        m->params[k] = lo;
        const double f_lo = f(g);
        m->params[k] = p0;
        const double num = (f_hi - f_lo) / ((double)hi - (double)lo), ana = analytic[k];

        const double err = fabs(ana - num), scale = fmax(fabs(ana), fabs(num));
        norm += fabs(ana);
        max_err = fmax(max_err, err / (GC_ATOL + GC_RTOL * scale));
        if (err > GC_ATOL + GC_RTOL * scale) {
            char name[96];
            if (bad++ < GC_MAX_REPORTS)
                fprintf(stderr, "%s:%d: %s: d/d %s: analytic %.6g, numeric %.6g\n", __FILE__,
                        __LINE__, g->label, param_name(m, k, name, sizeof name), ana, num);
        }
    }
    /* A check of all-zero gradients would prove nothing. */
    if (!(norm > 1e-2)) {
        fprintf(stderr, "%s:%d: %s: gradients vanish (sum |g| = %g)\n", __FILE__, __LINE__,
                g->label, norm);
        bad++;
    }
    printf("%-28s %4lld params, worst error %.2f of tolerance\n", g->label,
           (long long)m->n_params, max_err);
    dt_test_failures += bad;
    return bad;
}

/* Analytic gradients of L = sum w out against central differences. */
static void gc_check_weighted(gc *g)
{
    float *analytic = malloc((size_t)g->m->n_params * sizeof(float));
    dt_model_zero_grads(g->m);
    gc_backward_weighted(g);
    memcpy(analytic, g->m->grads, (size_t)g->m->n_params * sizeof(float));
    gc_compare(g, gc_objective, analytic);
    free(analytic);
}

/* Whether every output of layer `name` on the test batch is at least
 * `margin` away from 0, with both signs present (so that both branches of a
 * kinked activation behind it are exercised). */
static int gc_away_from_kink(gc *g, const char *name, float margin)
{
    const dt_layer *l = dt_model_find(g->m, name);
    if (!l) return 0;
    dt_model_forward(g->m, g->x, &g->pass);
    const int64_t n = GC_BATCH * dt_shape_numel(&l->out_shape);
    int neg = 0, pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabsf(l->out[i]) < margin) return 0;
        neg += l->out[i] < 0.0f;
        pos += l->out[i] > 0.0f;
    }
    return neg > 0 && pos > 0;
}

typedef struct gc_case {
    const char *label;
    const char *yaml;
    int ndim;
    int64_t dims[3];
    int training;
    const char *kink; /* a layer whose outputs must avoid 0, or NULL */
} gc_case;

static const gc_case k_layer_cases[] = {
    {"linear", "layers: [{kind: linear, units: 4}, {kind: tanh}, {kind: linear, units: 3}]",
     1, {5}, 0, NULL},
    {"linear no bias, xavier/he",
     "layers: [{kind: linear, units: 4, bias: false, init: xavier},\n"
     "         {kind: linear, units: 3, init: he}]",
     1, {5}, 0, NULL},
    {"relu",
     "layers: [{kind: linear, units: 6, name: pre}, {kind: relu}, {kind: linear, units: 3}]",
     1, {5}, 0, "pre"},
    {"leaky_relu",
     "layers: [{kind: linear, units: 6, name: pre}, {kind: leaky_relu, slope: 0.2},\n"
     "         {kind: linear, units: 3}]",
     1, {5}, 0, "pre"},
    {"sigmoid", "layers: [{kind: linear, units: 6}, {kind: sigmoid}, {kind: linear, units: 3}]",
     1, {5}, 0, NULL},
    {"tanh", "layers: [{kind: linear, units: 6}, {kind: tanh}, {kind: linear, units: 3}]", 1,
     {5}, 0, NULL},
    {"gelu", "layers: [{kind: linear, units: 6}, {kind: gelu}, {kind: linear, units: 3}]", 1,
     {5}, 0, NULL},
    {"softmax (output layer)", "layers: [{kind: linear, units: 4}, {kind: softmax}]", 1, {5}, 0,
     NULL},
    {"softmax over rows",
     "layers: [{kind: linear, units: 12}, {kind: reshape, shape: [3, -1]}, {kind: softmax},\n"
     "         {kind: reshape, shape: [12]}, {kind: linear, units: 2}]",
     3, {2, 3, 4}, 0, NULL},
    {"dropout (training)",
     "layers: [{kind: linear, units: 8}, {kind: dropout, p: 0.4}, {kind: linear, units: 3}]",
     1, {5}, 1, NULL},
    {"dropout (eval)",
     "layers: [{kind: linear, units: 8}, {kind: dropout, p: 0.4}, {kind: linear, units: 3}]",
     1, {5}, 0, NULL},
    {"flatten",
     "layers: [{kind: linear, units: 24}, {kind: reshape, shape: [2, 3, 4]}, {kind: flatten},\n"
     "         {kind: tanh}, {kind: linear, units: 3}]",
     3, {2, 3, 4}, 0, NULL},
    {"flatten (model input)", "layers: [{kind: flatten}, {kind: linear, units: 3}]", 3,
     {2, 3, 4}, 0, NULL},
    {"concat (3-d)",
     "layers:\n"
     "  - {kind: linear, units: 24}\n"
     "  - {kind: reshape, shape: [2, 3, 4], name: ra}\n"
     "  - {kind: linear, units: 12, inputs: [input]}\n"
     "  - {kind: reshape, shape: [1, 3, 4], name: rb}\n"
     "  - {kind: concat, inputs: [ra, rb]}\n"
     "  - {kind: tanh}\n"
     "  - {kind: flatten}\n"
     "  - {kind: linear, units: 2}\n",
     3, {2, 3, 4}, 0, NULL},
    /* Convolutional layers: each behind linear + reshape so that the gradient
     * it writes into its input is checked through that linear layer. */
    {"conv2d 3x3 pad 1",
     "layers: [{kind: linear, units: 50}, {kind: reshape, shape: [2, 5, 5]},\n"
     "         {kind: conv2d, channels: 3, kernel: 3, padding: 1}]",
     3, {1, 4, 4}, 0, NULL},
    {"conv2d stride, dilation, rect",
     "layers: [{kind: linear, units: 84}, {kind: reshape, shape: [2, 6, 7]},\n"
     "         {kind: conv2d, channels: 2, kernel: [3, 2], stride: [2, 1], padding: [1, 0],\n"
     "          dilation: [1, 2]}]",
     3, {1, 4, 4}, 0, NULL},
    {"conv2d groups, no bias",
     "layers: [{kind: linear, units: 64}, {kind: reshape, shape: [4, 4, 4]},\n"
     "         {kind: conv2d, channels: 6, kernel: 3, groups: 2, bias: false, padding: 2,\n"
     "          stride: 2}]",
     3, {1, 4, 4}, 0, NULL},
    {"conv2d 1x1",
     "layers: [{kind: linear, units: 48}, {kind: reshape, shape: [3, 4, 4]},\n"
     "         {kind: conv2d, channels: 2, kernel: 1}]",
     3, {1, 4, 4}, 0, NULL},
    {"conv2d on the model input",
     "layers: [{kind: conv2d, channels: 2, kernel: 2, stride: 2}]", 3, {1, 4, 4}, 0, NULL},
    {"conv_transpose2d",
     "layers: [{kind: linear, units: 36}, {kind: reshape, shape: [4, 3, 3]},\n"
     "         {kind: conv_transpose2d, channels: 2, kernel: 3, stride: 2, padding: 1,\n"
     "          output_padding: 1, groups: 2}]",
     3, {1, 4, 4}, 0, NULL},
    {"conv_transpose2d dilation",
     "layers: [{kind: linear, units: 18}, {kind: reshape, shape: [2, 3, 3]},\n"
     "         {kind: conv_transpose2d, channels: 3, kernel: [2, 3], dilation: 2}]",
     3, {1, 4, 4}, 0, NULL},
    {"max_pool2d pad, ceil",
     "layers: [{kind: linear, units: 50}, {kind: reshape, shape: [2, 5, 5]},\n"
     "         {kind: max_pool2d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}]",
     3, {1, 4, 4}, 0, NULL},
    {"max_pool2d 2x2",
     "layers: [{kind: linear, units: 32}, {kind: reshape, shape: [2, 4, 4]},\n"
     "         {kind: max_pool2d, kernel: 2}]",
     3, {1, 4, 4}, 0, NULL},
    {"avg_pool2d pad, ceil",
     "layers: [{kind: linear, units: 50}, {kind: reshape, shape: [2, 5, 5]},\n"
     "         {kind: avg_pool2d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}]",
     3, {1, 4, 4}, 0, NULL},
    {"avg_pool2d exclude pad",
     "layers: [{kind: linear, units: 50}, {kind: reshape, shape: [2, 5, 5]},\n"
     "         {kind: avg_pool2d, kernel: 2, padding: 1, count_include_pad: false}]",
     3, {1, 4, 4}, 0, NULL},
    {"global_avg_pool",
     "layers: [{kind: linear, units: 27}, {kind: reshape, shape: [3, 3, 3]},\n"
     "         {kind: global_avg_pool}, {kind: flatten}, {kind: linear, units: 2}]",
     3, {1, 4, 4}, 0, NULL},
    {"batch_norm 2d (training)",
     "layers: [{kind: linear, units: 27}, {kind: reshape, shape: [3, 3, 3]},\n"
     "         {kind: batch_norm}, {kind: tanh}]",
     3, {1, 4, 4}, 1, NULL},
    {"batch_norm 2d (eval)",
     "layers: [{kind: linear, units: 27}, {kind: reshape, shape: [3, 3, 3]},\n"
     "         {kind: batch_norm}, {kind: tanh}]",
     3, {1, 4, 4}, 0, NULL},
    {"batch_norm 1d (training)",
     "layers: [{kind: linear, units: 4}, {kind: batch_norm, momentum: 0.3}, {kind: tanh}]",
     1, {5}, 1, NULL},
    {"batch_norm 1d (eval)",
     "layers: [{kind: linear, units: 4}, {kind: batch_norm, momentum: 0.3}, {kind: tanh}]",
     1, {5}, 0, NULL},
    {"layer_norm",
     "layers: [{kind: linear, units: 18}, {kind: reshape, shape: [2, 3, 3]},\n"
     "         {kind: layer_norm}, {kind: tanh}]",
     3, {1, 4, 4}, 1, NULL},
    {"group_norm",
     "layers: [{kind: linear, units: 36}, {kind: reshape, shape: [4, 3, 3]},\n"
     "         {kind: group_norm, groups: 2}, {kind: tanh}]",
     3, {1, 4, 4}, 0, NULL},
    {"instance_norm (affine)",
     "layers: [{kind: linear, units: 18}, {kind: reshape, shape: [2, 3, 3]},\n"
     "         {kind: instance_norm, affine: true}, {kind: tanh}]",
     3, {1, 4, 4}, 1, NULL},
    {"lrn",
     "layers: [{kind: linear, units: 45}, {kind: reshape, shape: [5, 3, 3]},\n"
     "         {kind: lrn, size: 3, alpha: 0.5, beta: 0.75, k: 2}]",
     3, {1, 4, 4}, 0, NULL},
    {"upsample nearest",
     "layers: [{kind: linear, units: 12}, {kind: reshape, shape: [2, 2, 3]},\n"
     "         {kind: upsample, scale: [2, 3]}]",
     3, {1, 4, 4}, 0, NULL},
    {"upsample bilinear",
     "layers: [{kind: linear, units: 12}, {kind: reshape, shape: [2, 2, 3]},\n"
     "         {kind: upsample, size: [5, 4], mode: bilinear}]",
     3, {1, 4, 4}, 0, NULL},
    {"residual add of convolutions",
     "layers:\n"
     "  - {kind: linear, units: 32}\n"
     "  - {kind: reshape, shape: [2, 4, 4], name: r}\n"
     "  - {kind: conv2d, channels: 3, kernel: 3, padding: 1, name: a}\n"
     "  - {kind: conv2d, channels: 3, kernel: 1, inputs: [r], name: proj}\n"
     "  - {kind: add, inputs: [a, proj]}\n"
     "  - {kind: concat, inputs: [a, add5]}\n",
     3, {1, 4, 4}, 0, NULL},
};

/* The DAG: four branches summed, then concatenated with the model input
 * and one branch. Several tensors feed two consumers (ta feeds a linear
 * layer and the add), so a backward pass that wrote its input gradient
 * instead of adding to it would be caught. */
static const char *const k_dag_yaml = "layers:\n"
                                      "  - {kind: linear, units: 4, name: a}\n"
                                      "  - {kind: tanh, name: ta}\n"
                                      "  - {kind: linear, units: 4, name: b, inputs: [input]}\n"
                                      "  - {kind: sigmoid, name: sb}\n"
                                      "  - {kind: linear, units: 4, name: c, inputs: [ta]}\n"
                                      "  - {kind: add, name: sum, inputs: [ta, sb, c, a]}\n"
                                      "  - {kind: concat, name: cat, inputs: [sum, input, b]}\n"
                                      "  - {kind: gelu}\n"
                                      "  - {kind: linear, units: 3, name: out}\n";

static void test_layers(void)
{
    for (size_t c = 0; c < sizeof k_layer_cases / sizeof k_layer_cases[0]; c++) {
        const gc_case *k = &k_layer_cases[c];
        gc g;
        int ready = 0;
        /* Seeds are tried in order until the kinked layer's inputs stay clear
         * of the kink, so the chosen seed is fixed. */
        for (uint64_t seed = 1; seed <= 64 && !ready; seed++) {
            if (!gc_open(&g, k->label, k->yaml, k->ndim, k->dims, seed, k->training)) {
                gc_close(&g);
                break;
            }
            ready = !k->kink || gc_away_from_kink(&g, k->kink, 0.01f);
            if (!ready) gc_close(&g);
        }
        if (!ready) {
            fprintf(stderr, "%s:%d: %s: no usable test point\n", __FILE__, __LINE__, k->label);
            dt_test_failures++;
            continue;
        }
        /* Layers with running statistics are checked in evaluation with
         * statistics from a few training passes, not their initial values. */
        if (!k->training) {
            g.pass.training = 1;
            for (int w = 0; w < 3; w++) dt_model_forward(g.m, g.x, &g.pass);
            g.pass.training = 0;
        }
        gc_check_weighted(&g);
        gc_close(&g);
    }

    gc g;
    const int64_t in5[1] = {5};
    if (gc_open(&g, "dag (add, concat, inputs)", k_dag_yaml, 1, in5, 3, 0)) {
        /* The concat takes the model input, which has no gradient. */
        CHECK(dt_shape_numel(&dt_model_find(g.m, "cat")->out_shape) == 13);
        gc_check_weighted(&g);
    }
    gc_close(&g);
}

/* Forward values of the parameter-free activations against libm in double:
 * the gradient checks above only show that backward matches forward. */
static double act_ref(const char *kind, double x)
{
    if (strcmp(kind, "relu") == 0) return x > 0 ? x : 0;
    if (strcmp(kind, "leaky_relu") == 0) return x > 0 ? x : 0.2 * x;
    if (strcmp(kind, "sigmoid") == 0) return 1.0 / (1.0 + exp(-x));
    if (strcmp(kind, "tanh") == 0) return tanh(x);
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); /* gelu, exact form */
}

static void test_forward_values(void)
{
    static const char *const kinds[] = {"relu", "leaky_relu", "sigmoid", "tanh", "gelu",
                                        "softmax"};
    const int64_t in[2] = {2, 3};
    for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
        char yaml[96];
        snprintf(yaml, sizeof yaml, "layers: [{kind: %s%s}]", kinds[c],
                 strcmp(kinds[c], "leaky_relu") == 0 ? ", slope: 0.2" : "");
        gc g;
        if (!gc_open(&g, kinds[c], yaml, 2, in, 1, 0)) {
            gc_close(&g);
            continue;
        }
        for (int i = 0; i < GC_BATCH * 6; i++) g.x[i] = -4.25f + 0.5f * (float)i;
        /* One row far from 0, where an unguarded softmax overflows. */
        g.x[15] = 100.0f;
        g.x[16] = 2.0f;
        g.x[17] = 1.0f;
        dt_model_forward(g.m, g.x, &g.pass);
        const float *out = dt_model_output(g.m);
        for (int r = 0; r < GC_BATCH * 2; r++) {
            const float *xr = g.x + 3 * r;
            /* Softmax runs over the last dimension: rows of 3. */
            const double mx = fmax(xr[0], fmax(xr[1], xr[2]));
            const double sum = exp(xr[0] - mx) + exp(xr[1] - mx) + exp(xr[2] - mx);
            for (int j = 0; j < 3; j++) {
                const double want = c == 5 ? exp(xr[j] - mx) / sum : act_ref(kinds[c], xr[j]);
                if (!(fabs(out[3 * r + j] - want) <= 1e-7 + 1e-6 * fabs(want))) {
                    fprintf(stderr, "%s:%d: %s(%g) = %.9g, expected %.9g\n", __FILE__,
                            __LINE__, kinds[c], xr[j], out[3 * r + j], want);
                    dt_test_failures++;
                }
            }
        }
        gc_close(&g);
    }
}

/* Eval-mode dropout is the identity, bit for bit. */
static void test_dropout_eval(void)
{
    gc g;
    const int64_t in[1] = {8};
    if (gc_open(&g, "dropout eval", "layers: [{kind: dropout, p: 0.5}]", 1, in, 1, 0)) {
        dt_model_forward(g.m, g.x, &g.pass);
        CHECK(memcmp(dt_model_output(g.m), g.x, GC_BATCH * 8 * sizeof(float)) == 0);
    }
    gc_close(&g);
}

/* Training-mode dropout over a large batch: each output is 0 or x / (1-p),
 * about p of them are 0, and the mask is a function of (seed, step, global
 * sample index) only: splitting or reordering the batch changes nothing. */
static void test_dropout_mask(void)
{
    enum { N = 200, D = 50 };
    const float p = 0.3f;
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    const int64_t dim = D;
    const dt_shape in = dt_shape_make(1, &dim);
    CHECK_OK(dt_cfg_load_string("layers: [{kind: dropout, p: 0.3}]", "dropout", &cfg));
    CHECK_OK(dt_model_build(cfg, &in, dt_backend_cpu(), &m));
    if (!m) {
        dt_cfg_free(cfg);
        return;
    }
    dt_model_reserve(m, N);

    float *x = malloc(N * D * sizeof *x), *full = malloc(N * D * sizeof *full);
    int64_t index[N];
    const dt_rng r = dt_rng_make(5, DT_RNG_USER, 0, 0);
    dt_rng_fill_uniform(&r, 0, x, N * D, 0.5f, 1.5f); /* never 0 */
    for (int i = 0; i < N; i++) index[i] = 1000 + i;
    dt_pass pass = {.be = dt_backend_cpu(), .n = N, .index = index, .step = 17, .seed = 99,
                    .training = 1};

    dt_model_forward(m, x, &pass);
    memcpy(full, dt_model_output(m), N * D * sizeof *full);
    int zeros = 0, scaled = 1;
    for (int i = 0; i < N * D; i++) {
        zeros += full[i] == 0.0f;
        scaled &= full[i] == 0.0f || fabsf(full[i] - x[i] / (1.0f - p)) <= 1e-6f * x[i];
    }
    CHECK(scaled);
    /* 10000 draws: standard deviation of the dropped fraction 0.0046. */
    CHECK_CLOSE((double)zeros / (N * D), p, 0.0, 0.025);

    /* Two half batches with the same global indices. */
    for (int half = 0; half < 2; half++) {
        const int64_t off = half * (N / 2);
        dt_pass hp = pass;
        hp.n = N / 2;
        hp.index = index + off;
        dt_model_forward(m, x + off * D, &hp);
        CHECK(memcmp(dt_model_output(m), full + off * D, (N / 2) * D * sizeof *full) == 0);
    }

    /* The batch reversed, indices with it: the outputs follow their samples. */
    float *xr = malloc(N * D * sizeof *xr);
    int64_t rindex[N];
    for (int i = 0; i < N; i++) {
        memcpy(xr + i * D, x + (N - 1 - i) * D, D * sizeof *xr);
        rindex[i] = index[N - 1 - i];
    }
    dt_pass rp = pass;
    rp.index = rindex;
    dt_model_forward(m, xr, &rp);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= memcmp(dt_model_output(m) + i * D, full + (N - 1 - i) * D, D * sizeof(float)) == 0;
    CHECK(same);

    /* Another step, or another seed, draws another mask. */
    for (int variant = 0; variant < 2; variant++) {
        dt_pass vp = pass;
        if (variant == 0) vp.step++;
        else vp.seed++;
        dt_model_forward(m, x, &vp);
        int differ = 0;
        for (int i = 0; i < N * D; i++) differ += dt_model_output(m)[i] != full[i];
        CHECK(differ > N * D / 10);
    }

    free(x);
    free(full);
    free(xr);
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

/* ---- losses ---- */

typedef struct loss_case {
    const char *label;
    const char *loss_yaml;
    int out_units; /* model outputs per sample */
    int classes;   /* cross-entropy: number of classes; 0 for regression */
    int y_dim;
} loss_case;

static dt_loss g_loss; /* the loss of the case being checked */

/* The mean loss over the batch after a forward pass (targets in g->y). */
static double gc_loss_objective(gc *g)
{
    dt_model_forward(g->m, g->x, &g->pass);
    float *scratch = malloc((size_t)(GC_BATCH * g->out_numel) * sizeof(float));
    const dt_loss_sums s = dt_loss_compute(&g_loss, dt_backend_cpu(), dt_model_output(g->m),
                                           g->y, GC_BATCH, 1.0f / GC_BATCH, scratch);
    free(scratch);
    return s.loss / GC_BATCH;
}

/* The per-sample loss of one row computed here in double, from the
 * definitions in nn/loss.h. */
static double direct_loss(const loss_case *c, const float *out, const float *y)
{
    if (c->classes) {
        const int label = (int)y[0];
        const double s = g_loss.label_smoothing;
        double mx = out[0], sum = 0.0, l = 0.0;
        for (int j = 1; j < c->classes; j++) mx = fmax(mx, out[j]);
        for (int j = 0; j < c->classes; j++) sum += exp(out[j] - mx);
        for (int j = 0; j < c->classes; j++) {
            const double target = (j == label ? 1.0 - s : 0.0) + s / c->classes;
            l -= target * (out[j] - mx - log(sum));
        }
        return l;
    }
    double l = 0.0;
    for (int j = 0; j < c->y_dim; j++) {
        const double e = (double)y[j] - out[j];
        if (g_loss.kind == DT_LOSS_MSE) {
            l += e * e;
        } else {
            const double logvar = out[c->y_dim + j];
            l += 0.5 * (logvar + e * e * exp(-logvar));
        }
    }
    return l / c->y_dim;
}

/* The loss op's own gradient d(mean loss)/d(out) against central
 * differences in the outputs (the loss is summed in double, so a smaller
 * tolerance holds here). */
static void check_loss_output_grad(gc *g, const loss_case *c)
{
    const int64_t n = GC_BATCH * g->out_numel;
    float *out = malloc((size_t)n * sizeof(float)), *d = malloc((size_t)n * sizeof(float));
    float *scratch = malloc((size_t)n * sizeof(float));
    memcpy(out, dt_model_output(g->m), (size_t)n * sizeof(float));
    dt_loss_compute(&g_loss, dt_backend_cpu(), out, g->y, GC_BATCH, 1.0f / GC_BATCH, d);
    for (int64_t k = 0; k < n; k++) {
        const float o = out[k], hi = o + GC_EPS, lo = o - GC_EPS;
        out[k] = hi;
        const double l_hi = dt_loss_compute(&g_loss, dt_backend_cpu(), out, g->y, GC_BATCH,
                                            1.0f, scratch).loss;
        out[k] = lo;
        const double l_lo = dt_loss_compute(&g_loss, dt_backend_cpu(), out, g->y, GC_BATCH,
                                            1.0f, scratch).loss;
        out[k] = o;
        const double num = (l_hi - l_lo) / ((double)hi - lo) / GC_BATCH;
        if (!(fabs(d[k] - num) <= 1e-5 + 1e-3 * fabs(num))) {
            fprintf(stderr, "%s:%d: %s: d loss / d out[%lld]: op gives %.7g, numeric %.7g\n",
                    __FILE__, __LINE__, c->label, (long long)k, d[k], num);
            dt_test_failures++;
        }
    }
    free(out);
    free(d);
    free(scratch);
}

static void check_loss(const loss_case *c, uint64_t seed)
{
    char yaml[128];
    snprintf(yaml, sizeof yaml,
             "layers: [{kind: linear, units: 6}, {kind: tanh}, {kind: linear, units: %d}]",
             c->out_units);
    gc g;
    const int64_t in5[1] = {5};
    dt_cfg *lcfg = NULL;
    if (!gc_open(&g, c->label, yaml, 1, in5, seed, 0)) goto done;
    CHECK_OK(dt_cfg_load_string(c->loss_yaml, "loss", &lcfg));
    if (!lcfg) goto done;
    CHECK_OK(dt_loss_setup(lcfg, dt_model_out_shape(g.m), c->classes > 0, c->classes, c->y_dim,
                           &g_loss));
    if (c->classes) {
        for (int i = 0; i < GC_BATCH; i++) g.y[i] = (float)((2 * i + 1) % c->classes);
    } else {
        for (int i = 0; i < GC_BATCH * c->y_dim; i++) g.y[i] *= 2.0f;
    }

    /* The value, and the arg-max count for classes. */
    dt_model_forward(g.m, g.x, &g.pass);
    const float *out = dt_model_output(g.m);
    float *dout = dt_model_output_grad(g.m);
    const dt_loss_sums s = dt_loss_compute(&g_loss, dt_backend_cpu(), out, g.y, GC_BATCH,
                                           1.0f / GC_BATCH, dout);
    double want = 0.0;
    int64_t correct = 0;
    for (int i = 0; i < GC_BATCH; i++) {
        const float *row = out + i * c->out_units;
        const float *yi = g.y + i * (c->classes ? 1 : c->y_dim);
        want += direct_loss(c, row, yi);
        int arg = 0;
        for (int j = 1; c->classes && j < c->classes; j++) arg = row[j] > row[arg] ? j : arg;
        correct += c->classes && arg == (int)yi[0];
    }
    CHECK_CLOSE(s.loss, want, 1e-6, 1e-7);
    CHECK(s.correct == correct);

    /* The gradient the op writes, then the model's parameters through it. */
    check_loss_output_grad(&g, c);
    float *analytic = malloc((size_t)g.m->n_params * sizeof(float));
    dt_model_zero_grads(g.m);
    dt_model_forward(g.m, g.x, &g.pass);
    dt_loss_compute(&g_loss, dt_backend_cpu(), dt_model_output(g.m), g.y, GC_BATCH,
                    1.0f / GC_BATCH, dout);
    dt_model_backward(g.m, &g.pass, NULL, NULL);
    memcpy(analytic, g.m->grads, (size_t)g.m->n_params * sizeof(float));
    gc_compare(&g, gc_loss_objective, analytic);
    free(analytic);
done:
    dt_cfg_free(lcfg);
    gc_close(&g);
}

static void test_losses(void)
{
    static const loss_case cases[] = {
        {"cross_entropy", "kind: cross_entropy", 4, 4, 1},
        {"cross_entropy smoothing 0.1", "{kind: cross_entropy, label_smoothing: 0.1}", 4, 4, 1},
        {"cross_entropy smoothing 1.0", "{kind: cross_entropy, label_smoothing: 1.0}", 4, 4, 1},
        {"mse", "kind: mse", 3, 0, 3},
        {"gaussian_nll", "kind: gaussian_nll", 6, 0, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_loss(&cases[i], 7 + i);
}

/* Cross-entropy on fixed logits, worked by hand: logits (0, ln 2, ln 5)
 * give probabilities (1/8, 2/8, 5/8); label 2; smoothing 0.3 gives targets
 * (0.1, 0.1, 0.8). Loss = -(0.1 ln 1/8 + 0.1 ln 2/8 + 0.8 ln 5/8). */
static void test_cross_entropy_by_hand(void)
{
    const float logits[3] = {0.0f, (float)log(2.0), (float)log(5.0)}, label = 2.0f;
    float d[3];
    const dt_loss_sums s = dt_backend_cpu()->cross_entropy(logits, &label, 1, 3, 0.3f, 0.5f, d);
    const double p[3] = {1.0 / 8, 2.0 / 8, 5.0 / 8}, t[3] = {0.1, 0.1, 0.8};
    CHECK_CLOSE(s.loss, -(t[0] * log(p[0]) + t[1] * log(p[1]) + t[2] * log(p[2])), 1e-6, 0.0);
    CHECK(s.correct == 1);
    for (int j = 0; j < 3; j++) CHECK_CLOSE(d[j], 0.5 * (p[j] - t[j]), 1e-6, 1e-7);
}

/* ---- accumulation ---- */

static void record_offset(void *ctx, int64_t offset)
{
    int64_t *log = ctx;
    log[1 + log[0]++] = offset;
}

/* Two backward passes add up to twice one, the ready callback reports each
 * parameterised layer once, from the last to the first, and a pass with
 * overwrite_grads replaces the gradients instead. */
static void test_accumulation(void)
{
    gc g;
    const int64_t in5[1] = {5};
    if (!gc_open(&g, "accumulation", k_dag_yaml, 1, in5, 21, 0)) {
        gc_close(&g);
        return;
    }
    const int64_t np = g.m->n_params;
    float *once = malloc((size_t)np * sizeof(float));
    dt_model_zero_grads(g.m);
    gc_backward_weighted(&g);
    memcpy(once, g.m->grads, (size_t)np * sizeof(float));

    int64_t log[16] = {0};
    dt_model_backward(g.m, &g.pass, record_offset, log);
    int exact = 1, nonzero = 0;
    for (int64_t k = 0; k < np; k++) {
        exact &= g.m->grads[k] == 2.0f * once[k];
        nonzero += once[k] != 0.0f;
    }
    CHECK(exact);
    CHECK(nonzero > np / 2);

    /* Layers a, b, c and out carry parameters. */
    CHECK(log[0] == 4);
    CHECK(log[1] == dt_model_find(g.m, "out")->params[0].offset);
    CHECK(log[2] == dt_model_find(g.m, "c")->params[0].offset);
    CHECK(log[3] == dt_model_find(g.m, "b")->params[0].offset);
    CHECK(log[4] == 0);

    /* Zeroing starts over. */
    dt_model_zero_grads(g.m);
    gc_backward_weighted(&g);
    CHECK(memcmp(g.m->grads, once, (size_t)np * sizeof(float)) == 0);

    /* With overwrite_grads the pass writes the gradients over whatever the
     * buffer held. */
    for (int64_t k = 0; k < np; k++) g.m->grads[k] = 7.0f;
    g.pass.overwrite_grads = 1;
    gc_backward_weighted(&g);
    int written = 1;
    for (int64_t k = 0; k < np; k++) written &= fabsf(g.m->grads[k] - once[k]) <= 1e-6f;
    CHECK(written);
    free(once);
    gc_close(&g);
}

int main(void)
{
    test_layers();
    test_forward_values();
    test_dropout_eval();
    test_dropout_mask();
    test_losses();
    test_cross_entropy_by_hand();
    test_accumulation();
    return dt_test_result();
}
