/* Optimizers over the model's flat parameter and gradient buffers.
 *
 * Update rules (those of torch.optim unless said otherwise; g is the
 * averaged gradient, p the parameters, wd the weight decay, t the 1-based
 * step, lr the rate in force at step t; products are element-wise):
 *   sgd:      d = g + wd p; with momentum mu: b = mu b + (1 - dampening) d
 *             (b = d on the first step); d = d + mu b if nesterov else b;
 *             p -= lr d
 *   adagrad:  d = g + wd p; s += d^2; p -= lr / (1 + (t - 1) lr_decay) * d /
 *             (sqrt(s) + eps); s starts at initial_accumulator
 *   adadelta: d = g + wd p; s = rho s + (1 - rho) d^2;
 *             x = sqrt(a + eps) / sqrt(s + eps) * d; a = rho a + (1 - rho) x^2;
 *             p -= lr x
 *   rmsprop:  d = g + wd p; s = alpha s + (1 - alpha) d^2; centered:
 *             c = alpha c + (1 - alpha) d and r = s - c^2, else r = s;
 *             x = d / (sqrt(r) + eps); with momentum mu: b = mu b + x, p -= lr b;
 *             else p -= lr x
 *   adam:     d = g + wd p (adamw: p *= 1 - lr wd instead, d = g);
 *             m = b1 m + (1 - b1) d; v = b2 v + (1 - b2) d^2;
 *             amsgrad: vmax = max(vmax, v), used below in place of v;
 *             p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   lars:     per parameter tensor (You et al. 2017, "Large batch training of
 *             convolutional networks"): d = g + wd p;
 *             r = eta |p| / (|g| + wd |p| + eps) (r = 1 when |p| or |g| is 0);
 *             then SGD with momentum on r d: b = mu b + r d; p -= lr b
 *   lamb:     per parameter tensor (You et al. 2019, "Large batch optimization
 *             for deep learning: training BERT in 76 minutes"): m, v as adam
 *             on g; u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd p;
 *             r = |p| / |u| (r = 1 when either is 0); p -= lr r u
 * |x| is the Euclidean norm of one parameter tensor. With
 * no_decay_bias_norm, tensors marked no_decay (biases, normalization) get
 * wd = 0 and, under lars and lamb, r = 1.
 *
 * Gradient clipping by global norm (dt_optim_clip_grads): with N the norm
 * over all parameters, g *= c / (N + 1e-6) when that factor is below 1, as
 * torch.nn.utils.clip_grad_norm_.
 *
 * Schedules give the rate at 0-based step k. With W warm-up steps and
 * T the run's total steps, j = max(0, k - W) counts steps after warm-up and
 * S = T - W; with base rate lr (times batch / lr_reference_batch under the
 * linear scaling rule, which scales the whole schedule):
 *   constant: lr;  step: lr gamma^floor(j / step_size);
 *   multistep: lr gamma^(milestones <= j);  exponential: lr gamma^j;
 *   cosine: min_lr + (lr - min_lr) (1 + cos(pi j / S)) / 2, held at min_lr
 *     after S; with restart_steps R: the same over cycles of R steps
 *     (each cycle restart_mult times longer than the previous);
 *   linear: lr + (min_lr - lr) min(1, j / S);
 * and during warm-up (k < W) the rate at j = 0 times (k + 1) / W.
 *
 * State is a few flat buffers the size of the parameters, named as in
 * torch.optim, so it can be checkpointed and sharded as plain memory.
 *
 * Sharding (optim.shard, ZeRO stage 1; docs/scaling.md): with
 * dt_optim_set_shard the state covers only params[lo, lo + len), this
 * rank's shard, and dt_optim_step updates only that range. Element-wise
 * rules need nothing else. What needs the whole parameter vector is summed
 * over the ranks through the `sum` hook the caller supplies (optim itself
 * needs no MPI): the global norm for clipping, and for lars and lamb the
 * squared norms of every tensor (weights, gradient or update direction),
 * of which a shard holds a piece when a tensor straddles a boundary. The
 * shard rule (dt_optim_shard_bounds) is fixed, so every rank computes
 * every rank's shard. */
#ifndef DT_OPTIM_OPTIM_H
#define DT_OPTIM_OPTIM_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/config.h"

typedef enum dt_optim_kind {
    DT_OPTIM_SGD = 0,
    DT_OPTIM_ADAM,
    DT_OPTIM_ADAMW,
    DT_OPTIM_ADAGRAD,
    DT_OPTIM_ADADELTA,
    DT_OPTIM_RMSPROP,
    DT_OPTIM_LARS,
    DT_OPTIM_LAMB
} dt_optim_kind;

typedef enum dt_sched_kind {
    DT_SCHED_CONSTANT = 0,
    DT_SCHED_COSINE,
    DT_SCHED_STEP,
    DT_SCHED_MULTISTEP,
    DT_SCHED_EXPONENTIAL,
    DT_SCHED_LINEAR
} dt_sched_kind;

#define DT_OPTIM_MAX_STATE 3

/* Sum n doubles (host memory) in place over the ranks that share the
 * parameters; a sharded optimizer's only use of the communicator. */
typedef dt_status (*dt_optim_sum_fn)(void *ctx, double *buf, int64_t n);

/* Shard boundaries are multiples of this many floats (64 bytes). */
#define DT_SHARD_ALIGN 16
#define DT_OPTIM_MAX_MILESTONES 32

/* A run of parameters updated together (one tensor, for the layer-wise
 * trust ratios of lars and lamb). */
typedef struct dt_optim_group {
    int64_t offset, n;
    int no_decay; /* a bias or normalization parameter */
} dt_optim_group;

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

    /* Added optimizers, schedules, groups and clipping. */
    int amsgrad, centered, no_decay_bias_norm;
    double alpha, rho, lr_decay, initial_accumulator, trust_coefficient;
    double clip_grad_norm;     /* 0: off */
    int64_t lr_reference_batch; /* 0: off */
    double lr_scale;           /* batch / lr_reference_batch, or 1 */
    int64_t milestones[DT_OPTIM_MAX_MILESTONES];
    int n_milestones;
    int64_t restart_steps;
    double restart_mult;
    dt_optim_group *groups; /* default: one group over all parameters */
    int n_groups;
    float *scratch; /* lars, lamb: one tensor's direction */
    double last_grad_norm; /* from the last dt_optim_clip_grads, or -1 */

    /* Sharding: the state (and the update) cover params[lo, lo + len);
     * lo = 0, len = n unless dt_optim_set_shard was called. */
    int shard; /* optim.shard was asked for */
    int64_t lo, len;
    dt_optim_sum_fn sum; /* sums over the ranks sharing the parameters */
    void *sum_ctx;
    double *norms;         /* sharded lars, lamb: 2 squared norms per group */
    dt_status sum_status;  /* the first failed sum since the last step */
} dt_optim;

/* Read the `optim` section; errors name the key and the accepted range.
 * `total_steps` is the length of the run, for the cosine schedule. */
dt_status dt_optim_create(dt_cfg *cfg, const dt_backend *be, int64_t n_params,
                          int64_t total_steps, dt_optim **out);
void dt_optim_destroy(dt_optim *o);

/* Replace the single default group by `n` groups (copied) that tile the
 * parameters, e.g. one per parameter tensor. */
void dt_optim_set_groups(dt_optim *o, const dt_optim_group *groups, int n);

/* The shard rule: rank r of `world` holds [bounds[r], bounds[r + 1]) of n
 * parameters, with bounds[r] = floor(r n / world) rounded down to a
 * multiple of DT_SHARD_ALIGN and bounds[world] = n. Every shard starts on
 * a 64-byte boundary and holds n / world floats give or take
 * DT_SHARD_ALIGN (shards of a vector smaller than world x DT_SHARD_ALIGN
 * may be empty). `bounds` has world + 1 entries. */
void dt_optim_shard_bounds(int64_t n, int world, int64_t *bounds);

/* Keep state for params[lo, lo + len) only (reallocated and reset: call
 * before the first step or a checkpoint load); `sum` sums over the ranks
 * of the shard group (NULL on one rank). With optim.shard, create
 * allocates no state and this call is required before the first step (the
 * session makes it). */
void dt_optim_set_shard(dt_optim *o, int64_t lo, int64_t len, dt_optim_sum_fn sum, void *ctx);

/* Bytes of optimizer state and of scratch (lars, lamb) this rank holds. */
int64_t dt_optim_state_bytes(const dt_optim *o);
int64_t dt_optim_scratch_bytes(const dt_optim *o);

/* The global batch, for the linear scaling rule (optim.lr_reference_batch). */
void dt_optim_set_batch(dt_optim *o, int64_t global_batch);

/* The rate in force at step `step` (0-based). */
double dt_optim_lr_at(const dt_optim *o, int64_t step);

/* Clip the averaged gradients to optim.clip_grad_norm by their global norm
 * (no change when it is 0 or the norm is below it). Returns the norm before
 * clipping. Call it on every rank after the all-reduce: identical inputs
 * give identical results. `grads` covers the optimizer's range (len
 * floats); sharded, the norm is summed over the shards (a failed sum is
 * returned by the next dt_optim_step). */
double dt_optim_clip_grads(dt_optim *o, float *grads);

/* One update of params[lo, lo + len) from grads (len floats: the gradient
 * of that range; unsharded, all of them); `params` is the whole vector.
 * Advances o->step. Fails only when a sum over the ranks failed. */
dt_status dt_optim_step(dt_optim *o, float *params, const float *grads);

const char *dt_optim_name(dt_optim_kind k);

#endif
