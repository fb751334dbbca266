/* Sharpness of a minimum: the largest loss increase within a small box.
 *
 * With w the trained weights, L the mean training loss over a fixed subset
 * of S training samples (evaluation mode: no dropout), and the box
 *   C = { d : |d_i| <= eps * (|w_i| + 1) }   (relative, the default)
 *   C = { d : |d_i| <= eps }                 (absolute)
 * the measure is
 *   sharpness = 100 * (max_{d in C} L(w + d) - L(w)) / (1 + L(w)),
 * the maximum found by K steps of projected sign-gradient ascent from
 * d = 0: d <- clip_C(d + 2 eps_i / K * sign(dL/dw (w + d))), keeping the
 * largest loss seen (including the last point). It is the measure of
 * Keskar et al., "On Large-Batch Training for Deep Learning" (2017), with
 * the ascent done by projected gradient steps instead of L-BFGS-B. Losses
 * and gradients come from the model's own forward and backward. */
#ifndef DT_TRAIN_SHARPNESS_H
#define DT_TRAIN_SHARPNESS_H

#include "train/session.h"

typedef struct dt_sharpness_opts {
    double eps;      /* box half-width (relative or absolute), e.g. 1e-3 */
    int absolute;    /* 0: eps * (|w| + 1); 1: eps */
    int steps;       /* ascent steps K */
    int64_t samples; /* training samples in the fixed subset, spread evenly */
} dt_sharpness_opts;

typedef struct dt_sharpness_result {
    double base_loss, max_loss; /* L(w), the largest L(w + d) found */
    double sharpness;           /* 100 (max - base) / (1 + base) */
} dt_sharpness_result;

/* Collective over s->comm (ranks share the subset): the parameters are
 * restored on return; the gradient buffer is overwritten. */
dt_status dt_sharpness_measure(dt_session *s, const dt_sharpness_opts *o,
                               dt_sharpness_result *out);

/* The fixed subset: `count` indices spread evenly over 0..n-1 (count <= n). */
void dt_sharpness_subset(int64_t n, int64_t count, int64_t *idx);

#endif
