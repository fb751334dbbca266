/* Unit tests for the regularizers around a training step
 * (src/train/regularize.c, src/data/augment.c) and the early-stopping rule
 * (src/train/early_stop.c): noise and augmentation depend only on (seed,
 * step, global sample index), never on where a sample sits in a batch
 * (hence not on the rank count); input noise has the asked-for standard
 * deviation (to 3% on 20,000 draws); weight noise is undone exactly; a
 * mirror is a mirror and a shift moves pixels by whole steps; the
 * early-stopping rule honours mode, min_delta and patience. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "test_util.h"
#include "train/early_stop.h"
#include "train/regularize.h"

static dt_status setup(const char *yaml, const dt_shape *shape, dt_regularize *r, dt_cfg **root)
{
    DT_TRY(dt_cfg_load_string(yaml, "reg.yaml", root));
    return dt_regularize_setup(*root, shape, r);
}

/* A (1, 4, 5) image whose pixel (y, x) is 10 y + x + 1. */
static void ramp(float *x)
{
    for (int y = 0; y < 4; y++)
        for (int c = 0; c < 5; c++) x[y * 5 + c] = (float)(10 * y + c + 1);
}

/* The same sample gives the same result alone or inside a larger batch. */
static void test_batch_independence(void)
{
    const int64_t dims[3] = {1, 4, 5};
    const dt_shape shape = dt_shape_make(3, dims);
    dt_regularize r;
    dt_cfg *root = NULL;
    CHECK_OK(setup("regularize: {input_noise: 0.5}\naugment: {shift: 1, hflip: true, "
                   "rotate_deg: 15}\n", &shape, &r, &root));
    float batch[3 * 20], alone[20];
    for (int i = 0; i < 3; i++) ramp(batch + 20 * i);
    const int64_t index[3] = {7, 42, 1000};
    const float *out = dt_regularize_inputs(&r, batch, index, 3, 5, 9);
    float keep[3 * 20];
    memcpy(keep, out, sizeof keep);
    ramp(alone);
    out = dt_regularize_inputs(&r, alone, index + 1, 1, 5, 9);
    CHECK(memcmp(out, keep + 20, 20 * sizeof(float)) == 0);
    CHECK(memcmp(keep, keep + 20, 20 * sizeof(float)) != 0); /* samples differ */
    out = dt_regularize_inputs(&r, alone, index + 1, 1, 6, 9); /* another step */
    CHECK(memcmp(out, keep + 20, 20 * sizeof(float)) != 0);
    CHECK(batch[0] == 1.0f); /* the loader's buffer is left alone */
    dt_regularize_free(&r, dt_backend_cpu());
    dt_cfg_free(root);
}

/* Input noise: mean 0, standard deviation sigma. */
static void test_input_noise_stats(void)
{
    const int64_t dims[1] = {1000};
    const dt_shape shape = dt_shape_make(1, dims);
    dt_regularize r;
    dt_cfg *root = NULL;
    CHECK_OK(setup("regularize: {input_noise: 0.25}\n", &shape, &r, &root));
    float *x = calloc(20 * 1000, sizeof(float));
    int64_t index[20];
    for (int i = 0; i < 20; i++) index[i] = i;
    const float *out = dt_regularize_inputs(&r, x, index, 20, 0, 1);
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) {
        s += out[i];
        s2 += (double)out[i] * out[i];
    }
    CHECK_CLOSE(s / 20000, 0.0, 0.0, 0.01);
    CHECK_CLOSE(sqrt(s2 / 20000), 0.25, 0.03, 0.0);
    free(x);
    dt_regularize_free(&r, dt_backend_cpu());
    dt_cfg_free(root);
}

/* Weight noise changes every parameter and restore puts back the exact
 * values. */
static void test_weight_noise(void)
{
    const int64_t dims[1] = {3};
    const dt_shape shape = dt_shape_make(1, dims);
    const dt_backend *be = dt_backend_cpu();
    dt_regularize r;
    dt_cfg *root = NULL;
    CHECK_OK(setup("regularize: {weight_noise: 0.1}\n", &shape, &r, &root));
    float p[64], p0[64];
    for (int i = 0; i < 64; i++) p[i] = p0[i] = 0.01f * (float)i;
    dt_regularize_perturb(&r, be, p, 64, 3, 1);
    int changed = 0;
    for (int i = 0; i < 64; i++) changed += p[i] != p0[i];
    CHECK(changed == 64);
    dt_regularize_restore(&r, be, p);
    CHECK(memcmp(p, p0, sizeof p) == 0);
    dt_regularize_free(&r, be);
    dt_cfg_free(root);
}

/* With flips only, each output is the image or its mirror, and both occur;
 * with shifts only, every output pixel is 0 or an input pixel moved by at
 * most `shift` in each direction. */
static void test_flip_and_shift(void)
{
    const dt_augment flip = {.hflip = 1}, shift = {.shift = 1};
    const dt_rng rng = dt_rng_make(1, DT_RNG_AUGMENT, 0, 0);
    float x[20], src[20], tmp[20];
    int mirrored = 0, same = 0;
    ramp(src);
    for (int s = 0; s < 32; s++) {
        memcpy(x, src, sizeof x);
        dt_augment_image(&flip, &rng, s, x, 1, 4, 5, tmp);
        int is_same = 1, is_mirror = 1;
        for (int y = 0; y < 4; y++)
            for (int c = 0; c < 5; c++) {
                is_same &= x[y * 5 + c] == src[y * 5 + c];
                is_mirror &= x[y * 5 + c] == src[y * 5 + 4 - c];
            }
        CHECK(is_same || is_mirror);
        same += is_same;
        mirrored += is_mirror;

        memcpy(x, src, sizeof x);
        dt_augment_image(&shift, &rng, s, x, 1, 4, 5, tmp);
        for (int y = 0; y < 4; y++)
            for (int c = 0; c < 5; c++) {
                const float v = x[y * 5 + c];
                if (v == 0.0f) continue;
                const int sy = ((int)v - 1) / 10, sx = ((int)v - 1) % 10;
                CHECK(abs(sy - y) <= 1 && abs(sx - c) <= 1);
            }
    }
    CHECK(same > 4 && mirrored > 4);
}

/* Augmentation needs images: a (13) sample shape is a config error. */
static void test_augment_shape_error(void)
{
    const int64_t dims[1] = {13};
    const dt_shape shape = dt_shape_make(1, dims);
    dt_regularize r;
    dt_cfg *root = NULL;
    CHECK(setup("augment: {hflip: true}\n", &shape, &r, &root) == DT_ERR_CONFIG);
    CHECK(strstr(dt_error_message(), "'augment'") != NULL);
    CHECK(strstr(dt_error_message(), "(13)") != NULL);
    dt_cfg_free(root);
}

static void test_early_stop_rule(void)
{
    dt_early_stop e;
    int imp;
    /* min, patience 2, min_delta 0.1 */
    dt_early_stop_init(&e, 0, 2, 0.1);
    CHECK(!dt_early_stop_update(&e, 1.0, 1, &imp) && imp);
    CHECK(!dt_early_stop_update(&e, 0.95, 2, &imp) && !imp); /* within min_delta */
    CHECK(!dt_early_stop_update(&e, 0.5, 3, &imp) && imp);
    CHECK(!dt_early_stop_update(&e, 0.6, 4, &imp) && !imp);
    CHECK(dt_early_stop_update(&e, 0.7, 5, &imp) && !imp); /* second miss: stop */
    CHECK(e.best == 0.5 && e.best_epoch == 3);
    /* max, patience 1; a NaN never improves */
    dt_early_stop_init(&e, 1, 1, 0.0);
    CHECK(!dt_early_stop_update(&e, 0.8, 1, &imp) && imp);
    CHECK(!dt_early_stop_update(&e, 0.9, 2, &imp) && imp);
    CHECK(dt_early_stop_update(&e, NAN, 3, &imp) && !imp);
    CHECK(e.best == 0.9 && e.best_epoch == 2);
}

int main(void)
{
    test_batch_independence();
    test_input_noise_stats();
    test_weight_noise();
    test_flip_and_shift();
    test_augment_shape_error();
    test_early_stop_rule();
    return dt_test_result();
}
