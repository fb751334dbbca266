/* Regularizers applied by the trainer around each step: Gaussian noise on
 * the inputs, Gaussian noise on the weights, and image augmentation.
 *
 * Config (top-level sections):
 *   regularize: {input_noise: SIGMA, weight_noise: SIGMA}
 *   augment:    {shift: PIXELS, hflip: BOOL, rotate_deg: DEG}
 * (L2 weight decay is optim.weight_decay, dropout a layer, label smoothing
 * a loss option.) Input noise and augmentation change a copy of the batch;
 * weight noise perturbs the parameters for forward and backward of one step
 * and the clean parameters are restored before the update, so the update
 * applies the gradient taken at the noisy point to the clean weights.
 * Every draw is keyed by the counter-based RNG: input noise by (seed, step,
 * 0) and element (global sample index x sample size + j), weight noise by
 * (seed, step, 1) and the parameter's flat index, augmentation by (seed,
 * step) and the global sample index. So none depends on the rank count. */
#ifndef DT_TRAIN_REGULARIZE_H
#define DT_TRAIN_REGULARIZE_H

#include "backend/backend.h"
#include "core/config.h"
#include "core/tensor.h"
#include "data/augment.h"

typedef struct dt_regularize {
    double input_noise, weight_noise; /* standard deviations; 0: off */
    dt_augment aug;
    dt_shape x_shape;
    int64_t x_numel;
    float *xbuf;    /* host copy of a batch */
    int64_t xcap;   /* samples xbuf holds */
    float *tmp;     /* one sample */
    float *host_noise, *dev_noise, *clean; /* weight noise */
    int64_t n_params;
} dt_regularize;

/* Read `regularize` and `augment` from the config root. Augmentation needs
 * samples of shape (C, H, W); other shapes are a config error. */
dt_status dt_regularize_setup(dt_cfg *root, const dt_shape *x_shape, dt_regularize *r);
void dt_regularize_free(dt_regularize *r, const dt_backend *be);

/* The batch x (n, x_numel) with noise and augmentation for `step`, keyed by
 * the global sample indices; x itself when both are off. The result is
 * valid until the next call. */
const float *dt_regularize_inputs(dt_regularize *r, const float *x, const int64_t *index,
                                  int64_t n, int64_t step, uint64_t seed);

/* Weight noise: keep the clean parameters and add noise for `step`; then
 * put the clean ones back. No-ops when weight_noise is 0. */
void dt_regularize_perturb(dt_regularize *r, const dt_backend *be, float *params, int64_t n,
                           int64_t step, uint64_t seed);
void dt_regularize_restore(dt_regularize *r, const dt_backend *be, float *params);

#endif
