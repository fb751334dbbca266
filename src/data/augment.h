/* Random image augmentation for training batches.
 *
 * Each sample of shape (C, H, W) may be rotated by an angle drawn from
 * [-rotate_deg, rotate_deg] (bilinear, about the centre), shifted by whole
 * pixels drawn from [-shift, shift] in each direction (the same as padding
 * by `shift` and cropping at a random place), and mirrored left-right with
 * probability 1/2 when hflip is set. Uncovered pixels become 0. Every draw
 * is block `sample` of a counter-based stream keyed by (seed, step), so a
 * sample is transformed the same way whichever rank reads it. */
#ifndef DT_DATA_AUGMENT_H
#define DT_DATA_AUGMENT_H

#include <stdint.h>

#include "core/rng.h"

typedef struct dt_augment {
    int64_t shift;     /* pixels; 0: off */
    int hflip;         /* mirror left-right with probability 1/2 */
    double rotate_deg; /* 0: off */
} dt_augment;

/* 1 when any transform is on. */
int dt_augment_active(const dt_augment *a);

/* Transform one sample x (c, h, w) in place; `tmp` holds c*h*w floats. */
void dt_augment_image(const dt_augment *a, const dt_rng *rng, int64_t sample, float *x,
                      int64_t c, int64_t h, int64_t w, float *tmp);

#endif
