/* Dynamic masking: one Philox block per (sample, position).
 *
 * Word 0 of the block decides whether the position is chosen, word 1 what
 * becomes of it, words 2 and 3 the random token. Using a block per position
 * rather than a running stream means a position's draw does not depend on
 * how many positions before it were eligible, which keeps the masks of two
 * tokenizations of the same prefix comparable and the code free of state. */
#include "data/mlm.h"

#include "core/rng.h"

void dt_mlm_init(dt_mlm *m, int64_t vocab, uint64_t seed)
{
    *m = (dt_mlm){.prob = 0.15, .mask = 0.8, .random = 0.1, .vocab = vocab, .seed = seed};
}

dt_status dt_mlm_check(const dt_mlm *m)
{
    if (!(m->prob > 0.0 && m->prob <= 1.0))
        return dt_error_set(DT_ERR_CONFIG, "data.mlm.prob is %g, expected a share in (0, 1]",
                            m->prob);
    if (!(m->mask >= 0.0 && m->random >= 0.0 && m->mask + m->random <= 1.0))
        return dt_error_set(DT_ERR_CONFIG, "data.mlm.mask %g and data.mlm.random %g must be "
                            "shares >= 0 whose sum is at most 1 (the rest is kept)", m->mask,
                            m->random);
    if (m->vocab <= DT_TOKEN_SPECIALS)
        return dt_error_set(DT_ERR_DATA, "masking needs a vocabulary beyond the %d special "
                            "tokens, found %lld ids", DT_TOKEN_SPECIALS, (long long)m->vocab);
    return DT_OK;
}

/* A word as a uniform number in [0, 1) with 24 bits, as dt_rng_uniform. */
static double unit(uint32_t w) { return (double)(w >> 8) * (1.0 / 16777216.0); }

void dt_mlm_apply(const dt_mlm *m, uint32_t key, const int64_t *rows, int n, int64_t t,
                  float *x, float *y)
{
    const uint64_t others = (uint64_t)(m->vocab - DT_TOKEN_SPECIALS);
    const double keep_above = m->mask + m->random;
    for (int i = 0; i < n; i++) {
        const uint64_t row = (uint64_t)rows[i];
        const dt_rng r = dt_rng_make(m->seed, DT_RNG_MASK, key, (uint32_t)row);
        float *const xi = x + (int64_t)i * t, *const yi = y + (int64_t)i * t;
        for (int64_t p = 0; p < t; p++) {
            const float id = xi[p];
            yi[p] = -1.0f;
            if (!dt_mlm_eligible((int64_t)id)) continue;
            uint32_t w[4];
            /* Rows past 2^32 continue in the high half of the block index. */
            dt_rng_block(&r, (row >> 32 << 32) | (uint64_t)p, w);
            if (unit(w[0]) >= m->prob) continue;

            yi[p] = id;
            const double action = unit(w[1]);
            if (action < m->mask) {
                xi[p] = (float)DT_TOKEN_MASK;
            } else if (action < keep_above) {
                const uint64_t bits = (uint64_t)w[3] << 32 | w[2];
                const uint64_t k = (uint64_t)(((unsigned __int128)bits * others) >> 64);
                xi[p] = (float)(DT_TOKEN_SPECIALS + (int64_t)k);
            }
        }
    }
}
