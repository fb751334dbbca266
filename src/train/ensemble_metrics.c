/* Combining ensemble members and scoring the combination.
 *
 * Everything is kept as per-rank sums (DT_ENS_NSUMS doubles) so that a
 * data-parallel evaluation adds them with one all-reduce; dt_ens_finish
 * turns the global sums into metrics. Probabilities are computed in double
 * from the members' logits. */
#include "train/ensemble.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define P_FLOOR 1e-300 /* keeps -log p finite for a probability that underflowed */

void dt_ens_acc_init(dt_ens_acc *a, dt_loss_kind kind, int64_t n, int64_t width,
                     int max_members)
{
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->n = n;
    a->width = width;
    a->max_members = max_members;
    const size_t cells = (size_t)(n > 0 ? n : 1) * (size_t)width;
    a->sum = dt_calloc(cells, sizeof(double));
    a->sum2 = dt_calloc(cells, sizeof(double));
    a->sum3 = dt_calloc(cells, sizeof(double));
    if (kind == DT_LOSS_CROSS_ENTROPY)
        a->pred = dt_calloc((size_t)max_members * (size_t)(n > 0 ? n : 1), sizeof(int32_t));
}

void dt_ens_acc_free(dt_ens_acc *a)
{
    free(a->sum);
    free(a->sum2);
    free(a->sum3);
    free(a->pred);
    memset(a, 0, sizeof *a);
}

/* Softmax of one row of logits into p (double). */
void dt_ens_softmax(const float *z, int64_t c, double *p)
{
    double mx = z[0], s = 0.0;
    for (int64_t j = 1; j < c; j++) mx = z[j] > mx ? z[j] : mx;
    for (int64_t j = 0; j < c; j++) s += p[j] = exp((double)z[j] - mx);
    for (int64_t j = 0; j < c; j++) p[j] /= s;
}

static int32_t argmax(const double *p, int64_t c)
{
    int32_t best = 0;
    for (int64_t j = 1; j < c; j++)
        if (p[j] > p[best]) best = (int32_t)j;
    return best;
}

void dt_ens_add(dt_ens_acc *a, const float *out)
{
    DT_ASSERT(a->members < a->max_members);
    const int64_t w = a->width;
    const int k = a->members;
    double *p = dt_calloc((size_t)w, sizeof(double));
    for (int64_t i = 0; i < a->n; i++) {
        double *s = a->sum + i * w;
        if (a->kind == DT_LOSS_CROSS_ENTROPY) {
            dt_ens_softmax(out + i * w, w, p);
            for (int64_t j = 0; j < w; j++) s[j] += p[j];
            const int32_t mine = argmax(p, w);
            a->pred[(int64_t)k * a->n + i] = mine;
            for (int q = 0; q < k; q++) a->pair_disagree += a->pred[(int64_t)q * a->n + i] != mine;
            continue;
        }
        const int gaussian = a->kind == DT_LOSS_GAUSSIAN_NLL;
        const float *row = out + i * (gaussian ? 2 * w : w);
        for (int64_t j = 0; j < w; j++) {
            const double mu = row[j], var = gaussian ? exp((double)row[w + j]) : 0.0;
            s[j] += mu;
            a->sum2[i * w + j] += var + mu * mu;
            a->sum3[i * w + j] += mu * mu;
        }
    }
    free(p);
    a->members++;
}

/* Classification sums of probabilities p(width) against label y. */
void dt_ens_prob_sums(const double *p, int64_t w, int y, double *sums)
{
    const int32_t pred = argmax(p, w);
    const double conf = p[pred];
    double brier = 0.0;
    for (int64_t j = 0; j < w; j++) {
        const double d = p[j] - (j == y ? 1.0 : 0.0);
        brier += d * d;
    }
    sums[0] += 1.0;
    sums[1] += pred == y;
    sums[2] += -log(p[y] > P_FLOOR ? p[y] : P_FLOOR);
    sums[3] += brier;
    int b = (int)(conf * DT_ENS_BINS);
    b = b >= DT_ENS_BINS ? DT_ENS_BINS - 1 : b < 0 ? 0 : b;
    sums[6 + 3 * b] += 1.0;
    sums[6 + 3 * b + 1] += conf;
    sums[6 + 3 * b + 2] += pred == y;
}

/* Regression sums of one sample: mean mu, variance var (gaussian) per target. */
static void reg_sums(dt_loss_kind kind, const double *mu, const double *var,
                     const double *spread, const float *y, int64_t w, double *sums)
{
    double nll = 0.0, se = 0.0, sp = 0.0;
    for (int64_t j = 0; j < w; j++) {
        const double d = (double)y[j] - mu[j];
        se += d * d;
        sp += spread[j];
        if (kind == DT_LOSS_GAUSSIAN_NLL) {
            const double v = var[j] > 1e-12 ? var[j] : 1e-12;
            nll += 0.5 * (log(v) + d * d / v);
        }
    }
    sums[0] += 1.0;
    sums[2] += nll / (double)w;
    sums[4] += se / (double)w;
    sums[5] += sp / (double)w;
}

void dt_ens_sums(const dt_ens_acc *a, const float *y, double *sums)
{
    const int64_t w = a->width;
    const double k = a->members;
    if (a->members == 0) return;
    double *m = dt_calloc((size_t)w * 3, sizeof(double)), *v = m + w, *sp = m + 2 * w;
    for (int64_t i = 0; i < a->n; i++) {
        for (int64_t j = 0; j < w; j++) {
            m[j] = a->sum[i * w + j] / k;
            v[j] = a->sum2[i * w + j] / k - m[j] * m[j];
            sp[j] = a->sum3[i * w + j] / k - m[j] * m[j];
        }
        if (a->kind == DT_LOSS_CROSS_ENTROPY) dt_ens_prob_sums(m, w, (int)y[i], sums);
        else reg_sums(a->kind, m, v, sp, y + i * w, w, sums);
    }
    if (a->kind == DT_LOSS_CROSS_ENTROPY) sums[5] += a->pair_disagree;
    free(m);
}

void dt_ens_member_sums(dt_loss_kind kind, const float *out, const float *y, int64_t n,
                        int64_t width, double *sums)
{
    dt_ens_acc one;
    dt_ens_acc_init(&one, kind, n, width, 1);
    dt_ens_add(&one, out);
    dt_ens_sums(&one, y, sums);
    dt_ens_acc_free(&one);
}

dt_ens_metrics dt_ens_finish(dt_loss_kind kind, const double *sums, int members)
{
    dt_ens_metrics r = {.count = (int64_t)sums[0]};
    if (sums[0] <= 0) return r;
    const double n = sums[0];
    r.nll = sums[2] / n;
    if (kind != DT_LOSS_CROSS_ENTROPY) {
        r.rmse = sqrt(sums[4] / n);
        r.spread = sums[5] / n;
        return r;
    }
    r.accuracy = sums[1] / n;
    r.brier = sums[3] / n;
    for (int b = 0; b < DT_ENS_BINS; b++) {
        const double nb = sums[6 + 3 * b];
        if (nb > 0) r.ece += nb / n * fabs(sums[6 + 3 * b + 2] / nb - sums[6 + 3 * b + 1] / nb);
    }
    const double pairs = (double)members * (members - 1) / 2.0;
    r.disagreement = pairs > 0 ? sums[5] / (pairs * n) : 0.0;
    return r;
}
