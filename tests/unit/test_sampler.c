/* Samplers: epoch orders are permutations that depend on (seed, epoch)
 * only, and the per-rank slices of the global batches cover every sample
 * of an epoch exactly once for any world size. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/sampler.h"
#include "test_util.h"

static int is_permutation(const int64_t *p, int64_t n)
{
    char *const seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        ok = p[i] >= 0 && p[i] < n && !seen[p[i]];
        if (ok) seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

static int same(const int64_t *a, const int64_t *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void test_orders(void)
{
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], d[N];
    dt_sampler_order(DT_SAMPLER_SHUFFLE, 7, 0, N, a);
    dt_sampler_order(DT_SAMPLER_SHUFFLE, 7, 0, N, b);
    dt_sampler_order(DT_SAMPLER_SHUFFLE, 7, 1, N, c);
    dt_sampler_order(DT_SAMPLER_SHUFFLE, 8, 0, N, d);
    CHECK(is_permutation(a, N));
    CHECK(is_permutation(c, N));
    CHECK(is_permutation(d, N));
    CHECK(same(a, b, N));  /* a pure function of (seed, epoch) */
    CHECK(!same(a, c, N)); /* another epoch, another order */
    CHECK(!same(a, d, N)); /* another seed, another order */

    int64_t fixed = 0;
    for (int64_t i = 0; i < N; i++) fixed += a[i] == i;
    CHECK(fixed < 20); /* a shuffle leaves about one element in place */

    dt_sampler_order(DT_SAMPLER_SEQUENTIAL, 7, 3, N, a);
    for (int64_t i = 0; i < N; i++) CHECK(a[i] == i);

    dt_sampler_order(DT_SAMPLER_SHUFFLE, 1, 0, 1, a);
    CHECK(a[0] == 0);
    dt_sampler_order(DT_SAMPLER_SHUFFLE, 1, 0, 0, a); /* n = 0 writes nothing */
}

static void test_steps(void)
{
    CHECK(dt_sampler_steps(103, 10) == 11);
    CHECK(dt_sampler_steps(100, 10) == 10);
    CHECK(dt_sampler_steps(0, 10) == 0);
    CHECK(dt_sampler_steps(5, 10) == 1);
    CHECK(dt_sampler_batch_size(103, 10, 0) == 10);
    CHECK(dt_sampler_batch_size(103, 10, 9) == 10);
    CHECK(dt_sampler_batch_size(103, 10, 10) == 3);
    CHECK(dt_sampler_batch_size(103, 10, 11) == 0);
    CHECK(dt_sampler_batch_size(100, 10, 9) == 10);
    CHECK(dt_sampler_batch_size(5, 10, 0) == 5);

    int64_t total = 0;
    for (int64_t s = 0; s < dt_sampler_steps(103, 10); s++)
        total += dt_sampler_batch_size(103, 10, s);
    CHECK(total == 103);
}

static void test_slices(void)
{
    int64_t lo, hi;
    dt_sampler_slice(10, 0, 3, &lo, &hi);
    CHECK(lo == 0 && hi == 4);
    dt_sampler_slice(10, 1, 3, &lo, &hi);
    CHECK(lo == 4 && hi == 7);
    dt_sampler_slice(10, 2, 3, &lo, &hi);
    CHECK(lo == 7 && hi == 10);
    dt_sampler_slice(2, 2, 3, &lo, &hi); /* an empty slice */
    CHECK(lo == 2 && hi == 2);
    dt_sampler_slice(0, 0, 1, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
}

/* Every sample exactly once per epoch over all ranks' slices, each slice
 * contiguous, sizes differing by at most one with earlier ranks larger. */
static void check_epoch_cover(int64_t n, int64_t b, int world, uint64_t seed, int64_t epoch)
{
    int64_t *const order = calloc((size_t)n, sizeof *order);
    int *const hits = calloc((size_t)n, sizeof *hits);
    dt_sampler_order(DT_SAMPLER_SHUFFLE, seed, epoch, n, order);

    for (int64_t s = 0; s < dt_sampler_steps(n, b); s++) {
        const int64_t count = dt_sampler_batch_size(n, b, s);
        int64_t next = 0, first_size = 0, prev_size = count;
        for (int r = 0; r < world; r++) {
            int64_t lo, hi;
            dt_sampler_slice(count, r, world, &lo, &hi);
            if (r == 0) first_size = hi - lo;
            CHECK(lo == next);
            CHECK(hi - lo <= prev_size && first_size - (hi - lo) <= 1);
            prev_size = hi - lo;
            next = hi;
            for (int64_t k = lo; k < hi; k++) hits[order[s * b + k]]++;
        }
        CHECK(next == count);
    }
    int64_t once = 0;
    for (int64_t i = 0; i < n; i++) once += hits[i] == 1;
    CHECK(once == n);
    free(hits);
    free(order);
}

int main(void)
{
    test_orders();
    test_steps();
    test_slices();
    for (int world = 1; world <= 3; world++) {
        check_epoch_cover(103, 10, world, 42, 0);
        check_epoch_cover(103, 10, world, 42, 5);
        check_epoch_cover(7, 4, world, 1, 0);
        check_epoch_cover(1000, 1000, world, 3, 2);
    }
    check_epoch_cover(5, 2, 4, 9, 0); /* ranks with empty slices */
    return dt_test_result();
}
