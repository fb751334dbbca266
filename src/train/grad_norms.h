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

#endif
