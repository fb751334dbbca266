/* Unit tests for the counter-based generator (src/core/rng.c): the Philox
 * block function against the known-answer vectors published with Random123,
 * the separation of streams by seed, purpose and counter words, and the
 * statistics and reproducibility of the derived draws (uniform, normal,
 * bounded integers, permutations).
 *
 * Statistical checks use fixed streams, so they are deterministic; their
 * bounds are still chosen five or more standard errors wide so that a
 * correct generator passes them with any seed. */
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "test_util.h"

#define N_DRAWS 100000

/* Random123's kat_vectors for philox4x32 with 10 rounds. */
static void test_known_answers(void)
{
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
         {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
         {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        dt_philox4x32(kat[i].ctr, kat[i].key, out);
        for (int w = 0; w < 4; w++) {
            if (out[w] != kat[i].out[w]) {
                fprintf(stderr, "%s:%d: vector %zu word %d: got %08x, expected %08x\n",
                        __FILE__, __LINE__, i, w, out[w], kat[i].out[w]);
                dt_test_failures++;
            }
        }
    }
}

/* A stream's block i is the raw function at counter (i, a, b) and its key;
 * u32 and uniform are views of those words. */
static void test_stream_layout(void)
{
    const dt_rng r = dt_rng_make(0x0123456789abcdefull, DT_RNG_SHUFFLE, 7, 9);
    const uint64_t i = 0x100000003ull; /* crosses into counter word 1 */
    const uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), 7, 9};
    uint32_t raw[4], blk[4];
    dt_philox4x32(ctr, r.key, raw);
    dt_rng_block(&r, i, blk);
    CHECK(memcmp(raw, blk, sizeof raw) == 0);
    CHECK(r.key[0] == 0x89abcdefu);

    for (int w = 0; w < 4; w++) {
        CHECK(dt_rng_u32(&r, 4 * i + (uint64_t)w) == blk[w]);
        const float u = dt_rng_uniform(&r, 4 * i + (uint64_t)w);
        CHECK(u == (float)(blk[w] >> 8) / 16777216.0f);
    }
}

/* Count how many of the first `n` words of two streams coincide. */
static int same_words(const dt_rng *a, const dt_rng *b, int n)
{
    int same = 0;
    for (int k = 0; k < n; k++) same += dt_rng_u32(a, (uint64_t)k) == dt_rng_u32(b, (uint64_t)k);
    return same;
}

static void test_streams_differ(void)
{
    const dt_rng base = dt_rng_make(42, DT_RNG_DROPOUT, 3, 5);
    const dt_rng again = dt_rng_make(42, DT_RNG_DROPOUT, 3, 5);
    const dt_rng others[] = {
        dt_rng_make(43, DT_RNG_DROPOUT, 3, 5),
        dt_rng_make(42 + (1ull << 32), DT_RNG_DROPOUT, 3, 5), /* high seed word */
        dt_rng_make(42, DT_RNG_INIT, 3, 5),
        dt_rng_make(42, DT_RNG_SHUFFLE, 3, 5),
        dt_rng_make(42, DT_RNG_DROPOUT, 4, 5),
        dt_rng_make(42, DT_RNG_DROPOUT, 3, 6),
        dt_rng_make(42, DT_RNG_DROPOUT, 5, 3), /* a and b are not interchangeable */
    };
    CHECK(same_words(&base, &again, 64) == 64);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        /* Two independent 32-bit words agree with probability 2^-32. */
        const int same = same_words(&base, &others[i], 64);
        if (same > 1) {
            fprintf(stderr, "%s:%d: stream %zu shares %d of 64 words with the base\n",
                    __FILE__, __LINE__, i, same);
            dt_test_failures++;
        }
    }

    /* Neighbouring positions within one stream differ too. */
    CHECK(dt_rng_u32(&base, 0) != dt_rng_u32(&base, 1));
    CHECK(dt_rng_u32(&base, 0) != dt_rng_u32(&base, 4));
}

static void test_uniform(void)
{
    const dt_rng r = dt_rng_make(2024, DT_RNG_USER, 0, 0);
    double sum = 0.0, sumsq = 0.0, lo = 1.0, hi = 0.0;
    int bins[10] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
        const double u = dt_rng_uniform(&r, (uint64_t)i);
        sum += u;
        sumsq += u * u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        bins[(int)(u * 10.0) < 10 ? (int)(u * 10.0) : 9]++;
    }
    const double mean = sum / N_DRAWS, var = sumsq / N_DRAWS - mean * mean;

    /* Standard error of the mean: sqrt(1/12 / 1e5) = 9.1e-4; 0.005 is 5.5 of
     * them. Variance 1/12 = 0.0833 to within 0.003 (about 10 errors). */
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    CHECK(lo < 1e-3 && hi > 1.0 - 1e-3);
    CHECK_CLOSE(mean, 0.5, 0.0, 0.005);
    CHECK_CLOSE(var, 1.0 / 12.0, 0.0, 0.003);
    /* 10000 expected per decile, standard deviation about 95. */
    for (int b = 0; b < 10; b++) CHECK_CLOSE(bins[b], N_DRAWS / 10, 0.0, 600);

    /* fill_uniform: element i is stream number first + i, mapped to [lo, hi). */
    float a[16], b[8];
    dt_rng_fill_uniform(&r, 0, a, 16, -2.0f, 3.0f);
    dt_rng_fill_uniform(&r, 8, b, 8, -2.0f, 3.0f);
    for (int i = 0; i < 16; i++) {
        CHECK(a[i] >= -2.0f && a[i] < 3.0f);
        CHECK_CLOSE(a[i], -2.0 + 5.0 * dt_rng_uniform(&r, (uint64_t)i), 0.0, 1e-6);
    }
    CHECK(memcmp(a + 8, b, sizeof b) == 0);
}

static void test_normal(void)
{
    const dt_rng r = dt_rng_make(7, DT_RNG_NOISE, 1, 2);
    float *x = malloc(N_DRAWS * sizeof *x);
    dt_rng_fill_normal(&r, 0, x, N_DRAWS, 3.0f, 2.0f);

    double sum = 0.0, sumsq = 0.0;
    int within_1sd = 0, finite = 1;
    for (int i = 0; i < N_DRAWS; i++) {
        sum += x[i];
        sumsq += (double)x[i] * x[i];
        within_1sd += fabs(x[i] - 3.0) < 2.0;
        finite &= isfinite(x[i]) != 0;
    }
    const double mean = sum / N_DRAWS;
    const double sd = sqrt(sumsq / N_DRAWS - mean * mean);

    /* Standard errors: mean 2/sqrt(1e5) = 0.0063, sd 2/sqrt(2e5) = 0.0045,
     * fraction within one sd sqrt(0.68*0.32/1e5) = 0.0015. */
    CHECK(finite);
    CHECK_CLOSE(mean, 3.0, 0.0, 0.035);
    CHECK_CLOSE(sd, 2.0, 0.0, 0.025);
    CHECK_CLOSE((double)within_1sd / N_DRAWS, 0.682689, 0.0, 0.008);

    /* Element i depends only on its own index. */
    float tail[4];
    dt_rng_fill_normal(&r, 1000, tail, 4, 3.0f, 2.0f);
    CHECK(memcmp(tail, x + 1000, sizeof tail) == 0);
    free(x);
}

static void test_below(void)
{
    const dt_rng r = dt_rng_make(99, DT_RNG_SPLIT, 0, 0);
    static const uint64_t bounds[] = {1, 2, 3, 7, 1000, 1ull << 40, UINT64_MAX};
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        int in_range = 1;
        uint64_t top = 0;
        for (uint64_t k = 0; k < 2000; k++) {
            const uint64_t v = dt_rng_below(&r, k, bounds[b]);
            in_range &= v < bounds[b];
            top = v > top ? v : top;
        }
        CHECK(in_range);
        /* The draws reach the upper half of the range (all of it for n = 1). */
        CHECK(bounds[b] == 1 ? top == 0 : top >= bounds[b] / 2);
    }

    /* The documented mapping, so shuffles are the same on every platform:
     * the high 64 bits of x * n with x = words 1:0 of block k. Here with
     * 32-bit halves, for n < 2^32. */
    for (uint64_t k = 0; k < 100; k++) {
        uint32_t w[4];
        dt_rng_block(&r, k, w);
        const uint64_t n = 1000003, lo = (uint64_t)w[0] * n;
        CHECK(dt_rng_below(&r, k, n) == ((uint64_t)w[1] * n + (lo >> 32)) >> 32);
    }

    /* Seven buckets, 70000 draws: 10000 each, standard deviation about 93. */
    int count[7] = {0};
    for (uint64_t k = 0; k < 70000; k++) count[dt_rng_below(&r, k, 7)]++;
    for (int i = 0; i < 7; i++) CHECK_CLOSE(count[i], 10000, 0.0, 500);
}

static void test_permutation(void)
{
    enum { N = 1000 };
    const dt_rng r = dt_rng_make(5, DT_RNG_SHUFFLE, 0, 0);
    const dt_rng r_other_epoch = dt_rng_make(5, DT_RNG_SHUFFLE, 1, 0);
    int64_t *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
    int *seen = calloc(N, sizeof *seen);

    dt_rng_permutation(&r, p, N);
    int valid = 1, fixed = 0;
    for (int i = 0; i < N; i++) {
        valid &= p[i] >= 0 && p[i] < N && !seen[p[i]];
        if (p[i] >= 0 && p[i] < N) seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    CHECK(valid);
    /* A random permutation has one fixed point on average (Poisson(1)). */
    CHECK(fixed < 10);

    dt_rng_permutation(&r, q, N);
    CHECK(memcmp(p, q, N * sizeof *p) == 0);
    dt_rng_permutation(&r_other_epoch, q, N);
    int same = 0;
    for (int i = 0; i < N; i++) same += p[i] == q[i];
    CHECK(same < 10);

    /* Degenerate sizes. */
    int64_t one = 77;
    dt_rng_permutation(&r, &one, 1);
    CHECK(one == 0);
    dt_rng_permutation(&r, q, 0);

    free(p);
    free(q);
    free(seen);
}

/* The bulk fill draws exactly the numbers dt_rng_uniform gives, for any
 * start within a block and any length, the counter's high word included. */
static void test_fill_unit(void)
{
    const dt_rng r = dt_rng_make(42, DT_RNG_DROPOUT, 7, 3);
    static const uint64_t starts[] = {0, 1, 2, 3, 61, 0xfffffff0ull, 0x3ffffffffull};
    float buf[300];
    int bad = 0;
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
        for (int count = 0; count <= 300; count += 37) {
            dt_rng_fill_unit(&r, starts[s], buf, count);
            for (int i = 0; i < count; i++)
                bad += buf[i] != dt_rng_uniform(&r, starts[s] + (uint64_t)i);
        }
    CHECK(bad == 0);
}

int main(void)
{
    test_fill_unit();
    test_known_answers();
    test_stream_layout();
    test_streams_differ();
    test_uniform();
    test_normal();
    test_below();
    test_permutation();
    return dt_test_result();
}
