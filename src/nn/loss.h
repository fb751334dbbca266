/* Losses: cross-entropy with label smoothing, mean squared error and the
 * Gaussian negative log-likelihood (the network predicts a mean and a
 * log-variance per target, for regression with uncertainty).
 *
 * The batch loss is the mean of per-sample losses over the GLOBAL batch:
 * each rank sums its own samples and scales gradients by 1/global_n, so the
 * all-reduced sum of gradients is the gradient of the global mean.
 *
 * token_cross_entropy (labels of kind "tokens": T class ids per sample,
 * -1 = no target) is the mean over the TARGET TOKENS of the global batch,
 * the standard for masked and causal language models: the trainer counts
 * each rank's targets, sums the counts over the ranks before backward, and
 * scales gradients by 1 / (global targets), so the loss and its gradient
 * are exact and do not depend on the number of ranks or micro-steps. */
#ifndef DT_NN_LOSS_H
#define DT_NN_LOSS_H

#include "backend/backend.h"
#include "core/config.h"
#include "core/tensor.h"

typedef enum dt_loss_kind {
    DT_LOSS_CROSS_ENTROPY = 0,
    DT_LOSS_MSE,
    DT_LOSS_GAUSSIAN_NLL,
    DT_LOSS_TOKEN_CROSS_ENTROPY
} dt_loss_kind;

typedef struct dt_loss {
    dt_loss_kind kind;
    float label_smoothing;
    int64_t out_dim; /* model outputs per sample */
    int64_t y_dim;   /* targets per sample (1 for a class) */
    /* Per-pixel classes (segmentation): the logits are (classes, H, W) and
     * each sample's loss is the mean over its `positions` = H * W pixels;
     * 1 for per-sample classes. */
    int64_t positions;
    int64_t classes;
    int64_t steps; /* token_cross_entropy: T labelled steps per sample (= y_dim) */
} dt_loss;

/* Read the `loss` section (kind: cross_entropy | mse | gaussian_nll,
 * label_smoothing) and check it against the model's output shape and the
 * labels: classes for cross-entropy (output = num_classes), y_dim targets
 * for mse (output = y_dim) and gaussian_nll (output = 2 * y_dim). */
dt_status dt_loss_setup(dt_cfg *loss_cfg, const dt_shape *model_out, int labels_are_classes,
                        int num_classes, int y_dim, dt_loss *out);
/* The same for labels of class per pixel (y_dim pixels per sample): the
 * model's output must be (num_classes, H, W) with H * W = y_dim. */
dt_status dt_loss_setup_pixels(dt_cfg *loss_cfg, const dt_shape *model_out, int num_classes,
                               int y_dim, dt_loss *out);

/* The same for labels of kind tokens (T = y_dim ids per sample): the
 * model's output must be (T, vocab); vocab 0 takes it from the model. */
dt_status dt_loss_setup_tokens(dt_cfg *loss_cfg, const dt_shape *model_out, int vocab,
                               int y_dim, dt_loss *out);

/* Whether the loss is per token (its sums count targets, not samples). */
static inline int dt_loss_is_tokens(const dt_loss *l)
{
    return l->kind == DT_LOSS_TOKEN_CROSS_ENTROPY;
}

/* Targets among n samples' labels y (host memory): labels >= 0 for a token
 * loss, n otherwise. */
int64_t dt_loss_count_targets(const dt_loss *l, const float *y, int64_t n);

/* Per-sample loss sums over n rows of outputs `out` and targets `y`, and
 * d(loss)/d(out) * scale into dout. */
dt_loss_sums dt_loss_compute(const dt_loss *l, const dt_backend *be, const float *out,
                             const float *y, int64_t n, float scale, float *dout);

/* dt_loss_compute that also adds predictions into a confusion matrix
 * (classes x classes, [label][prediction]) for per-pixel classes. */
dt_loss_sums dt_loss_compute_eval(const dt_loss *l, const dt_backend *be, const float *out,
                                  const float *y, int64_t n, float *dout, int64_t *confusion);

const char *dt_loss_name(dt_loss_kind k);

#endif
