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
    printf("ok  %-34s loss %.9g vs %.9g, correct %lld vs %lld\n", what, g.loss, c.loss,
           (long long)g.correct, (long long)c.correct);
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
    CHECK_OK(gpu->sync());
    test_failure_report();
    return dt_test_result();
}
