/* Ensemble combination and metrics against values computed independently:
 *  - a hand-worked case (2 members, 3 samples, 2 classes) whose numbers
 *    were computed on paper from the definitions in train/ensemble.h;
 *  - random logits for 5 members, 200 samples, 4 classes, against a
 *    direct implementation in this file (full probability tensor, mean
 *    over members, per-definition loops), to 1e-9;
 *  - the Gaussian mixture's mean and variance on a small case. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "train/ensemble.h"
#include "test_util.h"

static dt_ens_metrics run(dt_loss_kind kind, const float *out, int members, int64_t n,
                          int64_t width, int64_t out_dim, const float *y)
{
    dt_ens_acc a;
    dt_ens_acc_init(&a, kind, n, width, members);
    for (int m = 0; m < members; m++) dt_ens_add(&a, out + (int64_t)m * n * out_dim);
    double sums[DT_ENS_NSUMS] = {0};
    dt_ens_sums(&a, y, sums);
    dt_ens_acc_free(&a);
    return dt_ens_finish(kind, sums, members);
}

/* Logits (0, log 3) give p = (1/4, 3/4); (0, 0) gives (1/2, 1/2). */
static void test_by_hand(void)
{
    const float l3 = (float)log(3.0);
    const float out[2][3][2] = {{{0, l3}, {0, 0}, {l3, 0}},   /* member 0: .75 .5 .25 on class 1 */
                                {{0, 0}, {0, l3}, {0, l3}}}; /* member 1: .5 .75 .75 */
    const float y[3] = {1, 1, 0};
    /* mean p(class 1) = .625, .625, .5; arg-max 1, 1, 0 (tie -> class 0) */
    const dt_ens_metrics m = run(DT_LOSS_CROSS_ENTROPY, &out[0][0][0], 2, 3, 2, 2, y);
    CHECK(m.count == 3);
    CHECK_CLOSE(m.accuracy, 1.0, 0, 1e-12);
    CHECK_CLOSE(m.nll, (-log(0.625) - log(0.625) - log(0.5)) / 3, 0, 1e-7); /* float logits */
    /* brier: 2 (1 - .625)^2, 2 (1 - .625)^2, 2 (.5)^2 */
    CHECK_CLOSE(m.brier, (2 * 0.140625 * 2 + 0.5) / 3, 0, 1e-7);
    /* bins of width 1/15: .625 -> bin 9 (2 samples, acc 1), .5 -> bin 7 (acc 1) */
    CHECK_CLOSE(m.ece, (2.0 / 3) * (1 - 0.625) + (1.0 / 3) * (1 - 0.5), 0, 1e-7);
    /* arg-max member 0: 1, 0 (tie), 0; member 1: 0 (tie), 1, 1 -> all 3 differ */
    CHECK_CLOSE(m.disagreement, 1.0, 0, 1e-12);
}

/* ---- the independent implementation ---- */

typedef struct ref_metrics {
    double acc, nll, brier, ece, dis;
} ref_metrics;

static ref_metrics reference(const float *out, int M, int n, int C, const float *y)
{
    double *p = calloc((size_t)M * n * C, sizeof *p), *mean = calloc((size_t)n * C, sizeof *mean);
    for (int m = 0; m < M; m++)
        for (int i = 0; i < n; i++) {
            double z = 0, mx = -1e300;
            const float *l = out + ((size_t)m * n + i) * C;
            for (int c = 0; c < C; c++) mx = fmax(mx, l[c]);
            for (int c = 0; c < C; c++) z += exp(l[c] - mx);
            for (int c = 0; c < C; c++) {
                p[((size_t)m * n + i) * C + c] = exp(l[c] - mx) / z;
                mean[i * C + c] += p[((size_t)m * n + i) * C + c] / M;
            }
        }
    ref_metrics r = {0};
    double bn[15] = {0}, bc[15] = {0}, ba[15] = {0};
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (mean[i * C + c] > mean[i * C + best]) best = c;
        const int lab = (int)y[i];
        r.acc += (best == lab) / (double)n;
        r.nll += -log(mean[i * C + lab]) / n;
        for (int c = 0; c < C; c++)
            r.brier += pow(mean[i * C + c] - (c == lab), 2) / n;
        int b = (int)floor(mean[i * C + best] * 15);
        if (b > 14) b = 14;
        bn[b] += 1;
        bc[b] += mean[i * C + best];
        ba[b] += best == lab;
        for (int u = 0; u < M; u++)
            for (int v = u + 1; v < M; v++) {
                int au = 0, av = 0;
                for (int c = 1; c < C; c++) {
                    if (p[((size_t)u * n + i) * C + c] > p[((size_t)u * n + i) * C + au]) au = c;
                    if (p[((size_t)v * n + i) * C + c] > p[((size_t)v * n + i) * C + av]) av = c;
                }
                r.dis += (au != av) / (n * M * (M - 1) / 2.0);
            }
    }
    for (int b = 0; b < 15; b++)
        if (bn[b] > 0) r.ece += bn[b] / n * fabs(ba[b] / bn[b] - bc[b] / bn[b]);
    free(p);
    free(mean);
    return r;
}

static void test_random(void)
{
    enum { M = 5, NS = 200, C = 4 };
    static float out[M * NS * C], y[NS];
    const dt_rng r = dt_rng_make(21, DT_RNG_USER, 0, 0);
    dt_rng_fill_normal(&r, 0, out, M * NS * C, 0.0f, 2.0f);
    for (int i = 0; i < NS; i++) y[i] = (float)(dt_rng_u32(&r, 100000 + i) % C);
    for (int k = 1; k <= M; k++) { /* every prefix 1..k */
        const dt_ens_metrics m = run(DT_LOSS_CROSS_ENTROPY, out, k, NS, C, C, y);
        const ref_metrics e = reference(out, k, NS, C, y);
        CHECK_CLOSE(m.accuracy, e.acc, 0, 1e-9);
        CHECK_CLOSE(m.nll, e.nll, 0, 1e-9);
        CHECK_CLOSE(m.brier, e.brier, 0, 1e-9);
        CHECK_CLOSE(m.ece, e.ece, 0, 1e-9);
        CHECK_CLOSE(m.disagreement, e.dis, 0, 1e-9);
    }
    /* one member alone equals the ensemble of that one member */
    double sums[DT_ENS_NSUMS] = {0};
    dt_ens_member_sums(DT_LOSS_CROSS_ENTROPY, out + NS * C, y, NS, C, sums);
    const dt_ens_metrics one = dt_ens_finish(DT_LOSS_CROSS_ENTROPY, sums, 1);
    const ref_metrics e = reference(out + NS * C, 1, NS, C, y);
    CHECK_CLOSE(one.nll, e.nll, 0, 1e-9);
    CHECK_CLOSE(one.accuracy, e.acc, 0, 1e-9);
}

/* Two Gaussian members for one target: means 1 and 3, variances 1 and 4
 * (log-variances 0 and log 4): mixture mean 2, variance (1+1 + 4+9)/2 - 4 = 3.5. */
static void test_gaussian(void)
{
    const float out[2][1][2] = {{{1.0f, 0.0f}}, {{3.0f, (float)log(4.0)}}};
    const float y[1] = {2.5f};
    const dt_ens_metrics m = run(DT_LOSS_GAUSSIAN_NLL, &out[0][0][0], 2, 1, 1, 2, y);
    CHECK_CLOSE(m.nll, 0.5 * (log(3.5) + 0.25 / 3.5), 0, 1e-6);
    CHECK_CLOSE(m.rmse, 0.5, 0, 1e-6);
    CHECK_CLOSE(m.spread, 1.0, 0, 1e-6); /* variance of the means 1 and 3 */
}

int main(void)
{
    test_by_hand();
    test_random();
    test_gaussian();
    return dt_test_result();
}
