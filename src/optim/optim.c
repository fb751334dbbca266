/* Optimizer configuration, learning-rate schedules, gradient clipping and
 * the update step over parameter groups. The update rules are written out
 * in optim.h; the element-wise work is done by backend ops. */
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_optim_names[] = {"sgd",     "adam", "adamw", "adagrad", "adadelta",
                                            "rmsprop", "lars", "lamb",  NULL};
static const char *const g_sched_names[] = {"constant",    "cosine", "step", "multistep",
                                            "exponential", "linear", NULL};

const char *dt_optim_name(dt_optim_kind k) { return g_optim_names[k]; }

/* ---- reading the config ---- */

static dt_status read_milestones(dt_cfg *s, dt_optim *o)
{
    int n = DT_OPTIM_MAX_MILESTONES;
    DT_TRY(dt_cfg_int_list(s, "milestones", o->milestones, &n));
    o->n_milestones = n;
    if (n == 0)
        return dt_cfg_error(s, "a list 'milestones' of increasing steps for kind multistep",
                            "none");
    for (int i = 0; i < n; i++)
        if (o->milestones[i] < 1 || (i && o->milestones[i] <= o->milestones[i - 1]))
            return dt_cfg_error(dt_cfg_get(s, "milestones"), "increasing steps >= 1",
                                "%lld at position %d", (long long)o->milestones[i], i);
    return DT_OK;
}

static dt_status read_schedule(dt_cfg *cfg, dt_optim *o)
{
    dt_cfg *s = dt_cfg_get(cfg, "schedule");
    int kind = 0;
    if (s && s->kind == DT_CFG_SCALAR) { /* schedule: cosine */
        DT_TRY(dt_cfg_enum(cfg, "schedule", "constant", g_sched_names, &kind));
        s = NULL;
    } else {
        DT_TRY(dt_cfg_enum(s, "kind", "constant", g_sched_names, &kind));
    }
    o->sched = (dt_sched_kind)kind;
    o->step_size = 1000;
    o->restart_mult = 1.0;
    DT_TRY(dt_cfg_int(s, "warmup_steps", 0, 0, INT64_MAX, &o->warmup_steps));
    switch (o->sched) {
    case DT_SCHED_CONSTANT: break;
    case DT_SCHED_STEP:
        DT_TRY(dt_cfg_int(s, "step_size", 1000, 1, INT64_MAX, &o->step_size));
        DT_TRY(dt_cfg_float(s, "gamma", 0.1, 0.0, 1.0, &o->gamma));
        break;
    case DT_SCHED_MULTISTEP:
        DT_TRY(read_milestones(s, o));
        DT_TRY(dt_cfg_float(s, "gamma", 0.1, 0.0, 1.0, &o->gamma));
        break;
    case DT_SCHED_EXPONENTIAL:
        DT_TRY(dt_cfg_float(s, "gamma", 0.99, 0.0, 1.0, &o->gamma));
        break;
    case DT_SCHED_COSINE:
        DT_TRY(dt_cfg_int(s, "restart_steps", 0, 0, INT64_MAX, &o->restart_steps));
        DT_TRY(dt_cfg_float(s, "restart_mult", 1.0, 1.0, 1e3, &o->restart_mult));
        DT_TRY(dt_cfg_float(s, "min_lr", 0.0, 0.0, 1e6, &o->min_lr));
        break;
    case DT_SCHED_LINEAR:
        DT_TRY(dt_cfg_float(s, "min_lr", 0.0, 0.0, 1e6, &o->min_lr));
        break;
    }
    return DT_OK;
}

static double default_lr(dt_optim_kind k)
{
    switch (k) {
    case DT_OPTIM_SGD:
    case DT_OPTIM_ADAGRAD:
    case DT_OPTIM_RMSPROP: return 0.01;
    case DT_OPTIM_ADADELTA: return 1.0;
    case DT_OPTIM_LARS: return 0.1;
    default: return 0.001;
    }
}

static dt_status read_sgd(dt_cfg *cfg, dt_optim *o)
{
    DT_TRY(dt_cfg_float(cfg, "momentum", 0.0, 0.0, 1.0, &o->momentum));
    DT_TRY(dt_cfg_float(cfg, "dampening", 0.0, 0.0, 1.0, &o->dampening));
    DT_TRY(dt_cfg_bool(cfg, "nesterov", 0, &o->nesterov));
    if (o->nesterov && (o->momentum <= 0.0 || o->dampening != 0.0))
        return dt_cfg_error(dt_cfg_get(cfg, "nesterov"), "momentum > 0 and dampening 0 with "
                            "nesterov", "momentum %g, dampening %g", o->momentum, o->dampening);
    return DT_OK;
}

/* A decay rate in [0, 1): 1 itself would never forget (and breaks the
 * bias correction). */
static dt_status read_beta(dt_cfg *cfg, const char *key, double dflt, double *out)
{
    DT_TRY(dt_cfg_float(cfg, key, dflt, 0.0, 1.0, out));
    if (*out >= 1.0)
        return dt_cfg_error(dt_cfg_get(cfg, key), "a number in [0, 1)", "%g", *out);
    return DT_OK;
}

static dt_status read_betas(dt_cfg *cfg, dt_optim *o, double eps)
{
    DT_TRY(read_beta(cfg, "beta1", 0.9, &o->beta1));
    DT_TRY(read_beta(cfg, "beta2", 0.999, &o->beta2));
    return dt_cfg_float(cfg, "eps", eps, 0.0, 1.0, &o->eps);
}

/* The keys of each kind; keys of other kinds stay unread, so the
 * unknown-key check reports them instead of their being ignored. */
static dt_status read_kind_keys(dt_cfg *cfg, dt_optim *o)
{
    switch (o->kind) {
    case DT_OPTIM_SGD: return read_sgd(cfg, o);
    case DT_OPTIM_ADAM:
    case DT_OPTIM_ADAMW:
        DT_TRY(dt_cfg_bool(cfg, "amsgrad", 0, &o->amsgrad));
        return read_betas(cfg, o, 1e-8);
    case DT_OPTIM_LAMB: return read_betas(cfg, o, 1e-6);
    case DT_OPTIM_ADAGRAD:
        DT_TRY(dt_cfg_float(cfg, "lr_decay", 0.0, 0.0, 1e6, &o->lr_decay));
        DT_TRY(dt_cfg_float(cfg, "initial_accumulator", 0.0, 0.0, 1e6,
                            &o->initial_accumulator));
        return dt_cfg_float(cfg, "eps", 1e-10, 0.0, 1.0, &o->eps);
    case DT_OPTIM_ADADELTA:
        DT_TRY(dt_cfg_float(cfg, "rho", 0.9, 0.0, 1.0, &o->rho));
        return dt_cfg_float(cfg, "eps", 1e-6, 1e-30, 1.0, &o->eps);
    case DT_OPTIM_RMSPROP:
        DT_TRY(dt_cfg_float(cfg, "alpha", 0.99, 0.0, 1.0, &o->alpha));
        DT_TRY(dt_cfg_float(cfg, "eps", 1e-8, 0.0, 1.0, &o->eps));
        DT_TRY(dt_cfg_bool(cfg, "centered", 0, &o->centered));
        return dt_cfg_float(cfg, "momentum", 0.0, 0.0, 1.0, &o->momentum);
    case DT_OPTIM_LARS:
        DT_TRY(dt_cfg_float(cfg, "momentum", 0.9, 0.0, 1.0, &o->momentum));
        DT_TRY(dt_cfg_float(cfg, "trust_coefficient", 0.001, 0.0, 1e6, &o->trust_coefficient));
        return dt_cfg_float(cfg, "eps", 1e-9, 0.0, 1.0, &o->eps);
    }
    return DT_OK;
}

static dt_status read_common(dt_cfg *cfg, dt_optim *o)
{
    int kind;
    DT_TRY(dt_cfg_enum(cfg, "kind", "adam", g_optim_names, &kind));
    o->kind = (dt_optim_kind)kind;
    DT_TRY(dt_cfg_float(cfg, "lr", default_lr(o->kind), 0.0, 1e6, &o->lr));
    DT_TRY(dt_cfg_float(cfg, "weight_decay", 0.0, 0.0, 1e6, &o->weight_decay));
    DT_TRY(dt_cfg_bool(cfg, "no_decay_bias_norm", 0, &o->no_decay_bias_norm));
    DT_TRY(dt_cfg_float(cfg, "clip_grad_norm", 0.0, 0.0, 1e12, &o->clip_grad_norm));
    DT_TRY(dt_cfg_int(cfg, "lr_reference_batch", 0, 0, INT64_MAX, &o->lr_reference_batch));
    DT_TRY(dt_cfg_bool(cfg, "shard", 0, &o->shard));
    DT_TRY(read_kind_keys(cfg, o));
    return read_schedule(cfg, o);
}

/* ---- state buffers ---- */

static void add_state(dt_optim *o, const char *name, float init)
{
    const int64_t n = o->len ? o->len : 1;
    o->state_names[o->n_state] = name;
    o->state[o->n_state] = o->be->alloc((size_t)n * sizeof(float));
    if (init != 0.0f) o->be->fill(o->state[o->n_state], init, n);
    o->n_state++;
}

static void alloc_state(dt_optim *o)
{
    switch (o->kind) {
    case DT_OPTIM_SGD:
    case DT_OPTIM_LARS:
        if (o->momentum != 0.0) add_state(o, "momentum", 0.0f);
        break;
    case DT_OPTIM_ADAM:
    case DT_OPTIM_ADAMW:
    case DT_OPTIM_LAMB:
        add_state(o, "exp_avg", 0.0f);
        add_state(o, "exp_avg_sq", 0.0f);
        if (o->amsgrad) add_state(o, "max_exp_avg_sq", 0.0f);
        break;
    case DT_OPTIM_ADAGRAD: add_state(o, "sum", (float)o->initial_accumulator); break;
    case DT_OPTIM_ADADELTA:
        add_state(o, "square_avg", 0.0f);
        add_state(o, "acc_delta", 0.0f);
        break;
    case DT_OPTIM_RMSPROP:
        add_state(o, "square_avg", 0.0f);
        if (o->momentum != 0.0) add_state(o, "momentum_buffer", 0.0f);
        if (o->centered) add_state(o, "grad_avg", 0.0f);
        break;
    }
}

dt_status dt_optim_create(dt_cfg *cfg, const dt_backend *be, int64_t n_params,
                          int64_t total_steps, dt_optim **out)
{
    dt_optim *o = dt_calloc(1, sizeof *o);
    *out = NULL;
    const dt_status s = read_common(cfg, o);
    if (s != DT_OK) {
        free(o);
        return s;
    }
    o->be = be;
    o->n = n_params;
    o->lo = 0;
    o->len = n_params;
    o->total_steps = total_steps;
    o->lr_scale = 1.0;
    o->last_grad_norm = -1.0;
    /* Sharded, the state is allocated by dt_optim_set_shard, for the shard
     * only: a full copy first would be the very peak sharding avoids. */
    if (!o->shard) alloc_state(o);
    else o->len = -1; /* no state until dt_optim_set_shard */
    const dt_optim_group all = {.offset = 0, .n = n_params, .no_decay = 0};
    dt_optim_set_groups(o, &all, 1);
    *out = o;
    return DT_OK;
}

void dt_optim_destroy(dt_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->n_state; i++) o->be->free(o->state[i]);
    if (o->scratch) o->be->free(o->scratch);
    free(o->groups);
    free(o->norms);
    free(o);
}

/* Scratch for lars and lamb: one tensor's direction, or, sharded, every
 * direction of the shard (lamb computes them all before the norms are
 * summed over the ranks). */
static int64_t scratch_floats(const dt_optim *o)
{
    int64_t most = 1;
    for (int i = 0; i < o->n_groups; i++) most = o->groups[i].n > most ? o->groups[i].n : most;
    if (o->sum && o->kind == DT_OPTIM_LAMB) most = o->len > 1 ? o->len : 1;
    if (o->sum && o->kind == DT_OPTIM_LARS && most > o->len) most = o->len > 1 ? o->len : 1;
    return most;
}

static void alloc_scratch(dt_optim *o)
{
    if (o->scratch) o->be->free(o->scratch);
    o->scratch = NULL;
    free(o->norms);
    o->norms = NULL;
    if (o->kind != DT_OPTIM_LARS && o->kind != DT_OPTIM_LAMB) return;
    o->scratch = o->be->alloc((size_t)scratch_floats(o) * sizeof(float));
    if (o->sum) o->norms = dt_calloc((size_t)(2 * o->n_groups + 1), sizeof *o->norms);
}

void dt_optim_shard_bounds(int64_t n, int world, int64_t *bounds)
{
    const int64_t q = n / world, rem = n % world;
    for (int r = 0; r < world; r++) {
        const int64_t at = q * r + rem * r / world; /* floor(r n / world) without overflow */
        bounds[r] = at - at % DT_SHARD_ALIGN;
    }
    bounds[world] = n;
}

void dt_optim_set_shard(dt_optim *o, int64_t lo, int64_t len, dt_optim_sum_fn sum, void *ctx)
{
    for (int i = 0; i < o->n_state; i++) o->be->free(o->state[i]);
    o->n_state = 0;
    o->lo = lo;
    o->len = len;
    o->sum = sum;
    o->sum_ctx = ctx;
    alloc_state(o);
    alloc_scratch(o);
}

int64_t dt_optim_state_bytes(const dt_optim *o)
{
    return (int64_t)o->n_state * o->len * (int64_t)sizeof(float);
}

int64_t dt_optim_scratch_bytes(const dt_optim *o)
{
    return o->scratch ? scratch_floats(o) * (int64_t)sizeof(float) : 0;
}

void dt_optim_set_groups(dt_optim *o, const dt_optim_group *groups, int n)
{
    free(o->groups);
    o->groups = dt_calloc((size_t)(n ? n : 1), sizeof *groups);
    memcpy(o->groups, groups, (size_t)n * sizeof *groups);
    o->n_groups = n;
    alloc_scratch(o);
}

void dt_optim_set_batch(dt_optim *o, int64_t global_batch)
{
    o->lr_scale = o->lr_reference_batch ? (double)global_batch / (double)o->lr_reference_batch
                                        : 1.0;
}

/* ---- schedules ---- */

/* Cosine factor at post-warm-up step j: over the run, or within cycles of
 * restart_steps that grow by restart_mult. */
static double cosine_factor(const dt_optim *o, int64_t j)
{
    double pos = (double)j, len = (double)(o->total_steps - o->warmup_steps);
    if (o->restart_steps > 0) {
        len = (double)o->restart_steps;
        while (pos >= len) {
            pos -= len;
            len *= o->restart_mult;
        }
    }
    /* No steps after the warm-up (a run shorter than it): nothing decays. */
    const double t = len > 0 ? pos / len : 0.0;
    return t >= 1.0 ? 0.0 : 0.5 * (1.0 + cos(M_PI * t));
}

static double schedule_at(const dt_optim *o, int64_t j)
{
    const double span = (double)(o->total_steps - o->warmup_steps);
    switch (o->sched) {
    case DT_SCHED_CONSTANT: return o->lr;
    case DT_SCHED_STEP: return o->lr * pow(o->gamma, (double)(j / o->step_size));
    case DT_SCHED_MULTISTEP: {
        int k = 0;
        while (k < o->n_milestones && o->milestones[k] <= j) k++;
        return o->lr * pow(o->gamma, (double)k);
    }
    case DT_SCHED_EXPONENTIAL: return o->lr * pow(o->gamma, (double)j);
    case DT_SCHED_COSINE: return o->min_lr + (o->lr - o->min_lr) * cosine_factor(o, j);
    case DT_SCHED_LINEAR: {
        const double t = span > 0 ? fmin(1.0, (double)j / span) : 0.0; /* as cosine */
        return o->lr + (o->min_lr - o->lr) * t;
    }
    }
    return o->lr;
}

double dt_optim_lr_at(const dt_optim *o, int64_t step)
{
    const int64_t j = step > o->warmup_steps ? step - o->warmup_steps : 0;
    double lr = schedule_at(o, j);
    if (step < o->warmup_steps) lr *= (double)(step + 1) / (double)o->warmup_steps;
    return lr * o->lr_scale;
}

/* ---- clipping and the update ---- */

/* Sum over the ranks through the hook (nothing to do unsharded); the
 * first failure is kept for dt_optim_step to return. */
static void sum_over_ranks(dt_optim *o, double *buf, int64_t n)
{
    if (!o->sum) return;
    const dt_status s = o->sum(o->sum_ctx, buf, n);
    if (s != DT_OK && o->sum_status == DT_OK) o->sum_status = s;
}

double dt_optim_clip_grads(dt_optim *o, float *grads)
{
    double sq = o->be->sumsq(grads, o->len);
    sum_over_ranks(o, &sq, 1);
    const double norm = sqrt(sq);
    o->last_grad_norm = norm;
    if (o->clip_grad_norm > 0.0) {
        const double coef = o->clip_grad_norm / (norm + 1e-6);
        if (coef < 1.0) o->be->scale(grads, (float)coef, o->len);
    }
    return norm;
}

/* One group's view: its slices of the parameters, gradients and state. */
typedef struct group_view {
    float *p;
    const float *g;
    float *st[DT_OPTIM_MAX_STATE];
    int64_t n;
    float wd;
    int adapt; /* lars, lamb: apply the trust ratio */
} group_view;

static float *state_at(const dt_optim *o, const group_view *v, const char *name)
{
    for (int i = 0; i < o->n_state; i++)
        if (strcmp(o->state_names[i], name) == 0) return v->st[i];
    return NULL;
}

/* r = |p| / |u| (times eta and with wd in the denominator for lars); 1 if
 * either norm is 0. */
static double ratio_of(const dt_optim *o, const group_view *v, double pn, double un)
{
    if (!v->adapt || pn == 0.0 || un == 0.0) return 1.0;
    if (o->kind == DT_OPTIM_LAMB) return pn / un;
    return o->trust_coefficient * pn / (un + (double)v->wd * pn + o->eps);
}

static double trust_ratio(const dt_optim *o, const group_view *v, const float *u)
{
    return ratio_of(o, v, sqrt(o->be->sumsq(v->p, v->n)), sqrt(o->be->sumsq(u, v->n)));
}

/* The lars update with the trust ratio r already known. */
static void apply_lars(dt_optim *o, const group_view *v, float lr, float r)
{
    o->be->copy(o->scratch, v->g, (size_t)v->n * sizeof(float));
    o->be->axpy(o->scratch, v->p, v->wd, v->n);
    o->be->scale(o->scratch, r, v->n);
    const dt_sgd_args a = {.lr = lr, .momentum = (float)o->momentum, .first = o->step == 1};
    o->be->sgd_step(v->p, o->scratch, o->n_state ? v->st[0] : NULL, v->n, &a);
}

static void step_lars(dt_optim *o, const group_view *v, float lr)
{
    apply_lars(o, v, lr, (float)trust_ratio(o, v, v->g));
}

static void step_lamb(dt_optim *o, const group_view *v, float lr)
{
    const dt_adam_args a = {.beta1 = (float)o->beta1, .beta2 = (float)o->beta2,
                            .eps = (float)o->eps, .weight_decay = v->wd, .step = o->step};
    o->be->lamb_direction(v->p, v->g, v->st[0], v->st[1], o->scratch, v->n, &a);
    const double r = trust_ratio(o, v, o->scratch);
    o->be->axpy(v->p, o->scratch, (float)(-(double)lr * r), v->n);
}

static void step_adam(dt_optim *o, const group_view *v, float lr)
{
    const dt_adam_args a = {.lr = lr, .beta1 = (float)o->beta1, .beta2 = (float)o->beta2,
                            .eps = (float)o->eps, .weight_decay = v->wd,
                            .decoupled = o->kind == DT_OPTIM_ADAMW, .step = o->step};
    if (o->amsgrad)
        o->be->amsgrad_step(v->p, v->g, v->st[0], v->st[1], v->st[2], v->n, &a);
    else
        o->be->adam_step(v->p, v->g, v->st[0], v->st[1], v->n, &a);
}

static void step_group(dt_optim *o, const group_view *v, double lr)
{
    const dt_backend *be = o->be;
    switch (o->kind) {
    case DT_OPTIM_SGD: {
        const dt_sgd_args a = {.lr = (float)lr, .momentum = (float)o->momentum,
                               .dampening = (float)o->dampening, .weight_decay = v->wd,
                               .nesterov = o->nesterov, .first = o->step == 1};
        be->sgd_step(v->p, v->g, o->n_state ? v->st[0] : NULL, v->n, &a);
        break;
    }
    case DT_OPTIM_ADAM:
    case DT_OPTIM_ADAMW: step_adam(o, v, (float)lr); break;
    case DT_OPTIM_ADAGRAD: {
        const dt_adagrad_args a = {
            .lr = (float)(lr / (1.0 + (double)(o->step - 1) * o->lr_decay)),
            .eps = (float)o->eps, .weight_decay = v->wd};
        be->adagrad_step(v->p, v->g, v->st[0], v->n, &a);
        break;
    }
    case DT_OPTIM_ADADELTA: {
        const dt_adadelta_args a = {.lr = (float)lr, .rho = (float)o->rho,
                                    .eps = (float)o->eps, .weight_decay = v->wd};
        be->adadelta_step(v->p, v->g, v->st[0], v->st[1], v->n, &a);
        break;
    }
    case DT_OPTIM_RMSPROP: {
        const dt_rmsprop_args a = {.lr = (float)lr, .alpha = (float)o->alpha,
                                   .eps = (float)o->eps, .weight_decay = v->wd,
                                   .momentum = (float)o->momentum};
        be->rmsprop_step(v->p, v->g, v->st[0], state_at(o, v, "momentum_buffer"),
                         state_at(o, v, "grad_avg"), v->n, &a);
        break;
    }
    case DT_OPTIM_LARS: step_lars(o, v, (float)lr); break;
    case DT_OPTIM_LAMB: step_lamb(o, v, (float)lr); break;
    }
}

/* Group k's piece inside the optimizer's range [lo, lo + len): its slices
 * of the parameters (indexed over the whole vector), of the gradients and
 * the state (indexed from lo); v->n = 0 when the group lies outside. */
static group_view piece_of(const dt_optim *o, int k, float *params, const float *grads)
{
    const dt_optim_group *gr = &o->groups[k];
    const int64_t a = gr->offset > o->lo ? gr->offset : o->lo;
    const int64_t e = gr->offset + gr->n < o->lo + o->len ? gr->offset + gr->n : o->lo + o->len;
    const int excluded = o->no_decay_bias_norm && gr->no_decay;
    group_view v = {.p = params + a, .g = grads + (a - o->lo), .n = e > a ? e - a : 0,
                    .wd = excluded ? 0.0f : (float)o->weight_decay, .adapt = !excluded};
    for (int i = 0; i < o->n_state; i++) v.st[i] = o->state[i] + (a - o->lo);
    return v;
}

/* Sharded lars and lamb: first every piece's squared norms (lamb after
 * computing its direction into the scratch at the piece's place), summed
 * over the ranks in one call, then every piece's update with the trust
 * ratio of its whole tensor. */
static void step_sharded_trust(dt_optim *o, float *params, const float *grads, double lr)
{
    const dt_adam_args a = {.beta1 = (float)o->beta1, .beta2 = (float)o->beta2,
                            .eps = (float)o->eps, .step = o->step};
    for (int k = 0; k < o->n_groups; k++) {
        group_view v = piece_of(o, k, params, grads);
        o->norms[2 * k] = o->norms[2 * k + 1] = 0.0;
        if (!v.n) continue;
        const float *u = v.g;
        if (o->kind == DT_OPTIM_LAMB) {
            float *dir = o->scratch + (v.p - params - o->lo);
            dt_adam_args ak = a;
            ak.weight_decay = v.wd;
            o->be->lamb_direction(v.p, v.g, v.st[0], v.st[1], dir, v.n, &ak);
            u = dir;
        }
        o->norms[2 * k] = o->be->sumsq(v.p, v.n);
        o->norms[2 * k + 1] = o->be->sumsq(u, v.n);
    }
    sum_over_ranks(o, o->norms, 2 * (int64_t)o->n_groups);
    for (int k = 0; k < o->n_groups; k++) {
        group_view v = piece_of(o, k, params, grads);
        if (!v.n) continue;
        const double r = ratio_of(o, &v, sqrt(o->norms[2 * k]), sqrt(o->norms[2 * k + 1]));
        if (o->kind == DT_OPTIM_LARS) {
            apply_lars(o, &v, (float)lr, (float)r);
        } else {
            const float *dir = o->scratch + (v.p - params - o->lo);
            o->be->axpy(v.p, dir, (float)(-lr * r), v.n);
        }
    }
}

dt_status dt_optim_step(dt_optim *o, float *params, const float *grads)
{
    DT_ASSERT(o->len >= 0); /* optim.shard: dt_optim_set_shard first */
    const double lr = dt_optim_lr_at(o, o->step);
    o->step++;
    const int trust = o->kind == DT_OPTIM_LARS || o->kind == DT_OPTIM_LAMB;
    if (o->sum && trust) {
        step_sharded_trust(o, params, grads, lr);
    } else {
        for (int k = 0; k < o->n_groups; k++) {
            group_view v = piece_of(o, k, params, grads);
            if (v.n > 0) step_group(o, &v, lr);
        }
    }
    const dt_status s = o->sum_status;
    o->sum_status = DT_OK;
    return s;
}
