/* Input noise, weight noise and augmentation around a training step. */
#include "train/regularize.h"

#include <stdlib.h>
#include <string.h>

static dt_status read_augment(dt_cfg *a, const dt_shape *x_shape, dt_regularize *r)
{
    DT_TRY(dt_cfg_int(a, "shift", 0, 0, 1 << 16, &r->aug.shift));
    DT_TRY(dt_cfg_bool(a, "hflip", 0, &r->aug.hflip));
    DT_TRY(dt_cfg_float(a, "rotate_deg", 0.0, 0.0, 180.0, &r->aug.rotate_deg));
    if (dt_augment_active(&r->aug) && x_shape->ndim != 3) {
        char buf[64];
        return dt_cfg_error(a, "image samples of shape (C, H, W) for augmentation",
                            "samples of shape %s", dt_shape_str(x_shape, buf, sizeof buf));
    }
    return DT_OK;
}

dt_status dt_regularize_setup(dt_cfg *root, const dt_shape *x_shape, dt_regularize *r)
{
    memset(r, 0, sizeof *r);
    dt_cfg *reg = dt_cfg_get(root, "regularize");
    DT_TRY(dt_cfg_float(reg, "input_noise", 0.0, 0.0, 1e6, &r->input_noise));
    DT_TRY(dt_cfg_float(reg, "weight_noise", 0.0, 0.0, 1e6, &r->weight_noise));
    r->x_shape = *x_shape;
    r->x_numel = dt_shape_numel(x_shape);
    return read_augment(dt_cfg_get(root, "augment"), x_shape, r);
}

void dt_regularize_free(dt_regularize *r, const dt_backend *be)
{
    free(r->xbuf);
    free(r->tmp);
    free(r->host_noise);
    if (r->dev_noise) be->free(r->dev_noise);
    if (r->clean) be->free(r->clean);
    memset(r, 0, sizeof *r);
}

static void add_input_noise(dt_regularize *r, float *x, const int64_t *index, int64_t n,
                            int64_t step, uint64_t seed)
{
    const dt_rng rng = dt_rng_make(seed, DT_RNG_NOISE, (uint32_t)step, 0);
    const int64_t d = r->x_numel;
    for (int64_t i = 0; i < n; i++) {
        dt_rng_fill_normal(&rng, (uint64_t)(index[i] * d), r->tmp, d, 0.0f,
                           (float)r->input_noise);
        for (int64_t j = 0; j < d; j++) x[i * d + j] += r->tmp[j];
    }
}

const float *dt_regularize_inputs(dt_regularize *r, const float *x, const int64_t *index,
                                  int64_t n, int64_t step, uint64_t seed)
{
    const int aug = dt_augment_active(&r->aug);
    if ((r->input_noise == 0.0 && !aug) || n == 0) return x;
    const int64_t d = r->x_numel;
    if (n > r->xcap) {
        free(r->xbuf);
        r->xbuf = dt_calloc((size_t)(n * d), sizeof(float));
        r->xcap = n;
    }
    if (!r->tmp) r->tmp = dt_calloc((size_t)d, sizeof(float));
    memcpy(r->xbuf, x, (size_t)(n * d) * sizeof(float));

    if (aug) {
        const dt_rng rng = dt_rng_make(seed, DT_RNG_AUGMENT, (uint32_t)step, 0);
        const int64_t *dim = r->x_shape.dim;
        for (int64_t i = 0; i < n; i++)
            dt_augment_image(&r->aug, &rng, index[i], r->xbuf + i * d, dim[0], dim[1], dim[2],
                             r->tmp);
    }
    if (r->input_noise > 0.0) add_input_noise(r, r->xbuf, index, n, step, seed);
    return r->xbuf;
}

void dt_regularize_perturb(dt_regularize *r, const dt_backend *be, float *params, int64_t n,
                           int64_t step, uint64_t seed)
{
    if (r->weight_noise == 0.0 || n == 0) return;
    if (!r->clean) {
        r->n_params = n;
        r->host_noise = dt_calloc((size_t)n, sizeof(float));
        r->dev_noise = be->alloc((size_t)n * sizeof(float));
        r->clean = be->alloc((size_t)n * sizeof(float));
    }
    const dt_rng rng = dt_rng_make(seed, DT_RNG_NOISE, (uint32_t)step, 1);
    dt_rng_fill_normal(&rng, 0, r->host_noise, n, 0.0f, (float)r->weight_noise);
    be->to_device(r->dev_noise, r->host_noise, (size_t)n * sizeof(float));
    be->copy(r->clean, params, (size_t)n * sizeof(float));
    be->axpy(params, r->dev_noise, 1.0f, n);
}

void dt_regularize_restore(dt_regularize *r, const dt_backend *be, float *params)
{
    if (r->weight_noise == 0.0 || !r->clean) return;
    be->copy(params, r->clean, (size_t)r->n_params * sizeof(float));
}
