/* Philox4x32-10, a counter-based random number generator.
 *
 * Every random number in dtrain is a pure function of (seed, purpose,
 * indices): parameter init is keyed by parameter, dropout by (step, layer,
 * global sample index), shuffling by epoch. There is no generator state to
 * carry, so results do not depend on how many ranks split the work, and a
 * resumed run draws exactly what the uninterrupted one would have.
 * Reference: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011. */
#ifndef DT_CORE_RNG_H
#define DT_CORE_RNG_H

#include <stdint.h>

/* The raw block function: 4 counter words, 2 key words -> 4 output words. */
void dt_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Streams are named by a purpose so that, say, dropout and shuffling with the
 * same seed never share numbers. */
enum dt_rng_purpose {
    DT_RNG_INIT = 1,    /* parameter initialization: a = parameter id */
    DT_RNG_SHUFFLE = 2, /* epoch permutation: a = epoch */
    DT_RNG_DROPOUT = 3, /* a = step, b = layer index, c = sample index */
    DT_RNG_SPLIT = 4,   /* data set train/test splits */
    DT_RNG_AUGMENT = 5,
    DT_RNG_NOISE = 6,
    DT_RNG_MASK = 7, /* masked-LM positions: a = epoch (or the evaluation key), b = row */
    DT_RNG_USER = 100
};

/* A keyed stream: (seed, purpose, a, b) pick the stream; the element index
 * picks the number within it. */
typedef struct dt_rng {
    uint32_t key[2];
    uint32_t ctr_hi[2]; /* a and b: counter words 2 and 3 */
} dt_rng;

dt_rng dt_rng_make(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b);

/* Four 32-bit words for block `i` of the stream. */
void dt_rng_block(const dt_rng *r, uint64_t i, uint32_t out[4]);

/* The n-th uniform float of the stream, in [0, 1), 24 random bits. */
float dt_rng_uniform(const dt_rng *r, uint64_t n);

/* The n-th uint32 of the stream. */
uint32_t dt_rng_u32(const dt_rng *r, uint64_t n);

/* Fill `out` with `count` uniforms in [lo, hi) / normals N(mean, std),
 * element i taking stream number (first + i). */
void dt_rng_fill_uniform(const dt_rng *r, uint64_t first, float *out, int64_t count, float lo,
                         float hi);
void dt_rng_fill_normal(const dt_rng *r, uint64_t first, float *out, int64_t count, float mean,
                        float std);
/* out[i] = dt_rng_uniform(r, first + i) for i < count: the same numbers,
 * four from each Philox block (dropout masks). */
void dt_rng_fill_unit(const dt_rng *r, uint64_t first, float *out, int64_t count);

/* An integer in [0, n) from the k-th 64-bit draw, by a 128-bit multiply
 * (bias below n / 2^64, far under anything measurable). */
uint64_t dt_rng_below(const dt_rng *r, uint64_t k, uint64_t n);

/* Fisher-Yates permutation of 0..n-1 into `perm`. */
void dt_rng_permutation(const dt_rng *r, int64_t *perm, int64_t n);

#endif
