/* Epoch orders and per-rank slices of global batches.
 *
 * The shuffled order of an epoch is a Philox-keyed Fisher-Yates permutation
 * of (seed, DT_RNG_SHUFFLE, epoch): a pure function of those three and the
 * data set size, so every rank computes the same order without talking to
 * the others, and a resumed run sees the order the interrupted one saw. */
#include "data/sampler.h"

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
