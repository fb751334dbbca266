/* Epoch orders and per-rank slices of global batches.
 *
 * The shuffled order of an epoch is a Philox-keyed Fisher-Yates permutation
 * of (seed, DT_RNG_SHUFFLE, epoch): a pure function of those three and the
 * data set size, so every rank computes the same order without talking to
 * the others, and a resumed run sees the order the interrupted one saw. */
#include "data/sampler.h"

#include <stdlib.h>

#include "core/rng.h"
#include "core/status.h"

void dt_sampler_order(dt_sampler_kind kind, uint64_t seed, int64_t epoch, int64_t n,
                      int64_t *perm)
{
    if (kind == DT_SAMPLER_SHUFFLE) {
        const dt_rng r = dt_rng_make(seed, DT_RNG_SHUFFLE, (uint32_t)epoch,
                                     (uint32_t)((uint64_t)epoch >> 32));
        dt_rng_permutation(&r, perm, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) perm[i] = i;
}

int64_t dt_sampler_steps(int64_t n, int64_t b)
{
    DT_ASSERT(b > 0);
    return n <= 0 ? 0 : (n + b - 1) / b;
}

int64_t dt_sampler_batch_size(int64_t n, int64_t b, int64_t step)
{
    DT_ASSERT(b > 0);
    const int64_t start = step * b;
    if (step < 0 || start >= n) return 0;
    return n - start < b ? n - start : b;
}

void dt_sampler_slice(int64_t count, int rank, int world, int64_t *lo, int64_t *hi)
{
    DT_ASSERT(world > 0 && rank >= 0 && rank < world);
    const int64_t base = count / world, extra = count % world;
    *lo = rank * base + (rank < extra ? rank : extra);
    *hi = *lo + base + (rank < extra ? 1 : 0);
}

/* ---- resampling ---- */

/* Stream tags within DT_RNG_SPLIT, apart from the train/test splits. */
#define TAG_BOOTSTRAP 0x626f6f74u /* "boot" */
#define TAG_FOLDS 0x666f6c64u     /* "fold" */

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void dt_sampler_bootstrap(uint64_t seed, int member, int64_t n, int64_t *out)
{
    const dt_rng r = dt_rng_make(seed, DT_RNG_SPLIT, TAG_BOOTSTRAP, (uint32_t)member);
    for (int64_t i = 0; i < n; i++) out[i] = (int64_t)dt_rng_below(&r, (uint64_t)i, (uint64_t)n);
    qsort(out, (size_t)n, sizeof *out, cmp_i64);
}

int64_t dt_sampler_out_of_bag(const int64_t *sample, int64_t m, int64_t n, int64_t *oob)
{
    int64_t k = 0, j = 0;
    for (int64_t i = 0; i < n; i++) {
        while (j < m && sample[j] < i) j++;
        if (j == m || sample[j] != i) oob[k++] = i;
    }
    return k;
}

void dt_sampler_holdout(const dt_rng *perm_rng, int64_t n, int64_t lo, int64_t hi,
                        int64_t *train, int64_t *n_train, int64_t *val, int64_t *n_val)
{
    DT_ASSERT(0 <= lo && lo <= hi && hi <= n);
    int64_t *perm = dt_calloc((size_t)(n ? n : 1), sizeof *perm);
    dt_rng_permutation(perm_rng, perm, n);
    *n_val = hi - lo;
    *n_train = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i >= lo && i < hi) val[i - lo] = perm[i];
        else train[(*n_train)++] = perm[i];
    }
    free(perm);
    qsort(val, (size_t)*n_val, sizeof *val, cmp_i64);
    qsort(train, (size_t)*n_train, sizeof *train, cmp_i64);
}

void dt_sampler_kfold(uint64_t seed, int64_t n, int k, int fold, int64_t *train,
                      int64_t *n_train, int64_t *val, int64_t *n_val)
{
    DT_ASSERT(k >= 2 && fold >= 0 && fold < k);
    const dt_rng r = dt_rng_make(seed, DT_RNG_SPLIT, TAG_FOLDS, (uint32_t)k);
    int64_t lo, hi;
    dt_sampler_slice(n, fold, k, &lo, &hi);
    dt_sampler_holdout(&r, n, lo, hi, train, n_train, val, n_val);
}
