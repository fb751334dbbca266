/* The gradient noise scale, estimated during data-parallel training.
 *
 * The simple noise scale B_simple = tr(Sigma) / |G|^2 (Sigma: covariance of
 * per-sample gradients, G: the true gradient) predicts the critical batch
 * size: below it, a larger batch cuts the steps almost proportionally;
 * above it, returns diminish. From the squared norms of a small-batch
 * gradient (B_small samples) and a big-batch gradient (B_big samples) of the
 * same step, unbiased estimates are
 *   |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
 *   tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)
 * Each is noisy, so each gets its own exponential moving average and the
 * ratio is taken of the averages. In dtrain the small batch is one rank's
 * local gradient before the all-reduce (its squared norm averaged over the
 * ranks) and the big batch the all-reduced one; on one rank with gradient
 * accumulation, the first micro-batch plays the small batch. */
#ifndef DT_TRAIN_NOISE_SCALE_H
#define DT_TRAIN_NOISE_SCALE_H

#include <stddef.h>
#include <stdint.h>

typedef struct dt_noise_scale {
    double decay;          /* of both moving averages, e.g. 0.95 */
    double ema_g2, ema_tr; /* moving averages (without bias correction) */
    int64_t count;         /* pairs added */
    double last_g2, last_tr;
} dt_noise_scale;

void dt_noise_scale_init(dt_noise_scale *n, double decay);

/* One step: g2_small is the (mean) squared norm of gradients of batches of
 * b_small samples, g2_big that of the gradient of b_big > b_small samples. */
void dt_noise_scale_add(dt_noise_scale *n, double g2_small, double b_small, double g2_big,
                        double b_big);

/* B_simple from the moving averages; NaN before the first pair or while
 * either average is not positive (too few steps to tell). */
double dt_noise_scale_value(const dt_noise_scale *n);
/* The averages with bias correction: estimates of |G|^2 and tr(Sigma). */
double dt_noise_scale_grad_sq(const dt_noise_scale *n);
double dt_noise_scale_trace(const dt_noise_scale *n);

/* `,"noise_scale":B,"grad_sq":G2,"trace_sigma":T` for a metrics record, or
 * "" when there is nothing yet. */
void dt_noise_scale_json(const dt_noise_scale *n, char *buf, size_t cap);

#endif
