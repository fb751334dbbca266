/* Philox4x32-10 and the keyed streams built on it. */
#include "core/rng.h"

#include "core/philox.h"

#include <math.h>

void dt_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    dt_philox4x32_10(ctr, key, out);
}

dt_rng dt_rng_make(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b)
{
    /* The purpose is folded into the high key word so that streams of
     * different purposes never coincide for the same seed. */
    dt_rng r;
    r.key[0] = (uint32_t)seed;
    r.key[1] = (uint32_t)(seed >> 32) ^ (purpose * 0x85EBCA6Bu);
    r.ctr_hi[0] = a;
    r.ctr_hi[1] = b;
    return r;
}

void dt_rng_block(const dt_rng *r, uint64_t i, uint32_t out[4])
{
    dt_philox_block(r->key, r->ctr_hi, i, out);
}

uint32_t dt_rng_u32(const dt_rng *r, uint64_t n) { return dt_philox_u32(r->key, r->ctr_hi, n); }

float dt_rng_uniform(const dt_rng *r, uint64_t n)
{
    return dt_philox_unit(dt_philox_u32(r->key, r->ctr_hi, n));
}

void dt_rng_fill_uniform(const dt_rng *r, uint64_t first, float *out, int64_t count, float lo,
                         float hi)
{
    for (int64_t i = 0; i < count; i++)
        out[i] = lo + (hi - lo) * dt_rng_uniform(r, first + (uint64_t)i);
}

void dt_rng_fill_unit(const dt_rng *r, uint64_t first, float *out, int64_t count)
{
    int64_t i = 0;
    /* One number at a time up to the first whole block and after the last;
     * in between, one Philox block gives four numbers. */
    for (; i < count && ((first + (uint64_t)i) & 3); i++)
        out[i] = dt_rng_uniform(r, first + (uint64_t)i);
    for (; i + 4 <= count; i += 4) {
        uint32_t w[4];
        dt_philox_block(r->key, r->ctr_hi, (first + (uint64_t)i) >> 2, w);
        for (int k = 0; k < 4; k++) out[i + k] = dt_philox_unit(w[k]);
    }
    for (; i < count; i++) out[i] = dt_rng_uniform(r, first + (uint64_t)i);
}

void dt_rng_fill_normal(const dt_rng *r, uint64_t first, float *out, int64_t count, float mean,
                        float std)
{
    /* Box-Muller on one Philox block per element: words 0 and 1 give the two
     * uniforms, so element i depends on nothing but its own index. */
    for (int64_t i = 0; i < count; i++) {
        uint32_t w[4];
        dt_rng_block(r, first + (uint64_t)i, w);
        const double u1 = ((double)(w[0] >> 8) + 0.5) / 16777216.0;
        const double u2 = (double)(w[1] >> 8) / 16777216.0;
        const double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        out[i] = mean + std * (float)z;
    }
}

uint64_t dt_rng_below(const dt_rng *r, uint64_t k, uint64_t n)
{
    uint32_t w[4];
    dt_rng_block(r, k, w);
    const uint64_t x = ((uint64_t)w[1] << 32) | w[0];
    return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

void dt_rng_permutation(const dt_rng *r, int64_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = (int64_t)dt_rng_below(r, (uint64_t)i, (uint64_t)i + 1);
        const int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
