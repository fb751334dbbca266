/* Gradient norms per layer, for the training records (train.log_grad_norms):
 * they show exploding and vanishing gradients layer by layer. */
#ifndef DT_TRAIN_GRAD_NORMS_H
#define DT_TRAIN_GRAD_NORMS_H

#include <stddef.h>

#include "nn/model.h"

/* Write `"grad_norm":G,"grad_norms":{"layer":g,...}` (the L2 norm of all
 * gradients, then of each layer with parameters) into buf, from the
 * gradients in m->grads. Layers that do not fit in `cap` are left out. */
void dt_grad_norms_json(const dt_model *m, char *buf, size_t cap);

/* The squared gradient norm of each layer (m->n_layers doubles into out)
 * over the part [lo, lo + len) of the flat vector whose gradients are
 * `grads` (grads[0] belongs to parameter lo): one shard's share, which
 * summed over the shards gives the whole. */
void dt_grad_norms_layer_sumsq(const dt_model *m, const float *grads, int64_t lo, int64_t len,
                               double *out);

/* As dt_grad_norms_json, from squared layer norms already computed. */
void dt_grad_norms_json_from(const dt_model *m, const double *layer_sumsq, char *buf,
                             size_t cap);

#endif
