/* Resampling for ensembles and cross-validation, and the group plan:
 *  - a bootstrap sample keeps about 1 - 1/e = 63.2% of the indices (within
 *    0.8 points at n = 20000, about 6 standard deviations), draws every
 *    index with equal chance, is the same for the same (seed, member) and
 *    differs between members and seeds;
 *  - out-of-bag sets are exactly the complement;
 *  - k folds partition the data, sizes differ by at most one;
 *  - group plans split the world in blocks and reject bad group counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/sampler.h"
#include "dist/group.h"
#include "test_util.h"

enum { N = 20000 };

static double unique_fraction(const int64_t *s, int64_t n)
{
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++) u += i == 0 || s[i] != s[i - 1];
    return (double)u / (double)n;
}

static void test_bootstrap(void)
{
    static int64_t a[N], b[N], c[N], d[N], oob[N];
    dt_sampler_bootstrap(3, 0, N, a);
    dt_sampler_bootstrap(3, 0, N, b);
    dt_sampler_bootstrap(3, 1, N, c);
    dt_sampler_bootstrap(4, 0, N, d);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(memcmp(a, d, sizeof a) != 0);
    for (int64_t i = 0; i < N; i++) CHECK(a[i] >= 0 && a[i] < N && (i == 0 || a[i] >= a[i - 1]));

    /* unique fraction per member, and the mean over 8 members */
    const double expect = 1.0 - exp(-1.0);
    double mean = 0.0;
    for (int m = 0; m < 8; m++) {
        dt_sampler_bootstrap(11, m, N, c);
        const double u = unique_fraction(c, N);
        CHECK_CLOSE(u, expect, 0.0, 0.008);
        mean += u / 8;
    }
    printf("bootstrap unique fraction: mean of 8 members %.4f (1 - 1/e = %.4f)\n", mean, expect);
    CHECK_CLOSE(mean, expect, 0.0, 0.004);

    /* uniform: each tenth of the index range gets about a tenth of the draws */
    int64_t tenth[10] = {0};
    for (int64_t i = 0; i < N; i++) tenth[a[i] * 10 / N]++;
    for (int k = 0; k < 10; k++) CHECK_CLOSE((double)tenth[k], N / 10.0, 0.0, 6 * sqrt(N * 0.09));

    /* out-of-bag: the complement */
    const int64_t k = dt_sampler_out_of_bag(a, N, N, oob);
    CHECK_CLOSE((double)k / N, 1.0 - unique_fraction(a, N), 0.0, 1e-12);
    char *in = calloc(N, 1);
    for (int64_t i = 0; i < N; i++) in[a[i]] = 1;
    for (int64_t i = 0; i < k; i++) CHECK(!in[oob[i]] && (i == 0 || oob[i] > oob[i - 1]));
    free(in);
}

static void test_kfold(void)
{
    enum { M = 1003, K = 5 };
    static int64_t tr[M], va[M], seen[M], va2[M], tr2[M];
    memset(seen, 0, sizeof seen);
    for (int f = 0; f < K; f++) {
        int64_t nt, nv, nt2, nv2;
        dt_sampler_kfold(9, M, K, f, tr, &nt, va, &nv);
        CHECK(nt + nv == M);
        CHECK(nv == M / K || nv == M / K + 1);
        for (int64_t i = 0; i < nv; i++) seen[va[i]]++;
        /* train and validation are disjoint */
        char *mark = calloc(M, 1);
        for (int64_t i = 0; i < nv; i++) mark[va[i]] = 1;
        for (int64_t i = 0; i < nt; i++) CHECK(!mark[tr[i]]);
        free(mark);
        dt_sampler_kfold(9, M, K, f, tr2, &nt2, va2, &nv2);
        CHECK(nv2 == nv && memcmp(va, va2, (size_t)nv * sizeof *va) == 0);
    }
    for (int64_t i = 0; i < M; i++) CHECK(seen[i] == 1); /* each sample validates once */
}

static void test_group_plan(void)
{
    dt_group_plan p;
    CHECK_OK(dt_group_plan_make(4, 3, 2, 5, &p));
    CHECK(p.n_groups == 2 && p.group_size == 2 && p.group == 1 && p.rank_in_group == 1);
    CHECK(dt_group_of_job(&p, 0) == 0 && dt_group_of_job(&p, 3) == 1);
    CHECK(dt_group_leader(&p, 1) == 2);
    CHECK_OK(dt_group_plan_make(6, 0, 0, 4, &p)); /* derived: largest divisor of 6 <= 4 */
    CHECK(p.n_groups == 3 && p.group_size == 2);
    CHECK_OK(dt_group_plan_make(4, 0, 0, 9, &p));
    CHECK(p.n_groups == 4 && p.group_size == 1);
    CHECK(dt_group_plan_make(2, 0, 3, 3, &p) == DT_ERR_ARG);
    CHECK(strstr(dt_error_message(), "3 groups need at least 3 ranks") != NULL);
    CHECK(dt_group_plan_make(6, 0, 4, 4, &p) == DT_ERR_ARG);
    CHECK(strstr(dt_error_message(), "do not divide the world of 6") != NULL);
}

int main(void)
{
    test_bootstrap();
    test_kfold();
    test_group_plan();
    return dt_test_result();
}
