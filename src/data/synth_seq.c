/* Generators of the long-dependency sequence tasks (adding, copy); see
 * data/synth_seq.h. Each sample is drawn from its own Philox stream, keyed
 * by (seed, split, sample index), and the arrays are written with
 * dt_convert_write_arrays. */
#include "data/synth_seq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

typedef void (*sample_fn)(const dt_synth_seq_options *s, const dt_rng *r, float *x, float *y);

/* x (T, 2), y (1). */
static void adding_sample(const dt_synth_seq_options *s, const dt_rng *r, float *x, float *y)
{
    const int64_t T = s->length, half = T / 2;
    for (int64_t t = 0; t < T; t++) {
        x[2 * t] = dt_rng_uniform(r, (uint64_t)t);
        x[2 * t + 1] = 0.0f;
    }
    const int64_t a = (int64_t)dt_rng_below(r, (uint64_t)T, (uint64_t)half);
    const int64_t b = half + (int64_t)dt_rng_below(r, (uint64_t)T + 1, (uint64_t)(T - half));
    x[2 * a + 1] = x[2 * b + 1] = 1.0f;
    y[0] = x[2 * a] + x[2 * b];
}

/* x (T, K+1), y (1) = the symbol of step 0. */
static void copy_sample(const dt_synth_seq_options *s, const dt_rng *r, float *x, float *y)
{
    const int64_t T = s->length, K = s->symbols, W = K + 1;
    memset(x, 0, (size_t)(T * W) * sizeof *x);
    for (int64_t t = 0; t < T; t++)
        x[t * W + (int64_t)dt_rng_below(r, (uint64_t)t, (uint64_t)K)] = 1.0f;
    x[K] = 1.0f;
    for (int64_t k = 0; k < K; k++)
        if (x[k] != 0.0f) y[0] = (float)k;
}

static void fill_split(const dt_synth_seq_options *s, sample_fn f, uint32_t split, int64_t n,
                       int64_t x_numel, float *x, float *y)
{
    for (int64_t i = 0; i < n; i++) {
        const dt_rng r = dt_rng_make(s->seed, DT_RNG_USER + 7, split, (uint32_t)i);
        f(s, &r, x + i * x_numel, y + i);
    }
}

static dt_status generate(const dt_synth_seq_options *s, const dt_convert_options *o,
                          sample_fn f, const char *task, int64_t width, int classes)
{
    if (s->length < 2 || s->length > (1 << 20))
        return dt_error_set(DT_ERR_ARG, "--length %lld: expected 2 to %d steps",
                            (long long)s->length, 1 << 20);
    if (s->n_train <= 0 || s->n_test < 0)
        return dt_error_set(DT_ERR_ARG, "expected a positive training and a non-negative "
                            "test sample count");
    const int64_t dims[2] = {s->length, width}, x_numel = s->length * width;
    float *xa = dt_calloc((size_t)(s->n_train * x_numel), sizeof(float));
    float *ya = dt_calloc((size_t)s->n_train, sizeof(float));
    float *xb = dt_calloc((size_t)(s->n_test * x_numel + 1), sizeof(float));
    float *yb = dt_calloc((size_t)(s->n_test + 1), sizeof(float));
    fill_split(s, f, 0, s->n_train, x_numel, xa, ya);
    fill_split(s, f, 1, s->n_test, x_numel, xb, yb);

    char source[128];
    snprintf(source, sizeof source, "synth:%s length=%lld seed=%llu", task,
             (long long)s->length, (unsigned long long)s->seed);
    const dt_convert_arrays a = {.source = source, .x_shape = dt_shape_make(2, dims),
                                 .classes = classes, .y_dim = 1, .n_train = s->n_train,
                                 .n_test = s->n_test, .x_train = xa, .y_train = ya,
                                 .x_test = xb, .y_test = yb};
    const dt_status st = dt_convert_write_arrays(&a, o);
    free(xa);
    free(ya);
    free(xb);
    free(yb);
    return st;
}

dt_status dt_synth_adding(const dt_synth_seq_options *s, const dt_convert_options *o)
{
    return generate(s, o, adding_sample, "adding", 2, 0);
}

dt_status dt_synth_copy(const dt_synth_seq_options *s, const dt_convert_options *o)
{
    if (s->symbols < 2 || s->symbols > 256)
        return dt_error_set(DT_ERR_ARG, "--symbols %d: expected 2 to 256", s->symbols);
    return generate(s, o, copy_sample, "copy", s->symbols + 1, s->symbols);
}
