/* Every op of the CUDA backend against the CPU backend on random inputs.
 *
 * Outputs an op overwrites are poisoned with NaN first, so an element the
 * GPU leaves unwritten fails the comparison; outputs an op adds into start
 * from the same random values on both devices. Shapes are odd (37 x 131,
 * GEMMs 33 x 65 x 47 in all four transpose cases) so partial blocks and
 * warps are exercised, and one size (300007) spans many blocks.
 *
 * Tolerances, |gpu - cpu| <= atol + rtol |cpu|:
 *   exact formulas (fill, bias, axpy, relu, dropout, SGD): rtol 1e-6,
 *     atol 1e-7; they differ at most by nvcc contracting a*b+c to an FMA;
 *   transcendental ones (exp, tanh, erf: sigmoid, tanh, gelu, softmax, the
 *     losses' gradients, Adam's sqrt): rtol 1e-5, atol 1e-6, a few ulp;
 *   sums in another order (GEMM, column sums, loss totals): rtol 1e-4,
 *     atol 1e-4 on values of order 1;
 *   recurrent cells: rtol 1e-4, atol 1e-5 (the CPU's exp and tanh are
 *     approximations good to 7e-7, see RTOL_CELL);
 *   dropout masks: bit-identical (same Philox numbers); sumsq (double
 *     accumulation): rtol 1e-9; the correct count: exact.
 * Last, a deliberately invalid call checks that failures are reported. */
#include <stdio.h>

#include "gpu_test.h"

#define R 37
#define C 131
#define BIG 300007

#define RTOL_EXACT 1e-6
#define ATOL_EXACT 1e-7
#define RTOL_TRANS 1e-5
#define ATOL_TRANS 1e-6
#define RTOL_SUM 1e-4
#define ATOL_SUM 1e-4
/* The CPU's cells use vectorizable exp and tanh (cpu/cpu_math.h, 7e-7
 * relative) where the GPU calls expf and tanhf; 1 - tanh^2 near saturation
 * magnifies the difference. */
#define RTOL_CELL 1e-4
#define ATOL_CELL 1e-5

static const dt_backend *cpu, *gpu;

static void test_memory(void)
{
    float *h = host_random(BIG, 1, -2.0f, 2.0f);
    float *d = dev_from(gpu, h, BIG);
    compare("to_device/to_host", gpu, d, h, BIG, 0.0, 0.0);

    float *d2 = dev_poisoned(gpu, BIG);
    gpu->copy(d2, d, BIG * sizeof(float));
    compare("copy", gpu, d2, h, BIG, 0.0, 0.0);

    float *ref = host_copy(h, BIG);
    cpu->fill(ref, 0.25f, BIG);
    gpu->fill(d2, 0.25f, BIG);
    compare("fill", gpu, d2, ref, BIG, 0.0, 0.0);

    float *z = gpu->alloc(1001 * sizeof(float)), zero[1001] = {0};
    compare("alloc is zeroed", gpu, z, zero, 1001, 0.0, 0.0);
    gpu->free(z);
    gpu->free(d);
    gpu->free(d2);
    free(h);
    free(ref);
}

/* C(m,n) = alpha op(A) op(B) + beta C with row-major leading dimensions. */
static void test_gemm_case(int ta, int tb, float beta)
{
    const int m = 33, n = 65, k = 47;
    const int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
    float *a = host_random((int64_t)m * k, 10, -1, 1), *b = host_random((int64_t)k * n, 11, -1, 1);
    float *c = host_random((int64_t)m * n, 12, -1, 1);
    float *da = dev_from(gpu, a, (int64_t)m * k), *db = dev_from(gpu, b, (int64_t)k * n);
    const int64_t mn = (int64_t)m * n;
    float *dc = beta == 0.0f ? dev_poisoned(gpu, mn) : dev_from(gpu, c, mn);
    cpu->gemm(ta, tb, m, n, k, 0.7f, a, lda, b, ldb, beta, c, ldc);
    gpu->gemm(ta, tb, m, n, k, 0.7f, da, lda, db, ldb, beta, dc, ldc);
    char what[64];
    snprintf(what, sizeof what, "gemm ta=%d tb=%d beta=%g", ta, tb, beta);
    compare(what, gpu, dc, c, (int64_t)m * n, RTOL_SUM, ATOL_SUM);
    gpu->free(da);
    gpu->free(db);
    gpu->free(dc);
    free(a);
    free(b);
    free(c);
}

static void test_gemm(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            test_gemm_case(ta, tb, 0.0f);
            test_gemm_case(ta, tb, 1.3f);
        }
}

static void test_rows(void)
{
    float *x = host_random(R * C, 20, -1, 1), *bias = host_random(C, 21, -1, 1);
    float *dx = dev_from(gpu, x, R * C), *dbias = dev_from(gpu, bias, C);
    cpu->add_bias(x, bias, R, C);
    gpu->add_bias(dx, dbias, R, C);
    compare("add_bias", gpu, dx, x, R * C, RTOL_EXACT, ATOL_EXACT);

    /* Column sums, overwriting (beta 0) and accumulating (beta 0.5); a tall
     * matrix spans many row passes. */
    const int64_t tall = 3001;
    float *t = host_random(tall * C, 22, -1, 1), *out = host_random(C, 23, -1, 1);
    float *dt = dev_from(gpu, t, tall * C), *dout = dev_poisoned(gpu, C);
    cpu->sum_rows(out, t, tall, C, 0.0f);
    gpu->sum_rows(dout, dt, tall, C, 0.0f);
    compare("sum_rows beta=0", gpu, dout, out, C, RTOL_SUM, ATOL_SUM);
    cpu->sum_rows(out, t, tall, C, 0.5f);
    gpu->sum_rows(dout, dt, tall, C, 0.5f);
    compare("sum_rows beta=0.5", gpu, dout, out, C, RTOL_SUM, ATOL_SUM);
    gpu->free(dx);
    gpu->free(dbias);
    gpu->free(dt);
    gpu->free(dout);
    free(x);
    free(bias);
    free(t);
    free(out);
}

static void test_elementwise(void)
{
    float *y = host_random(BIG, 30, -1, 1), *x = host_random(BIG, 31, -1, 1);
    float *dy = dev_from(gpu, y, BIG), *dx = dev_from(gpu, x, BIG);
    cpu->axpy(y, x, -0.3f, BIG);
    gpu->axpy(dy, dx, -0.3f, BIG);
    compare("axpy", gpu, dy, y, BIG, RTOL_EXACT, ATOL_EXACT);
    cpu->scale(y, 1.7f, BIG);
    gpu->scale(dy, 1.7f, BIG);
    compare("scale", gpu, dy, y, BIG, RTOL_EXACT, ATOL_EXACT);
    cpu->mul_add(y, x, x, BIG);
    gpu->mul_add(dy, dx, dx, BIG);
    compare("mul_add", gpu, dy, y, BIG, RTOL_EXACT, ATOL_EXACT);

    const double s_cpu = cpu->sumsq(x, BIG), s_gpu = gpu->sumsq(dx, BIG);
    CHECK_CLOSE(s_gpu, s_cpu, 1e-9, 0.0);
    CHECK(gpu->all_finite(dx, BIG) == 1);
    x[BIG - 5] = INFINITY;
    gpu->to_device(dx, x, BIG * sizeof(float));
    CHECK(gpu->all_finite(dx, BIG) == 0);
    x[BIG - 5] = NAN;
    gpu->to_device(dx, x, BIG * sizeof(float));
    CHECK(gpu->all_finite(dx, BIG) == 0);
    CHECK(gpu->all_finite(dx, BIG - 5) == 1);
    printf("ok  sumsq %.12g vs %.12g, all_finite\n", s_gpu, s_cpu);
    gpu->free(dy);
    gpu->free(dx);
    free(y);
    free(x);
}

static void test_activations(void)
{
    static const char *const names[DT_ACT_COUNT] = {"identity", "relu", "leaky_relu",
                                                    "sigmoid", "tanh", "gelu"};
    const int64_t n = BIG;
    float *x = host_random(n, 40, -4, 4), *g = host_random(n, 41, -1, 1);
    float *acc = host_random(n, 42, -1, 1);
    float *dx = dev_from(gpu, x, n), *dg = dev_from(gpu, g, n);
    for (int a = 0; a < DT_ACT_COUNT; a++) {
        const int exact = a <= DT_ACT_LEAKY_RELU;
        const double rtol = exact ? RTOL_EXACT : RTOL_TRANS;
        const double atol = exact ? ATOL_EXACT : ATOL_TRANS;
        char what[64];
        float *y = malloc(n * sizeof(float)), *dy = dev_poisoned(gpu, n);
        cpu->act_forward((dt_act)a, 0.1f, x, y, n);
        gpu->act_forward((dt_act)a, 0.1f, dx, dy, n);
        snprintf(what, sizeof what, "act_forward %s", names[a]);
        compare(what, gpu, dy, y, n, rtol, atol);

        /* Backward from the CPU's y on both, so only the backward differs. */
        float *d_in = host_copy(acc, n), *dd_in = dev_from(gpu, acc, n);
        float *dyc = dev_from(gpu, y, n);
        cpu->act_backward((dt_act)a, 0.1f, x, y, g, d_in, n);
        gpu->act_backward((dt_act)a, 0.1f, dx, dyc, dg, dd_in, n);
        snprintf(what, sizeof what, "act_backward %s", names[a]);
        compare(what, gpu, dd_in, d_in, n, rtol, atol);
        gpu->free(dy);
        gpu->free(dd_in);
        gpu->free(dyc);
        free(y);
        free(d_in);
    }
    gpu->free(dx);
    gpu->free(dg);
    free(x);
    free(g);
    free(acc);
}

static void test_softmax(void)
{
    /* One narrow and one wide row length (wider than a warp many times). */
    const int64_t shapes[2][2] = {{R, 10}, {7, 3001}};
    for (int s = 0; s < 2; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *x = host_random(n, 50, -5, 5), *y = malloc(n * sizeof(float));
        float *dx = dev_from(gpu, x, n), *dy = dev_poisoned(gpu, n);
        cpu->softmax_forward(x, y, rows, cols);
        gpu->softmax_forward(dx, dy, rows, cols);
        compare(s ? "softmax_forward wide" : "softmax_forward", gpu, dy, y, n, RTOL_TRANS,
                ATOL_TRANS);

        float *g = host_random(n, 51, -1, 1), *acc = host_random(n, 52, -1, 1);
        float *dg = dev_from(gpu, g, n), *dacc = dev_from(gpu, acc, n), *dyc = dev_from(gpu, y, n);
        cpu->softmax_backward(y, g, acc, rows, cols);
        gpu->softmax_backward(dyc, dg, dacc, rows, cols);
        compare(s ? "softmax_backward wide" : "softmax_backward", gpu, dacc, acc, n, RTOL_SUM,
                ATOL_TRANS);
        gpu->free(dx);
        gpu->free(dy);
        gpu->free(dg);
        gpu->free(dacc);
        gpu->free(dyc);
        free(x);
        free(y);
        free(g);
        free(acc);
    }
}

static void test_dropout(void)
{
    const int64_t rows = R, cols = 1031, n = rows * cols;
    int64_t index[R];
    for (int r = 0; r < R; r++) index[r] = 1000003LL * r + 17; /* far apart, as global indices */
    const dt_rng rng = dt_rng_make(99, DT_RNG_DROPOUT, 12, 3);
    float *x = host_random(n, 60, -1, 1), *y = malloc(n * sizeof(float));
    float *mask = malloc(n * sizeof(float));
    float *dx = dev_from(gpu, x, n), *dy = dev_poisoned(gpu, n), *dmask = dev_poisoned(gpu, n);
    cpu->dropout_forward(x, y, mask, rows, cols, index, &rng, 0.3f);
    gpu->dropout_forward(dx, dy, dmask, rows, cols, index, &rng, 0.3f);
    compare("dropout mask (bit-identical)", gpu, dmask, mask, n, 0.0, 0.0);
    compare("dropout output", gpu, dy, y, n, 0.0, 0.0);
    gpu->free(dx);
    gpu->free(dy);
    gpu->free(dmask);
    free(x);
    free(y);
    free(mask);
}

static void check_sums(const char *what, dt_loss_sums g, dt_loss_sums c)
{
    CHECK_CLOSE(g.loss, c.loss, RTOL_SUM, 1e-6);
    CHECK(g.correct == c.correct);
    CHECK(g.correct5 == c.correct5);
    printf("ok  %-34s loss %.9g vs %.9g, correct %lld vs %lld, top-5 %lld vs %lld\n", what,
           g.loss, c.loss, (long long)g.correct, (long long)c.correct, (long long)g.correct5,
           (long long)c.correct5);
}

static void test_losses(void)
{
    /* Cross-entropy, 10 and 1000 classes; row 0 is all ties (arg-max 0). */
    const int64_t widths[2] = {10, 1000};
    for (int w = 0; w < 2; w++) {
        const int64_t classes = widths[w], n = R * classes;
        float *z = host_random(n, 70, -3, 3), labels[R];
        for (int64_t j = 0; j < classes; j++) z[j] = 0.5f;
        for (int r = 0; r < R; r++) labels[r] = (float)((r * 7) % classes);
        labels[0] = 0.0f;
        float *d = malloc(n * sizeof(float));
        float *dz = dev_from(gpu, z, n), *dl = dev_from(gpu, labels, R);
        float *dd = dev_poisoned(gpu, n);
        const dt_loss_sums c = cpu->cross_entropy(z, labels, R, classes, 0.1f, 1.0f / 64, d);
        const dt_loss_sums g = gpu->cross_entropy(dz, dl, R, classes, 0.1f, 1.0f / 64, dd);
        check_sums(w ? "cross_entropy 1000 classes" : "cross_entropy 10 classes", g, c);
        compare("cross_entropy gradient", gpu, dd, d, n, RTOL_TRANS, ATOL_TRANS);
        gpu->free(dz);
        gpu->free(dl);
        gpu->free(dd);
        free(z);
        free(d);
    }

    const int64_t dim = 3, n = R * dim;
    float *pred = host_random(2 * n, 71, -1, 1), *target = host_random(n, 72, -1, 1);
    float *d = malloc(2 * n * sizeof(float));
    float *dp = dev_from(gpu, pred, 2 * n), *dt = dev_from(gpu, target, n);
    float *dd = dev_poisoned(gpu, 2 * n);
    check_sums("mse", gpu->mse(dp, dt, R, dim, 0.5f, dd), cpu->mse(pred, target, R, dim, 0.5f, d));
    compare("mse gradient", gpu, dd, d, n, RTOL_EXACT, ATOL_EXACT);
    gpu->fill(dd, NAN, 2 * n);
    check_sums("gaussian_nll", gpu->gaussian_nll(dp, dt, R, dim, 0.5f, dd),
               cpu->gaussian_nll(pred, target, R, dim, 0.5f, d));
    compare("gaussian_nll gradient", gpu, dd, d, 2 * n, RTOL_TRANS, ATOL_TRANS);

    /* Zero rows: zero sums, nothing written. */
    const dt_loss_sums e = gpu->cross_entropy(dp, dt, 0, 10, 0.0f, 1.0f, dd);
    CHECK(e.loss == 0.0 && e.correct == 0);
    gpu->free(dp);
    gpu->free(dt);
    gpu->free(dd);
    free(pred);
    free(target);
    free(d);
}

static void test_optimizers(void)
{
    const int64_t n = BIG;
    float *p = host_random(n, 80, -1, 1), *g = host_random(n, 81, -1, 1);
    float *v = host_random(n, 82, -1, 1), *m = host_random(n, 83, 0, 1);
    float *dp = dev_from(gpu, p, n), *dg = dev_from(gpu, g, n), *dv = dev_from(gpu, v, n);
    float *dm = dev_from(gpu, m, n);

    const dt_sgd_args plain = {.lr = 0.1f, .weight_decay = 0.01f};
    cpu->sgd_step(p, g, NULL, n, &plain);
    gpu->sgd_step(dp, dg, NULL, n, &plain);
    compare("sgd_step plain", gpu, dp, p, n, RTOL_EXACT, ATOL_EXACT);
    for (int first = 1; first >= 0; first--) {
        const dt_sgd_args mom = {.lr = 0.05f, .momentum = 0.9f, .dampening = 0.1f,
                                 .weight_decay = 0.001f, .first = first};
        cpu->sgd_step(p, g, v, n, &mom);
        gpu->sgd_step(dp, dg, dv, n, &mom);
        compare(first ? "sgd_step momentum, first" : "sgd_step momentum", gpu, dp, p, n,
                RTOL_EXACT, ATOL_EXACT);
        compare("sgd momentum buffer", gpu, dv, v, n, RTOL_EXACT, ATOL_EXACT);
    }
    const dt_sgd_args nes = {.lr = 0.05f, .momentum = 0.9f, .nesterov = 1};
    cpu->sgd_step(p, g, v, n, &nes);
    gpu->sgd_step(dp, dg, dv, n, &nes);
    compare("sgd_step nesterov", gpu, dp, p, n, RTOL_EXACT, ATOL_EXACT);

    for (int decoupled = 0; decoupled < 2; decoupled++) {
        const dt_adam_args a = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                .weight_decay = 0.02f, .decoupled = decoupled, .step = 3};
        cpu->adam_step(p, g, v, m, n, &a);
        gpu->adam_step(dp, dg, dv, dm, n, &a);
        compare(decoupled ? "adamw_step" : "adam_step", gpu, dp, p, n, RTOL_TRANS, ATOL_TRANS);
        compare("adam first moment", gpu, dv, v, n, RTOL_EXACT, ATOL_EXACT);
        compare("adam second moment", gpu, dm, m, n, RTOL_EXACT, ATOL_EXACT);
    }
    gpu->free(dp);
    gpu->free(dg);
    gpu->free(dv);
    gpu->free(dm);
    free(p);
    free(g);
    free(v);
    free(m);
}

/* ---- convolutional-network ops ---- */

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups;
} conv_case;

static dt_conv_geom geom_of(const conv_case *k)
{
    dt_conv_geom g = {.c = k->c, .h = k->h, .w = k->w, .oc = k->oc, .kh = k->kh, .kw = k->kw,
                      .sh = k->sh, .sw = k->sw, .ph = k->ph, .pw = k->pw, .dh = k->dh,
                      .dw = k->dw, .groups = k->groups};
    g.oh = (k->h + 2 * k->ph - k->dh * (k->kh - 1) - 1) / k->sh + 1;
    g.ow = (k->w + 2 * k->pw - k->dw * (k->kw - 1) - 1) / k->sw + 1;
    return g;
}

/* Forward (with bias, overwriting; without, accumulating), the data
 * gradient and the filter gradient (overwriting and accumulating) of one
 * geometry, each device with its own workspace size. */
static void test_conv_case(const conv_case *k)
{
    const dt_conv_geom g = geom_of(k);
    const int64_t nx = k->n * g.c * g.h * g.w, ny = k->n * g.oc * g.oh * g.ow;
    const int64_t nw = g.oc * (g.c / g.groups) * g.kh * g.kw;
    const int64_t wc = cpu->conv2d_workspace(&g), wg = gpu->conv2d_workspace(&g);
    CHECK(wg >= (g.c * g.kh * g.kw + g.oc) * g.oh * g.ow);
    float *work_c = malloc((size_t)wc * sizeof(float)), *work_g = dev_poisoned(gpu, wg);
    gpu_pair x = pair_random(gpu, nx, 100, -1, 1), w = pair_random(gpu, nw, 101, -0.5f, 0.5f);
    gpu_pair b = pair_random(gpu, g.oc, 102, -1, 1), y = pair_poisoned(gpu, ny);
    char what[96];

    cpu->conv2d_forward(&g, k->n, x.h, w.h, b.h, y.h, 0.0f, work_c);
    gpu->conv2d_forward(&g, k->n, x.d, w.d, b.d, y.d, 0.0f, work_g);
    snprintf(what, sizeof what, "conv2d_forward %s", k->name);
    pair_check(what, gpu, &y, RTOL_SUM, ATOL_SUM);
    cpu->conv2d_forward(&g, k->n, x.h, w.h, NULL, y.h, 0.5f, work_c);
    gpu->conv2d_forward(&g, k->n, x.d, w.d, NULL, y.d, 0.5f, work_g);
    snprintf(what, sizeof what, "conv2d_forward %s beta=0.5", k->name);
    pair_check(what, gpu, &y, RTOL_SUM, ATOL_SUM);

    gpu_pair dy = pair_random(gpu, ny, 103, -1, 1), dx = pair_random(gpu, nx, 104, -1, 1);
    cpu->conv2d_backward_data(&g, k->n, dy.h, w.h, dx.h, work_c);
    gpu->conv2d_backward_data(&g, k->n, dy.d, w.d, dx.d, work_g);
    snprintf(what, sizeof what, "conv2d_backward_data %s", k->name);
    pair_check(what, gpu, &dx, RTOL_SUM, ATOL_SUM);

    /* dw overwritten (beta 0: poisoned), db from finite values (the CPU
     * reads beta * db); then both accumulated. */
    gpu_pair dw = pair_poisoned(gpu, nw), db = pair_random(gpu, g.oc, 105, -1, 1);
    for (int acc = 0; acc < 2; acc++) {
        const float beta = acc ? 1.0f : 0.0f;
        cpu->conv2d_backward_filter(&g, k->n, x.h, dy.h, dw.h, db.h, beta, work_c);
        gpu->conv2d_backward_filter(&g, k->n, x.d, dy.d, dw.d, db.d, beta, work_g);
        snprintf(what, sizeof what, "conv2d_backward_filter %s beta=%g", k->name, beta);
        pair_check(what, gpu, &dw, RTOL_SUM, ATOL_SUM);
        pair_check("conv2d_backward_filter bias", gpu, &db, RTOL_SUM, ATOL_SUM);
    }
    /* No samples: the gradients are only scaled by beta. */
    cpu->conv2d_backward_filter(&g, 0, x.h, dy.h, dw.h, db.h, 0.5f, work_c);
    gpu->conv2d_backward_filter(&g, 0, x.d, dy.d, dw.d, db.d, 0.5f, work_g);
    pair_check("conv2d_backward_filter n=0", gpu, &dw, RTOL_SUM, ATOL_SUM);

    gpu_pair *all[] = {&x, &w, &b, &y, &dy, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
    free(work_c);
    gpu->free(work_g);
}

static void test_conv(void)
{
    static const conv_case cases[] = {
        /* name                   n   c   h   w  oc kh kw sh sw ph pw dh dw groups */
        {"3x3 pad 1",             3,  3, 13, 11,  5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {"stride 2 dilation 2",   2,  4, 15, 12,  6, 3, 2, 2, 1, 2, 1, 2, 1, 2},
        {"5x5 stride 3 pad 2",    2,  2, 17, 19,  3, 5, 5, 3, 3, 2, 2, 1, 1, 1},
        {"pointwise",             3,  7,  5,  6,  3, 1, 1, 1, 1, 0, 0, 1, 1, 1},
        {"depthwise",             2,  4,  9,  7,  4, 3, 3, 1, 1, 1, 1, 1, 1, 4},
        {"several chunks",       30, 16, 32, 32,  8, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_conv_case(&cases[i]);
}

static void test_channel_ops(void)
{
    const int64_t n = 3, c = 7, hw = 131, total = n * c * hw;
    gpu_pair y = pair_random(gpu, total, 110, -1, 1), b = pair_random(gpu, c, 111, -1, 1);
    cpu->channel_bias_add(y.h, b.h, n, c, hw);
    gpu->channel_bias_add(y.d, b.d, n, c, hw);
    pair_check("channel_bias_add", gpu, &y, RTOL_EXACT, ATOL_EXACT);
    for (int acc = 0; acc < 2; acc++) {
        cpu->channel_sum(b.h, y.h, n, c, hw, acc ? 0.7f : 0.0f);
        gpu->channel_sum(b.d, y.d, n, c, hw, acc ? 0.7f : 0.0f);
        pair_check(acc ? "channel_sum beta=0.7" : "channel_sum beta=0", gpu, &b, RTOL_SUM,
                   ATOL_SUM);
    }
    pair_free(gpu, &y);
    pair_free(gpu, &b);
}

typedef struct pool_case {
    const char *name;
    int64_t c, h, w, kh, kw, sh, sw, ph, pw;
    int max, count_pad;
} pool_case;

static void test_pool_case(const pool_case *k)
{
    const int64_t n = 3;
    dt_pool_geom g = {.c = k->c, .h = k->h, .w = k->w, .kh = k->kh, .kw = k->kw, .sh = k->sh,
                      .sw = k->sw, .ph = k->ph, .pw = k->pw, .max = k->max,
                      .count_pad = k->count_pad};
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    const int64_t nx = n * g.c * g.h * g.w, ny = n * g.c * g.oh * g.ow;
    gpu_pair x = pair_random(gpu, nx, 120, -1, 1), y = pair_poisoned(gpu, ny);
    int32_t *arg = malloc((size_t)ny * sizeof(int32_t));
    int32_t *darg = gpu->alloc((size_t)ny * sizeof(int32_t));
    gpu->fill((float *)darg, NAN, ny); /* NaN's bits: no valid index */
    char what[96];

    cpu->pool2d_forward(&g, n, x.h, y.h, k->max ? arg : NULL);
    gpu->pool2d_forward(&g, n, x.d, y.d, k->max ? darg : NULL);
    snprintf(what, sizeof what, "pool2d_forward %s", k->name);
    pair_check(what, gpu, &y, k->max ? 0.0 : RTOL_EXACT, k->max ? 0.0 : ATOL_EXACT);
    if (k->max) {
        compare_ints("pool2d_forward arg-max", gpu, darg, arg, ny, sizeof(int32_t));
        gpu->to_device(darg, arg, (size_t)ny * sizeof(int32_t)); /* the same on both */
    }

    gpu_pair dy = pair_random(gpu, ny, 121, -1, 1), dx = pair_random(gpu, nx, 122, -1, 1);
    cpu->pool2d_backward(&g, n, dy.h, arg, dx.h);
    gpu->pool2d_backward(&g, n, dy.d, darg, dx.d);
    snprintf(what, sizeof what, "pool2d_backward %s", k->name);
    pair_check(what, gpu, &dx, RTOL_TRANS, ATOL_TRANS);
    pair_free(gpu, &x);
    pair_free(gpu, &y);
    pair_free(gpu, &dy);
    pair_free(gpu, &dx);
    free(arg);
    gpu->free(darg);
}

static void test_pool(void)
{
    static const pool_case cases[] = {
        /* name                      c   h   w kh kw sh sw ph pw max pad */
        {"max 3x3 s2 p1 overlap",    5, 13, 11, 3, 3, 2, 2, 1, 1, 1, 0},
        {"max 2x2 s2 odd",           3,  9,  7, 2, 2, 2, 2, 0, 0, 1, 0},
        {"max 3x2 s1",               2,  8, 10, 3, 2, 1, 1, 0, 1, 1, 0},
        {"avg 3x3 s2 p1",            5, 13, 11, 3, 3, 2, 2, 1, 1, 0, 0},
        {"avg 3x3 s2 p1 count_pad",  5, 13, 11, 3, 3, 2, 2, 1, 1, 0, 1},
        {"avg 2x2 s2",               3,  9,  7, 2, 2, 2, 2, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_pool_case(&cases[i]);
}

/* Batch normalization: statistics, forward, and backward with batch and
 * running statistics, with and without dx. Statistics are sums of n*hw
 * values in double on both devices: rtol 1e-5. */
static void test_batchnorm(void)
{
    const int64_t n = 5, c = 7, hw = 143, total = n * c * hw;
    gpu_pair x = pair_random(gpu, total, 130, -2, 3), y = pair_poisoned(gpu, total);
    gpu_pair mean = pair_poisoned(gpu, c), var = pair_poisoned(gpu, c);
    gpu_pair rstd = pair_poisoned(gpu, c);
    gpu_pair gamma = pair_random(gpu, c, 131, 0.5f, 1.5f), beta = pair_random(gpu, c, 132, -1, 1);
    cpu->batchnorm_stats(x.h, n, c, hw, mean.h, var.h);
    gpu->batchnorm_stats(x.d, n, c, hw, mean.d, var.d);
    pair_check("batchnorm_stats mean", gpu, &mean, RTOL_TRANS, ATOL_TRANS);
    pair_check("batchnorm_stats var", gpu, &var, RTOL_TRANS, ATOL_TRANS);
    pair_sync_to_device(gpu, &mean);
    pair_sync_to_device(gpu, &var);
    cpu->batchnorm_forward(x.h, y.h, n, c, hw, mean.h, var.h, 1e-5f, gamma.h, beta.h, rstd.h);
    gpu->batchnorm_forward(x.d, y.d, n, c, hw, mean.d, var.d, 1e-5f, gamma.d, beta.d, rstd.d);
    pair_check("batchnorm_forward", gpu, &y, RTOL_TRANS, ATOL_TRANS);
    pair_check("batchnorm_forward rstd", gpu, &rstd, RTOL_TRANS, ATOL_TRANS);
    pair_sync_to_device(gpu, &rstd);

    gpu_pair dy = pair_random(gpu, total, 133, -1, 1), dx = pair_random(gpu, total, 134, -1, 1);
    gpu_pair dg = pair_random(gpu, c, 135, -1, 1), db = pair_random(gpu, c, 136, -1, 1);
    for (int mode = 0; mode < 3; mode++) {
        /* 0: training (batch statistics), overwrite; 1: running
         * statistics, accumulate; 2: no dx */
        const int batch_stats = mode != 1;
        const float b = mode == 1 ? 1.0f : 0.0f;
        cpu->batchnorm_backward(x.h, dy.h, mode == 2 ? NULL : dx.h, n, c, hw, mean.h, rstd.h,
                                gamma.h, dg.h, db.h, b, batch_stats);
        gpu->batchnorm_backward(x.d, dy.d, mode == 2 ? NULL : dx.d, n, c, hw, mean.d, rstd.d,
                                gamma.d, dg.d, db.d, b, batch_stats);
        static const char *const names[3] = {"batch stats", "running stats", "no dx"};
        char what[96];
        snprintf(what, sizeof what, "batchnorm_backward dx, %s", names[mode]);
        pair_check(what, gpu, &dx, RTOL_SUM, ATOL_SUM);
        pair_check("batchnorm_backward dgamma", gpu, &dg, RTOL_SUM, ATOL_SUM);
        pair_check("batchnorm_backward dbeta", gpu, &db, RTOL_SUM, ATOL_SUM);
    }
    gpu_pair *all[] = {&x, &y, &mean, &var, &rstd, &gamma, &beta, &dy, &dx, &dg, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
}

/* Group normalization per channel, layer normalization (one group, affine
 * per element) and no affine at all. */
static void test_groupnorm(void)
{
    static const struct {
        const char *name;
        int64_t groups;
        int per_elem, affine;
    } cases[] = {{"3 groups", 3, 0, 1}, {"layer norm", 1, 1, 1}, {"no affine", 2, 0, 0}};
    const int64_t n = 4, c = 6, hw = 37, total = n * c * hw;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int64_t groups = cases[t].groups, np = cases[t].per_elem ? c * hw : c;
        gpu_pair x = pair_random(gpu, total, 140, -2, 2), y = pair_poisoned(gpu, total);
        gpu_pair stats = pair_poisoned(gpu, 2 * n * groups);
        gpu_pair gamma = pair_random(gpu, np, 141, 0.5f, 1.5f);
        gpu_pair beta = pair_random(gpu, np, 142, -1, 1);
        const float *gh = cases[t].affine ? gamma.h : NULL, *gd = cases[t].affine ? gamma.d : NULL;
        const float *bh = cases[t].affine ? beta.h : NULL, *bd = cases[t].affine ? beta.d : NULL;
        char what[96];
        cpu->groupnorm_forward(x.h, y.h, n, c, hw, groups, 1e-5f, gh, bh, cases[t].per_elem,
                               stats.h);
        gpu->groupnorm_forward(x.d, y.d, n, c, hw, groups, 1e-5f, gd, bd, cases[t].per_elem,
                               stats.d);
        snprintf(what, sizeof what, "groupnorm_forward %s", cases[t].name);
        pair_check(what, gpu, &y, RTOL_TRANS, ATOL_TRANS);
        pair_check("groupnorm_forward stats", gpu, &stats, RTOL_TRANS, ATOL_TRANS);
        pair_sync_to_device(gpu, &stats);

        gpu_pair dy = pair_random(gpu, total, 143, -1, 1);
        gpu_pair dx = pair_random(gpu, total, 144, -1, 1);
        gpu_pair dg = pair_random(gpu, np, 145, -1, 1), db = pair_random(gpu, np, 146, -1, 1);
        for (int acc = 0; acc < 2; acc++) {
            cpu->groupnorm_backward(x.h, dy.h, dx.h, n, c, hw, groups, gh, cases[t].per_elem,
                                    stats.h, dg.h, db.h, acc ? 1.0f : 0.0f);
            gpu->groupnorm_backward(x.d, dy.d, dx.d, n, c, hw, groups, gd, cases[t].per_elem,
                                    stats.d, dg.d, db.d, acc ? 1.0f : 0.0f);
            snprintf(what, sizeof what, "groupnorm_backward dx %s beta=%d", cases[t].name, acc);
            pair_check(what, gpu, &dx, RTOL_SUM, ATOL_SUM);
            pair_check("groupnorm_backward dgamma", gpu, &dg, RTOL_SUM, ATOL_SUM);
            pair_check("groupnorm_backward dbeta", gpu, &db, RTOL_SUM, ATOL_SUM);
        }
        gpu_pair *all[] = {&x, &y, &stats, &gamma, &beta, &dy, &dx, &dg, &db};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
    }
}

static void test_lrn(void)
{
    const int64_t n = 3, c = 9, hw = 41, total = n * c * hw;
    for (int64_t size = 4; size <= 5; size++) {
        gpu_pair x = pair_random(gpu, total, 150, -2, 2), y = pair_poisoned(gpu, total);
        gpu_pair d = pair_poisoned(gpu, total);
        cpu->lrn_forward(x.h, y.h, d.h, n, c, hw, size, 1e-2f, 0.75f, 2.0f);
        gpu->lrn_forward(x.d, y.d, d.d, n, c, hw, size, 1e-2f, 0.75f, 2.0f);
        pair_check(size == 4 ? "lrn_forward size 4" : "lrn_forward size 5", gpu, &y, RTOL_TRANS,
                   ATOL_TRANS);
        pair_check("lrn_forward d", gpu, &d, RTOL_TRANS, ATOL_TRANS);
        pair_sync_to_device(gpu, &d);
        gpu_pair dy = pair_random(gpu, total, 151, -1, 1);
        gpu_pair dx = pair_random(gpu, total, 152, -1, 1);
        cpu->lrn_backward(x.h, d.h, dy.h, dx.h, n, c, hw, size, 1e-2f, 0.75f);
        gpu->lrn_backward(x.d, d.d, dy.d, dx.d, n, c, hw, size, 1e-2f, 0.75f);
        pair_check("lrn_backward", gpu, &dx, RTOL_TRANS, ATOL_TRANS);
        gpu_pair *all[] = {&x, &y, &d, &dy, &dx};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
    }
}

/* Nearest and bilinear, up by integer and non-integer factors and down. */
static void test_upsample(void)
{
    static const int64_t sizes[][4] = {{5, 7, 10, 14}, {5, 7, 11, 13}, {9, 9, 4, 5}};
    const int64_t planes = 6;
    for (int bilinear = 0; bilinear < 2; bilinear++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const int64_t h = sizes[s][0], w = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
            gpu_pair x = pair_random(gpu, planes * h * w, 160, -1, 1);
            gpu_pair y = pair_poisoned(gpu, planes * oh * ow);
            char what[96];
            cpu->upsample_forward(bilinear, x.h, y.h, planes, h, w, oh, ow);
            gpu->upsample_forward(bilinear, x.d, y.d, planes, h, w, oh, ow);
            snprintf(what, sizeof what, "upsample_forward %s %lldx%lld->%lldx%lld",
                     bilinear ? "bilinear" : "nearest", (long long)h, (long long)w,
                     (long long)oh, (long long)ow);
            pair_check(what, gpu, &y, RTOL_TRANS, ATOL_TRANS);
            gpu_pair dy = pair_random(gpu, planes * oh * ow, 161, -1, 1);
            gpu_pair dx = pair_random(gpu, planes * h * w, 162, -1, 1);
            cpu->upsample_backward(bilinear, dy.h, dx.h, planes, h, w, oh, ow);
            gpu->upsample_backward(bilinear, dy.d, dx.d, planes, h, w, oh, ow);
            snprintf(what, sizeof what, "upsample_backward %s %lldx%lld->%lldx%lld",
                     bilinear ? "bilinear" : "nearest", (long long)h, (long long)w,
                     (long long)oh, (long long)ow);
            pair_check(what, gpu, &dx, RTOL_TRANS, ATOL_TRANS);
            gpu_pair *all[] = {&x, &y, &dy, &dx};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
        }
}

/* Per-pixel cross-entropy with label smoothing: gradient, loss and correct
 * sums, and the confusion counts added to a host matrix that already
 * holds counts. */
static void test_cross_entropy_pixels(void)
{
    const int64_t rows = 3, classes = 5, hw = 37, n = rows * classes * hw;
    gpu_pair z = pair_random(gpu, n, 170, -3, 3), d = pair_poisoned(gpu, n);
    float labels[3 * 37];
    for (int64_t i = 0; i < rows * hw; i++) labels[i] = (float)((i * 3 + i / 7) % classes);
    gpu_pair lab = pair_from(gpu, labels, rows * hw);
    int64_t conf_c[25], conf_g[25];
    for (int i = 0; i < 25; i++) conf_c[i] = conf_g[i] = i;
    const dt_loss_sums c = cpu->cross_entropy_pixels(z.h, lab.h, rows, classes, hw, 0.1f,
                                                     1.0f / 8, d.h, conf_c);
    const dt_loss_sums g = gpu->cross_entropy_pixels(z.d, lab.d, rows, classes, hw, 0.1f,
                                                     1.0f / 8, d.d, conf_g);
    check_sums("cross_entropy_pixels", g, c);
    pair_check("cross_entropy_pixels gradient", gpu, &d, RTOL_TRANS, ATOL_TRANS);
    int same = 1;
    for (int i = 0; i < 25; i++) same &= conf_c[i] == conf_g[i];
    CHECK(same);
    printf("%s  cross_entropy_pixels confusion counts\n", same ? "ok" : "BAD");
    gpu->fill(d.d, NAN, n);
    const dt_loss_sums g2 = gpu->cross_entropy_pixels(z.d, lab.d, rows, classes, hw, 0.1f,
                                                      1.0f / 8, d.d, NULL);
    check_sums("cross_entropy_pixels, no confusion", g2, c);
    pair_free(gpu, &z);
    pair_free(gpu, &d);
    pair_free(gpu, &lab);
}

/* ---- sequence ops ---- */

/* One step of a cell on rows of wider buffers (every leading dimension
 * larger than the row), with a mask whose zeros mark padding rows. The
 * backward step starts from the CPU's forward state on both devices. */
static void test_cell_case(dt_cell_kind kind, dt_act act, const char *name)
{
    const int64_t rows = R, H = 19, G = kind == DT_CELL_LSTM ? 4 : kind == DT_CELL_GRU ? 3 : 1;
    const int64_t ldg = G * H + 3, lds = H + 5, ldm = 3, ldhn = H + 2;
    float mask_h[R * 3];
    for (int64_t r = 0; r < rows * ldm; r++) mask_h[r] = (r / ldm) % 4 == 3 ? 0.0f : 1.0f;
    gpu_pair mask = pair_from(gpu, mask_h, rows * ldm);
    gpu_pair gates = pair_random(gpu, rows * ldg, 200, -3, 3);
    gpu_pair hp = pair_random(gpu, rows * lds, 201, -1, 1);
    gpu_pair cp = pair_random(gpu, rows * lds, 202, -1, 1);
    gpu_pair h = pair_poisoned(gpu, rows * lds), c = pair_poisoned(gpu, rows * lds);
    gpu_pair hproj = pair_random(gpu, rows * 3 * H, 203, -2, 2);
    gpu_pair hn = pair_poisoned(gpu, rows * ldhn);
    dt_cell_step sc = {.kind = kind, .act = act, .forget_bias = 0.5f, .rows = rows, .hidden = H,
                       .ld_gates = ldg, .ld_state = lds, .ld_mask = ldm, .ld_hn = ldhn,
                       .ld_dgates = ldg};
    dt_cell_step sg = sc;
    sc.gates = gates.h, sc.h_prev = hp.h, sc.c_prev = cp.h, sc.h = h.h, sc.c = c.h;
    sc.mask = mask.h, sc.hproj = hproj.h, sc.hn = hn.h;
    sg.gates = gates.d, sg.h_prev = hp.d, sg.c_prev = cp.d, sg.h = h.d, sg.c = c.d;
    sg.mask = mask.d, sg.hproj = hproj.d, sg.hn = hn.d;
    char what[96];

    cpu->cell_forward(&sc);
    gpu->cell_forward(&sg);
    snprintf(what, sizeof what, "cell_forward %s h", name);
    pair_check(what, gpu, &h, RTOL_CELL, ATOL_CELL);
    pair_check("cell_forward activated gates", gpu, &gates, RTOL_CELL, ATOL_CELL);
    if (kind == DT_CELL_LSTM) pair_check("cell_forward lstm c", gpu, &c, RTOL_CELL, ATOL_CELL);
    if (kind == DT_CELL_GRU) pair_check("cell_forward gru hn", gpu, &hn, RTOL_EXACT, ATOL_EXACT);
    pair_sync_to_device(gpu, &gates);
    pair_sync_to_device(gpu, &c);
    pair_sync_to_device(gpu, &hn);

    gpu_pair dh = pair_random(gpu, rows * H, 204, -1, 1);
    gpu_pair dc = pair_random(gpu, rows * H, 205, -1, 1);
    gpu_pair dhp = pair_poisoned(gpu, rows * H), dg = pair_poisoned(gpu, rows * ldg);
    gpu_pair dgh = pair_poisoned(gpu, rows * ldg);
    sc.dh = dh.h, sc.dc = dc.h, sc.dh_prev = dhp.h, sc.dgates = dg.h, sc.dgates_h = dgh.h;
    sg.dh = dh.d, sg.dc = dc.d, sg.dh_prev = dhp.d, sg.dgates = dg.d, sg.dgates_h = dgh.d;
    cpu->cell_backward(&sc);
    gpu->cell_backward(&sg);
    snprintf(what, sizeof what, "cell_backward %s dgates", name);
    pair_check(what, gpu, &dg, RTOL_CELL, ATOL_CELL);
    pair_check("cell_backward dh_prev", gpu, &dhp, RTOL_CELL, ATOL_CELL);
    if (kind == DT_CELL_LSTM) pair_check("cell_backward lstm dc", gpu, &dc, RTOL_CELL, ATOL_CELL);
    if (kind == DT_CELL_GRU)
        pair_check("cell_backward gru dgates_h", gpu, &dgh, RTOL_CELL, ATOL_CELL);
    gpu_pair *all[] = {&mask, &gates, &hp, &cp, &h, &c, &hproj, &hn, &dh, &dc, &dhp, &dg, &dgh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
}

static void test_cells(void)
{
    test_cell_case(DT_CELL_RNN, DT_ACT_TANH, "rnn tanh");
    test_cell_case(DT_CELL_RNN, DT_ACT_RELU, "rnn relu");
    test_cell_case(DT_CELL_LSTM, DT_ACT_TANH, "lstm");
    test_cell_case(DT_CELL_GRU, DT_ACT_TANH, "gru");
}

static void test_rows_and_masks(void)
{
    const int64_t rows = R, cols = 29, ldd = 41, lds = 33, ldm = 5;
    float mask_h[R * 5];
    for (int64_t i = 0; i < rows * ldm; i++) mask_h[i] = (i / ldm) % 3 == 1 ? 0.0f : 1.0f;
    gpu_pair mask = pair_from(gpu, mask_h, rows * ldm);
    gpu_pair src = pair_random(gpu, rows * lds, 210, -1, 1);
    gpu_pair dst = pair_poisoned(gpu, rows * ldd);
    cpu->rows_copy(dst.h, ldd, src.h, lds, rows, cols, mask.h, ldm);
    gpu->rows_copy(dst.d, ldd, src.d, lds, rows, cols, mask.d, ldm);
    pair_check("rows_copy masked", gpu, &dst, 0.0, 0.0);
    cpu->rows_copy(dst.h, ldd, src.h, lds, rows, cols, NULL, 0);
    gpu->rows_copy(dst.d, ldd, src.d, lds, rows, cols, NULL, 0);
    pair_check("rows_copy", gpu, &dst, 0.0, 0.0);
    cpu->rows_add(dst.h, ldd, src.h, lds, rows, cols, mask.h, ldm);
    gpu->rows_add(dst.d, ldd, src.d, lds, rows, cols, mask.d, ldm);
    pair_check("rows_add masked", gpu, &dst, RTOL_EXACT, ATOL_EXACT);
    cpu->rows_add(dst.h, ldd, src.h, lds, rows, cols, NULL, 0);
    gpu->rows_add(dst.d, ldd, src.d, lds, rows, cols, NULL, 0);
    pair_check("rows_add", gpu, &dst, RTOL_EXACT, ATOL_EXACT);
    cpu->rows_copy(dst.h, ldd, NULL, 0, rows, cols, NULL, 0);
    gpu->rows_copy(dst.d, ldd, NULL, 0, rows, cols, NULL, 0);
    pair_check("rows_copy zeros", gpu, &dst, 0.0, 0.0);

    /* Lengths from ids with padding id 0 at varied places (some rows
     * without any), then the masks of those lengths. */
    const int64_t steps = 23;
    float ids_h[R * 23];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < steps; t++)
            ids_h[r * steps + t] = t >= (r * 5) % (steps + 4) ? 0.0f : (float)(1 + (r + t) % 9);
    gpu_pair ids = pair_from(gpu, ids_h, rows * steps), len = pair_poisoned(gpu, rows);
    cpu->seq_lengths(ids.h, rows, steps, 0.0f, len.h);
    gpu->seq_lengths(ids.d, rows, steps, 0.0f, len.d);
    pair_check("seq_lengths", gpu, &len, 0.0, 0.0);
    gpu_pair m = pair_poisoned(gpu, rows * steps);
    cpu->seq_mask(len.h, rows, steps, m.h);
    gpu->seq_mask(len.d, rows, steps, m.d);
    pair_check("seq_mask", gpu, &m, 0.0, 0.0);
    gpu_pair *all[] = {&mask, &src, &dst, &ids, &len, &m};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
}

/* Gather with ids out of range (-1, vocab, 2.5: zero rows, counted), and
 * the scatter with repeated ids, which the GPU adds with atomics in any
 * order: rtol 1e-5. */
static void test_embedding(void)
{
    const int64_t n = 301, vocab = 17, dim = 45;
    float ids_h[301];
    for (int64_t i = 0; i < n; i++) ids_h[i] = (float)((i * 7) % vocab);
    ids_h[3] = -1.0f;
    ids_h[10] = (float)vocab;
    ids_h[20] = 2.5f;
    gpu_pair ids = pair_from(gpu, ids_h, n), table = pair_random(gpu, vocab * dim, 220, -1, 1);
    gpu_pair out = pair_poisoned(gpu, n * dim);
    const int64_t bad_c = cpu->embed_forward(ids.h, n, table.h, vocab, dim, out.h);
    const int64_t bad_g = gpu->embed_forward(ids.d, n, table.d, vocab, dim, out.d);
    CHECK(bad_c == 3 && bad_g == bad_c);
    pair_check("embed_forward", gpu, &out, 0.0, 0.0);
    printf("ok  embed_forward ids out of range: gpu %lld, cpu %lld\n", (long long)bad_g,
           (long long)bad_c);
    gpu_pair dout = pair_random(gpu, n * dim, 221, -1, 1);
    gpu_pair dtab = pair_random(gpu, vocab * dim, 222, -1, 1);
    cpu->embed_backward(ids.h, n, dout.h, vocab, dim, dtab.h);
    gpu->embed_backward(ids.d, n, dout.d, vocab, dim, dtab.d);
    pair_check("embed_backward", gpu, &dtab, RTOL_TRANS, ATOL_TRANS);
    gpu_pair *all[] = {&ids, &table, &out, &dout, &dtab};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
}

/* ---- the remaining optimizer steps ---- */

static void test_more_optimizers(void)
{
    const int64_t n = BIG;
    gpu_pair p = pair_random(gpu, n, 230, -1, 1), g = pair_random(gpu, n, 231, -1, 1);
    gpu_pair m = pair_random(gpu, n, 232, -0.1f, 0.1f), v = pair_random(gpu, n, 233, 0, 0.1f);
    gpu_pair vmax = pair_random(gpu, n, 234, 0, 0.1f), u = pair_poisoned(gpu, n);
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        const dt_adam_args a = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                .weight_decay = 0.02f, .decoupled = decoupled, .step = 4};
        cpu->amsgrad_step(p.h, g.h, m.h, v.h, vmax.h, n, &a);
        gpu->amsgrad_step(p.d, g.d, m.d, v.d, vmax.d, n, &a);
        pair_check(decoupled ? "amsgrad_step decoupled" : "amsgrad_step", gpu, &p, RTOL_TRANS,
                   ATOL_TRANS);
        pair_check("amsgrad max of v", gpu, &vmax, RTOL_EXACT, ATOL_EXACT);
    }
    const dt_adam_args la = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-6f,
                             .weight_decay = 0.01f, .step = 2};
    cpu->lamb_direction(p.h, g.h, m.h, v.h, u.h, n, &la);
    gpu->lamb_direction(p.d, g.d, m.d, v.d, u.d, n, &la);
    pair_check("lamb_direction", gpu, &u, RTOL_TRANS, ATOL_TRANS);
    pair_check("lamb first moment", gpu, &m, RTOL_EXACT, ATOL_EXACT);
    pair_check("lamb second moment", gpu, &v, RTOL_EXACT, ATOL_EXACT);

    const dt_adagrad_args ag = {.lr = 0.05f, .eps = 1e-10f, .weight_decay = 0.01f};
    cpu->adagrad_step(p.h, g.h, v.h, n, &ag);
    gpu->adagrad_step(p.d, g.d, v.d, n, &ag);
    pair_check("adagrad_step", gpu, &p, RTOL_TRANS, ATOL_TRANS);
    pair_check("adagrad sum", gpu, &v, RTOL_EXACT, ATOL_EXACT);

    const dt_adadelta_args ad = {.lr = 1.0f, .rho = 0.9f, .eps = 1e-6f, .weight_decay = 0.01f};
    cpu->adadelta_step(p.h, g.h, v.h, vmax.h, n, &ad);
    gpu->adadelta_step(p.d, g.d, v.d, vmax.d, n, &ad);
    pair_check("adadelta_step", gpu, &p, RTOL_TRANS, ATOL_TRANS);
    pair_check("adadelta accumulated update", gpu, &vmax, RTOL_TRANS, ATOL_TRANS);

    /* RMSprop with and without momentum and centering, from fresh state
     * whose centered variance s - gavg^2 stays positive (it cancels, so
     * those steps carry rtol 1e-4). */
    pair_free(gpu, &v);
    pair_free(gpu, &vmax);
    pair_free(gpu, &m);
    v = pair_random(gpu, n, 235, 0.5f, 1.0f);
    vmax = pair_random(gpu, n, 236, -0.1f, 0.1f);
    m = pair_random(gpu, n, 237, -0.1f, 0.1f);
    for (int variant = 0; variant < 4; variant++) {
        const int momentum = variant & 1, centered = variant >> 1;
        const dt_rmsprop_args ra = {.lr = 0.01f, .alpha = 0.99f, .eps = 1e-8f,
                                    .weight_decay = 0.01f, .momentum = momentum ? 0.9f : 0.0f};
        cpu->rmsprop_step(p.h, g.h, v.h, momentum ? m.h : NULL, centered ? vmax.h : NULL, n, &ra);
        gpu->rmsprop_step(p.d, g.d, v.d, momentum ? m.d : NULL, centered ? vmax.d : NULL, n, &ra);
        char what[64];
        snprintf(what, sizeof what, "rmsprop_step momentum=%d centered=%d", momentum, centered);
        pair_check(what, gpu, &p, centered ? RTOL_SUM : RTOL_TRANS, ATOL_TRANS);
        pair_check("rmsprop square average", gpu, &v, RTOL_EXACT, ATOL_EXACT);
        if (momentum) pair_check("rmsprop momentum buffer", gpu, &m, RTOL_TRANS, ATOL_TRANS);
        if (centered) pair_check("rmsprop gradient average", gpu, &vmax, RTOL_EXACT, ATOL_EXACT);
    }
    gpu_pair *all[] = {&p, &g, &m, &v, &vmax, &u};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
}

/* ---- transformer ops ---- */

/* Attention forward and backward over 3 samples of T = 37 steps, 3 heads
 * of 11 channels: with and without a causal mask, with per-sample lengths
 * (one of them 0: all-zero rows), with dropout (the GPU draws the CPU's
 * Philox numbers). Each device gets its own workspace size; the sums run
 * over T or D terms in another order and the softmax gradient cancels:
 * rtol 1e-4, atol 1e-5. */
static void test_attention_case(const char *name, int causal, int use_lengths, float dropout)
{
    const int64_t n = 3, T = 37, H = 3, D = 11, width = H * D;
    float lengths_h[3] = {37, 20, 0};
    int64_t index[3] = {5, 1000003, 77};
    const dt_rng rng = dt_rng_make(5, DT_RNG_DROPOUT, 3, 1);
    gpu_pair qkv = pair_random(gpu, n * T * 3 * width, 250, -1, 1);
    gpu_pair len = pair_from(gpu, lengths_h, n), ctx = pair_poisoned(gpu, n * T * width);
    gpu_pair dctx = pair_random(gpu, n * T * width, 251, -1, 1);
    gpu_pair dqkv = pair_poisoned(gpu, n * T * 3 * width);
    const int64_t wc = cpu->attention_workspace(T, H), wg = gpu->attention_workspace(T, H);
    float *work_c = malloc((size_t)wc * sizeof(float)), *work_g = dev_poisoned(gpu, wg);
    dt_attn_args ac = {.n = n, .steps = T, .heads = H, .head_dim = D, .causal = causal,
                       .scale = 1.0f / sqrtf((float)D), .dropout = dropout, .rng = &rng,
                       .index = index};
    dt_attn_args ag = ac;
    ac.qkv = qkv.h, ac.ctx = ctx.h, ac.lengths = use_lengths ? len.h : NULL, ac.dctx = dctx.h;
    ac.dqkv = dqkv.h, ac.work = work_c, ac.work_floats = wc;
    ag.qkv = qkv.d, ag.ctx = ctx.d, ag.lengths = use_lengths ? len.d : NULL, ag.dctx = dctx.d;
    ag.dqkv = dqkv.d, ag.work = work_g, ag.work_floats = wg;
    char what[96];
    cpu->attention_forward(&ac);
    gpu->attention_forward(&ag);
    snprintf(what, sizeof what, "attention_forward %s", name);
    pair_check(what, gpu, &ctx, RTOL_SUM, 1e-5);
    cpu->attention_backward(&ac);
    gpu->attention_backward(&ag);
    snprintf(what, sizeof what, "attention_backward %s", name);
    pair_check(what, gpu, &dqkv, RTOL_SUM, 1e-5);
    gpu_pair *all[] = {&qkv, &len, &ctx, &dctx, &dqkv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(gpu, all[i]);
    free(work_c);
    gpu->free(work_g);
}

static void test_attention(void)
{
    test_attention_case("full", 0, 0, 0.0f);
    test_attention_case("causal", 1, 0, 0.0f);
    test_attention_case("lengths", 0, 1, 0.0f);
    test_attention_case("causal lengths dropout", 1, 1, 0.25f);
}

/* Token types after the first separator, and the per-token loss with rows
 * that are no target (-1, and one out of range). */
static void test_token_ops(void)
{
    const int64_t rows = R, steps = 23;
    float ids_h[R * 23];
    for (int64_t i = 0; i < rows * steps; i++) ids_h[i] = (float)((i * 7 + i / 23) % 13);
    gpu_pair ids = pair_from(gpu, ids_h, rows * steps), seg = pair_poisoned(gpu, rows * steps);
    cpu->token_segments(ids.h, rows, steps, 3.0f, seg.h);
    gpu->token_segments(ids.d, rows, steps, 3.0f, seg.d);
    pair_check("token_segments", gpu, &seg, 0.0, 0.0);

    const int64_t widths[2] = {10, 1000};
    for (int w = 0; w < 2; w++) {
        const int64_t classes = widths[w], n = R * classes;
        float labels[R];
        for (int r = 0; r < R; r++) labels[r] = (float)((r * 7) % classes);
        labels[2] = labels[9] = -1.0f;
        labels[4] = (float)classes;
        gpu_pair z = pair_random(gpu, n, 260, -3, 3), lab = pair_from(gpu, labels, R);
        gpu_pair d = pair_poisoned(gpu, n);
        const dt_loss_sums c = cpu->token_cross_entropy(z.h, lab.h, R, classes, 0.1f, 0.5f, d.h);
        const dt_loss_sums g = gpu->token_cross_entropy(z.d, lab.d, R, classes, 0.1f, 0.5f, d.d);
        CHECK_CLOSE(g.loss, c.loss, RTOL_SUM, 1e-6);
        CHECK(g.correct == c.correct && g.targets == c.targets && c.targets == R - 3);
        printf("ok  token_cross_entropy %lld classes: loss %.9g vs %.9g, targets %lld\n",
               (long long)classes, g.loss, c.loss, (long long)g.targets);
        pair_check("token_cross_entropy gradient", gpu, &d, RTOL_TRANS, ATOL_TRANS);
        pair_free(gpu, &z);
        pair_free(gpu, &lab);
        pair_free(gpu, &d);
    }
    pair_free(gpu, &ids);
    pair_free(gpu, &seg);
}

/* ---- asynchronous upload ----
 * Three uploads into two alternating sets, each read by an op queued right
 * after it; the host source is overwritten as soon as each call returns
 * (the backend must have taken it), and the third upload reuses the first
 * set, which the op after the first upload reads: the backend must order
 * that copy after it. Exact. */
static void test_upload(void)
{
    const int64_t n = 100003, m = 37;
    float *xs = host_random(3 * n, 240, -1, 1), *ys = host_random(3 * m, 241, -1, 1);
    float *src_x = malloc(n * sizeof(float)), *src_y = malloc(m * sizeof(float));
    float *set_x[2] = {dev_poisoned(gpu, n), dev_poisoned(gpu, n)};
    float *set_y[2] = {dev_poisoned(gpu, m), dev_poisoned(gpu, m)};
    float *out_x[3], *out_y[3];
    for (int k = 0; k < 3; k++) {
        memcpy(src_x, xs + k * n, n * sizeof(float));
        memcpy(src_y, ys + k * m, m * sizeof(float));
        void *const dst[2] = {set_x[k % 2], set_y[k % 2]};
        const void *const src[2] = {src_x, src_y};
        const size_t bytes[2] = {n * sizeof(float), m * sizeof(float)};
        gpu->upload(dst, src, bytes, 2);
        for (int64_t i = 0; i < n; i++) src_x[i] = NAN; /* taken already */
        for (int64_t i = 0; i < m; i++) src_y[i] = NAN;
        out_x[k] = dev_poisoned(gpu, n);
        out_y[k] = dev_poisoned(gpu, m);
        gpu->copy(out_x[k], set_x[k % 2], n * sizeof(float));
        gpu->copy(out_y[k], set_y[k % 2], m * sizeof(float));
    }
    for (int k = 0; k < 3; k++) {
        char what[64];
        snprintf(what, sizeof what, "upload %d, then read", k + 1);
        compare(what, gpu, out_x[k], xs + k * n, n, 0.0, 0.0);
        compare("upload, second buffer", gpu, out_y[k], ys + k * m, m, 0.0, 0.0);
        gpu->free(out_x[k]);
        gpu->free(out_y[k]);
    }
    for (int k = 0; k < 2; k++) {
        gpu->free(set_x[k]);
        gpu->free(set_y[k]);
    }
    free(xs);
    free(ys);
    free(src_x);
    free(src_y);
}

/* ---- every op of the table has a comparison above ---- */

/* The ops this file compares, by their names in backend.h. */
static const char *const g_tested[] = {
    "alloc", "free", "to_device", "to_host", "copy", "fill", "gemm", "add_bias", "sum_rows",
    "axpy", "scale", "sumsq", "all_finite", "act_forward", "act_backward", "softmax_forward",
    "softmax_backward", "dropout_forward", "mul_add", "cross_entropy", "mse", "gaussian_nll",
    "sgd_step", "adam_step", "amsgrad_step", "adagrad_step", "adadelta_step", "rmsprop_step",
    "lamb_direction", "conv2d_workspace", "conv2d_forward", "conv2d_backward_data",
    "conv2d_backward_filter", "channel_bias_add", "channel_sum", "pool2d_forward",
    "pool2d_backward", "batchnorm_stats", "batchnorm_forward", "batchnorm_backward",
    "groupnorm_forward", "groupnorm_backward", "lrn_forward", "lrn_backward",
    "upsample_forward", "upsample_backward", "cross_entropy_pixels", "cell_forward",
    "cell_backward", "rows_copy", "rows_add", "seq_mask", "seq_lengths", "embed_forward",
    "embed_backward", "attention_workspace", "attention_forward", "attention_backward",
    "token_segments", "token_cross_entropy", "upload", "sync",
};

/* Fails for each op of backend.h (the generated list the completeness
 * check walks) that g_tested does not name, and for each name there that
 * is no op, so a new op cannot arrive without its comparison. */
static void test_every_op_is_compared(void)
{
    const int count = (int)(sizeof g_tested / sizeof g_tested[0]);
    int missing = 0;
    for (int i = 0; i < dt_backend_op_count(); i++) {
        int found = 0;
        for (int j = 0; j < count && !found; j++)
            found = strcmp(dt_backend_op_name(i), g_tested[j]) == 0;
        if (!found) {
            fprintf(stderr, "op '%s' of backend.h has no comparison in test_gpu_ops.c\n",
                    dt_backend_op_name(i));
            missing++;
        }
    }
    for (int j = 0; j < count; j++) {
        int found = 0;
        for (int i = 0; i < dt_backend_op_count() && !found; i++)
            found = strcmp(dt_backend_op_name(i), g_tested[j]) == 0;
        if (!found) {
            fprintf(stderr, "test_gpu_ops.c lists '%s', which is not an op of backend.h\n",
                    g_tested[j]);
            missing++;
        }
    }
    CHECK(missing == 0);
    if (!missing) printf("ok  all %d ops of backend.h are compared\n", dt_backend_op_count());
}

/* Last, because a failure is final for the process: an invalid GEMM is
 * reported by sync() with the call and its place, and later ops do
 * nothing (a sum of squares is NaN rather than a number). */
static void test_failure_report(void)
{
    float *a = gpu->alloc(64 * sizeof(float));
    gpu->gemm(0, 0, 4, 4, 4, 1.0f, a, 1 /* lda < k: invalid */, a, 4, 0.0f, a, 4);
    const dt_status s = gpu->sync();
    CHECK(s == DT_ERR_BACKEND);
    CHECK(strstr(dt_error_message(), "cublasSgemm") != NULL);
    CHECK(strstr(dt_error_message(), "cuda_backend.c:") != NULL);
    CHECK(isnan(gpu->sumsq(a, 64)));
    CHECK(gpu->sync() == DT_ERR_BACKEND);
    printf("ok  failure reported: %s\n", dt_error_message());
}

int main(void)
{
    int skip;
    cpu = dt_backend_cpu();
    gpu = gpu_open(0, &skip);
    if (skip) return DT_GPU_SKIP;
    if (!gpu) return dt_test_result();

    test_memory();
    test_gemm();
    test_rows();
    test_elementwise();
    test_activations();
    test_softmax();
    test_dropout();
    test_losses();
    test_optimizers();
    test_more_optimizers();
    test_conv();
    test_channel_ops();
    test_pool();
    test_batchnorm();
    test_groupnorm();
    test_lrn();
    test_upsample();
    test_cross_entropy_pixels();
    test_cells();
    test_rows_and_masks();
    test_embedding();
    test_attention();
    test_token_ops();
    test_upload();
    test_every_op_is_compared();
    CHECK_OK(gpu->sync());
    if (gpu != cpu) test_failure_report();
    return dt_test_result();
}
