/* What the GPU tests share: open the CUDA backend or skip, move arrays
 * between host and device, poison outputs, and compare a GPU result with
 * the CPU's under a stated tolerance.
 *
 * Every GPU test exits 77 (CTest: skipped) when no GPU is visible, so a
 * machine without one reports the suite as skipped, not failed. With
 * DT_GPU_TEST_ON_CPU=1 in the environment the CPU backend stands in for the
 * GPU: every comparison then runs CPU against CPU, which checks the test
 * programs themselves (arguments, shapes, what is poisoned) on a machine
 * without a GPU; it says nothing about the CUDA kernels. */
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
    const char *on_cpu = getenv("DT_GPU_TEST_ON_CPU");
    if (on_cpu && strcmp(on_cpu, "1") == 0) {
        printf("DT_GPU_TEST_ON_CPU=1: the CPU backend stands in for the GPU\n");
        return dt_backend_cpu();
    }
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
    int64_t bad = 0, nonfinite = 0;
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double a = g[i], b = cpu[i], err = fabs(a - b);
        nonfinite += !isfinite(b);
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
        printf("ok  %-34s n=%-8lld max rel err %.2e (rtol %g)", what, (long long)n, worst, rtol);
        /* NaN on both sides: unwritten gaps of strided outputs, or a case
         * that compares nothing there */
        if (nonfinite) printf(", %lld not finite on both", (long long)nonfinite);
        printf("\n");
    }
    free(g);
    return bad;
}

/* An input or output held twice: h for the CPU, d for the device under
 * test. */
typedef struct gpu_pair {
    float *h, *d;
    int64_t n;
} gpu_pair;

/* The same n uniforms in [lo, hi) on both sides. */
static inline gpu_pair pair_random(const dt_backend *be, int64_t n, uint32_t id, float lo,
                                   float hi)
{
    gpu_pair p = {.h = host_random(n, id, lo, hi), .n = n};
    p.d = dev_from(be, p.h, n);
    return p;
}

/* The same host values on both sides. */
static inline gpu_pair pair_from(const dt_backend *be, const float *h, int64_t n)
{
    gpu_pair p = {.h = host_copy(h, n), .n = n};
    p.d = dev_from(be, p.h, n);
    return p;
}

/* An output the op overwrites: NaN on both sides, so an element the device
 * leaves unwritten fails (and gaps between strided rows, which neither
 * side writes, agree). */
static inline gpu_pair pair_poisoned(const dt_backend *be, int64_t n)
{
    gpu_pair p = {.h = malloc((size_t)(n ? n : 1) * sizeof(float)), .n = n};
    for (int64_t i = 0; i < n; i++) p.h[i] = NAN;
    p.d = dev_poisoned(be, n);
    return p;
}

static inline int64_t pair_check(const char *what, const dt_backend *be, const gpu_pair *p,
                                 double rtol, double atol)
{
    return compare(what, be, p->d, p->h, p->n, rtol, atol);
}

/* The device copy set to the host values again (the CPU's result, say, so
 * a backward op starts from the same forward state on both sides). */
static inline void pair_sync_to_device(const dt_backend *be, gpu_pair *p)
{
    be->to_device(p->d, p->h, (size_t)p->n * sizeof(float));
}

static inline void pair_free(const dt_backend *be, gpu_pair *p)
{
    if (p->d) be->free(p->d);
    free(p->h);
    p->h = p->d = NULL;
}

/* Compare n device int32 (or int64) values with the CPU's, exactly. */
static inline int64_t compare_ints(const char *what, const dt_backend *be, const void *dev,
                                   const void *cpu, int64_t n, size_t size)
{
    unsigned char *g = malloc((size_t)(n ? n : 1) * size);
    be->to_host(g, dev, (size_t)n * size);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t a = size == 4 ? ((const int32_t *)(void *)g)[i] : ((int64_t *)(void *)g)[i];
        const int64_t b = size == 4 ? ((const int32_t *)cpu)[i] : ((const int64_t *)cpu)[i];
        if (a != b && bad++ < 5)
            fprintf(stderr, "%s: element %lld: gpu %lld, cpu %lld\n", what, (long long)i,
                    (long long)a, (long long)b);
    }
    if (bad) {
        fprintf(stderr, "%s: %lld of %lld values differ\n", what, (long long)bad, (long long)n);
        dt_test_failures++;
    } else {
        printf("ok  %-34s n=%-8lld exact\n", what, (long long)n);
    }
    free(g);
    return bad;
}

#endif
