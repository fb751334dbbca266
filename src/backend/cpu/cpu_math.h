/* Elementwise exp, sigmoid and tanh that the compiler can vectorize.
 *
 * libm's expf and tanhf are calls the compiler cannot turn into SIMD code,
 * and a recurrent cell evaluates five of them per hidden unit and step: in
 * the LSTM they took a quarter of the training time. These forms have no
 * calls and no branches (selects only), so a loop over them vectorizes.
 *
 * exp: x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor polynomial of
 * degree 7 (truncation below 3e-9 relative, under float rounding: a lower
 * degree leaves jumps of 1e-7 where k changes, which finite differences
 * of a large objective see), 2^k built in the exponent bits. Inputs are
 * clamped to [-87, 88], where expf stays a normal float.
 * Measured against libm over [-20, 20]: relative error below 1.1e-7 (exp)
 * and 1.6e-7 (sigmoid).
 * tanh: 1 - 2 / (e^(2x) + 1) written with e^(-2|x|), and an odd polynomial
 * for |x| < 1/8, where that form would cancel (relative error below 3e-7).
 * Normal CDF (for GELU, x Phi(x)): erfc by a Chebyshev fit on the tail
 * side, so Phi never cancels; see dt_vnormcdf for the errors. */
#ifndef DT_BACKEND_CPU_MATH_H
#define DT_BACKEND_CPU_MATH_H

#include <stdint.h>
#include <string.h>

static inline float dt_vexpf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* k = round(x / ln 2): adding 1.5 * 2^23 rounds to an integer in the
     * low mantissa bits. */
    const float shifter = 12582912.0f;
    const float t = x * 1.44269504f + shifter;
    const float k = t - shifter;
    int32_t ki;
    memcpy(&ki, &t, sizeof ki);
    ki -= 0x4B400000;
    const float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (ki + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float dt_vsigmoidf(float x) { return 1.0f / (1.0f + dt_vexpf(-x)); }

static inline float dt_vtanhf(float x)
{
    const float a = x < 0.0f ? -x : x;
    const float e = dt_vexpf(-2.0f * a);
    const float big = (1.0f - e) / (1.0f + e);
    const float a2 = a * a;
    const float small = a * (1.0f + a2 * (-1.0f / 3.0f + a2 * (2.0f / 15.0f +
                                                                a2 * (-17.0f / 315.0f))));
    const float y = a < 0.125f ? small : big;
    return x < 0.0f ? -y : y;
}

/* erfc(a) for a >= 0: t exp(-a^2 + P(t)), t = 1 / (1 + a / 2), with the
 * degree-9 Chebyshev fit P of Press et al. (Numerical Recipes, erfcc),
 * whose fractional error is below 1.2e-7 for every a. */
static inline float dt_verfc_pos(float a)
{
    const float t = 1.0f / (1.0f + 0.5f * a);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * dt_vexpf(-a * a + p);
}

/* The standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2, taken from the
 * tail on either side so that it never cancels. Measured against libm's
 * erfc over [-12, 12]: relative error below 5e-6 for x > -6 and 2e-5
 * beyond (where Phi < 1e-9); GELU's derivative within 2.1e-7. */
static inline float dt_vnormcdf(float x)
{
    const float a = (x < 0.0f ? -x : x) * 0.707106781f;
    const float tail = 0.5f * dt_verfc_pos(a);
    return x < 0.0f ? tail : 1.0f - tail;
}

#endif
