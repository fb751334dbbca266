/* Optimizers over the model's flat parameter and gradient buffers.
 *
 * Update rules (those of torch.optim; g is the averaged gradient, p the
 * parameters, wd the weight decay, t the 1-based step):
 *   sgd:   d = g + wd p; with momentum mu: b = mu b + (1 - dampening) d
 *          (b = d on the first step); d = d + mu b if nesterov else b;
 *          p -= lr d
 *   adam:  d = g + wd p (adamw: p *= 1 - lr wd instead);
 *          m = b1 m + (1 - b1) d; v = b2 v + (1 - b2) d^2;
 *          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * State is one or two flat buffers the size of the parameters, so it can be
 * checkpointed (and later sharded) as plain memory. */
#ifndef DT_OPTIM_OPTIM_H
#define DT_OPTIM_OPTIM_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/config.h"

typedef enum dt_optim_kind { DT_OPTIM_SGD = 0, DT_OPTIM_ADAM, DT_OPTIM_ADAMW } dt_optim_kind;

typedef enum dt_sched_kind { DT_SCHED_CONSTANT = 0, DT_SCHED_COSINE, DT_SCHED_STEP } dt_sched_kind;

#define DT_OPTIM_MAX_STATE 2

typedef struct dt_optim {
    dt_optim_kind kind;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    int nesterov;

    dt_sched_kind sched;
    int64_t warmup_steps; /* linear ramp from lr/warmup to lr */
    int64_t step_size;    /* step schedule: multiply by gamma every step_size steps */
    double gamma, min_lr; /* cosine decays to min_lr at total_steps */
    int64_t total_steps;

    const dt_backend *be;
    int64_t n;
    int n_state;
    float *state[DT_OPTIM_MAX_STATE];
    const char *state_names[DT_OPTIM_MAX_STATE];
    int64_t step; /* steps taken */
} dt_optim;

/* Read the `optim` section; errors name the key and the accepted range.
 * `total_steps` is the length of the run, for the cosine schedule. */
dt_status dt_optim_create(dt_cfg *cfg, const dt_backend *be, int64_t n_params,
                          int64_t total_steps, dt_optim **out);
void dt_optim_destroy(dt_optim *o);

/* The rate in force at step `step` (0-based). */
double dt_optim_lr_at(const dt_optim *o, int64_t step);

/* One update of p from g; advances o->step. */
void dt_optim_step(dt_optim *o, float *params, const float *grads);

const char *dt_optim_name(dt_optim_kind k);

#endif
