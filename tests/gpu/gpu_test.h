/* What the GPU tests share: open the CUDA backend or skip, move arrays
 * between host and device, poison outputs, and compare a GPU result with
 * the CPU's under a stated tolerance.
 *
 * Every GPU test exits 77 (CTest: skipped) when no GPU is visible, so a
 * machine without one reports the suite as skipped, not failed. */
#ifndef DT_TEST_GPU_TEST_H
#define DT_TEST_GPU_TEST_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/backend_cuda.h"
#include "core/rng.h"
#include "test_util.h"

#define DT_GPU_SKIP 77

/* The CUDA backend on GPU `gpu`, or NULL after printing why the test is
 * skipped (no GPU) or failed (a GPU that does not open). */
static inline const dt_backend *gpu_open(int gpu, int *skip)
{
    const dt_backend *be = NULL;
    *skip = 0;
    if (dt_cuda_device_count() <= gpu) {
        printf("skipped: no CUDA GPU %d visible (%d GPU(s))\n", gpu, dt_cuda_device_count());
        *skip = 1;
        return NULL;
    }
    if (dt_backend_cuda_open(gpu, &be) != DT_OK) {
        fprintf(stderr, "cannot open GPU %d: %s\n", gpu, dt_error_message());
        dt_test_failures++;
        return NULL;
    }
    return be;
}

/* A host array of n uniforms in [lo, hi), stream `id` of the test seed. */
static inline float *host_random(int64_t n, uint32_t id, float lo, float hi)
{
    float *h = malloc((size_t)(n ? n : 1) * sizeof(float));
    const dt_rng r = dt_rng_make(20240607, DT_RNG_USER, id, 0);
    dt_rng_fill_uniform(&r, 0, h, n, lo, hi);
    return h;
}

/* A device copy of n host floats. */
static inline float *dev_from(const dt_backend *be, const float *h, int64_t n)
{
    float *d = be->alloc((size_t)(n ? n : 1) * sizeof(float));
    be->to_device(d, h, (size_t)n * sizeof(float));
    return d;
}

/* A device buffer of n floats filled with NaN, so any element an op fails
 * to write shows up in the comparison. */
static inline float *dev_poisoned(const dt_backend *be, int64_t n)
{
    float *d = be->alloc((size_t)(n ? n : 1) * sizeof(float));
    be->fill(d, NAN, n);
    return d;
}

static inline float *host_copy(const float *h, int64_t n)
{
    float *c = malloc((size_t)(n ? n : 1) * sizeof(float));
    memcpy(c, h, (size_t)n * sizeof(float));
    return c;
}

/* Compare n device floats with the CPU's host result: every element finite
 * where the CPU's is, and |gpu - cpu| <= atol + rtol |cpu|. Prints the
 * first few mismatches and returns their count (also counted as failures). */
static inline int64_t compare(const char *what, const dt_backend *be, const float *dev,
                              const float *cpu, int64_t n, double rtol, double atol)
{
    float *g = malloc((size_t)(n ? n : 1) * sizeof(float));
    be->to_host(g, dev, (size_t)n * sizeof(float));
    if (be->sync() != DT_OK) {
        fprintf(stderr, "%s: device failure: %s\n", what, dt_error_message());
        dt_test_failures++;
        free(g);
        return n;
    }
    int64_t bad = 0;
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double a = g[i], b = cpu[i], err = fabs(a - b);
        const int ok = isfinite(b) ? isfinite(a) && err <= atol + rtol * fabs(b) : !isfinite(a);
        if (isfinite(b) && fabs(b) > 0) worst = fmax(worst, err / fabs(b));
        if (!ok && bad++ < 5)
            fprintf(stderr, "%s: element %lld: gpu %.9g, cpu %.9g\n", what, (long long)i, a, b);
    }
    if (bad) {
        fprintf(stderr, "%s: %lld of %lld elements outside rtol %g atol %g\n", what,
                (long long)bad, (long long)n, rtol, atol);
        dt_test_failures++;
    } else {
        printf("ok  %-34s n=%-8lld max rel err %.2e (rtol %g)\n", what, (long long)n, worst,
               rtol);
    }
    free(g);
    return bad;
}

#endif
