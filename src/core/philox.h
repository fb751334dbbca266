/* The Philox4x32-10 block function and the mapping of a stream position to
 * a 32-bit word and to a uniform float, as inline functions that compile
 * both as C (core/rng.c) and as CUDA device code (backend/cuda/), so the
 * CPU and the GPU draw bit-identical numbers from one definition.
 *
 * A stream is a key (2 words) and the high counter words (2 words); its
 * n-th 32-bit number is word n mod 4 of the block for counter n / 4. */
#ifndef DT_CORE_PHILOX_H
#define DT_CORE_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define DT_PHILOX_FN static __host__ __device__ __forceinline__
#else
#define DT_PHILOX_FN static inline
#endif

#define DT_PHILOX_M0 0xD2511F53u
#define DT_PHILOX_M1 0xCD9E8D57u
#define DT_PHILOX_W0 0x9E3779B9u
#define DT_PHILOX_W1 0xBB67AE85u

/* out = Philox4x32-10(counter c, key k): ten rounds of two 32x32->64
 * multiplies, the key bumped by the Weyl constants after each round. */
DT_PHILOX_FN void dt_philox4x32_10(const uint32_t c[4], const uint32_t k[2], uint32_t out[4])
{
    uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    uint32_t k0 = k[0], k1 = k[1];
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = (uint64_t)DT_PHILOX_M0 * c0;
        const uint64_t p1 = (uint64_t)DT_PHILOX_M1 * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += DT_PHILOX_W0;
        k1 += DT_PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Block i of the stream (key, hi): counter (i low, i high, hi[0], hi[1]). */
DT_PHILOX_FN void dt_philox_block(const uint32_t key[2], const uint32_t hi[2], uint64_t i,
                                  uint32_t out[4])
{
    const uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), hi[0], hi[1]};
    dt_philox4x32_10(ctr, key, out);
}

/* The n-th 32-bit number of the stream. */
DT_PHILOX_FN uint32_t dt_philox_u32(const uint32_t key[2], const uint32_t hi[2], uint64_t n)
{
    uint32_t out[4];
    dt_philox_block(key, hi, n >> 2, out);
    return out[n & 3];
}

/* A uniform float in [0, 1) from the top 24 bits (exact in float). */
DT_PHILOX_FN float dt_philox_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

#endif
