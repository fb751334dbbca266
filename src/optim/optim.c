/* Optimizer configuration, learning-rate schedules and the update step. */
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>

static const char *const g_optim_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const g_sched_names[] = {"constant", "cosine", "step", NULL};

const char *dt_optim_name(dt_optim_kind k) { return g_optim_names[k]; }

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
    DT_TRY(dt_cfg_int(s, "warmup_steps", 0, 0, INT64_MAX, &o->warmup_steps));
    DT_TRY(dt_cfg_int(s, "step_size", 1000, 1, INT64_MAX, &o->step_size));
    DT_TRY(dt_cfg_float(s, "gamma", 0.1, 0.0, 1.0, &o->gamma));
    DT_TRY(dt_cfg_float(s, "min_lr", 0.0, 0.0, 1e6, &o->min_lr));
    return DT_OK;
}

dt_status dt_optim_create(dt_cfg *cfg, const dt_backend *be, int64_t n_params,
                          int64_t total_steps, dt_optim **out)
{
    int kind;
    dt_optim *o = dt_calloc(1, sizeof *o);
    dt_status s;
    *out = NULL;
#define READ(expr)                                                             \
    if ((s = (expr)) != DT_OK) goto fail
    READ(dt_cfg_enum(cfg, "kind", "adam", g_optim_names, &kind));
    o->kind = (dt_optim_kind)kind;
    READ(dt_cfg_float(cfg, "lr", kind == DT_OPTIM_SGD ? 0.01 : 0.001, 0.0, 1e6, &o->lr));
    READ(dt_cfg_float(cfg, "weight_decay", 0.0, 0.0, 1e6, &o->weight_decay));
    if (o->kind == DT_OPTIM_SGD) {
        READ(dt_cfg_float(cfg, "momentum", 0.0, 0.0, 1.0, &o->momentum));
        READ(dt_cfg_float(cfg, "dampening", 0.0, 0.0, 1.0, &o->dampening));
        READ(dt_cfg_bool(cfg, "nesterov", 0, &o->nesterov));
        if (o->nesterov && (o->momentum <= 0.0 || o->dampening != 0.0)) {
            s = dt_cfg_error(dt_cfg_get(cfg, "nesterov"),
                             "momentum > 0 and dampening 0 with nesterov", "momentum %g, "
                             "dampening %g", o->momentum, o->dampening);
            goto fail;
        }
    } else {
        READ(dt_cfg_float(cfg, "beta1", 0.9, 0.0, 0.999999999, &o->beta1));
        READ(dt_cfg_float(cfg, "beta2", 0.999, 0.0, 0.999999999, &o->beta2));
        READ(dt_cfg_float(cfg, "eps", 1e-8, 0.0, 1.0, &o->eps));
    }
    READ(read_schedule(cfg, o));
#undef READ

    o->be = be;
    o->n = n_params;
    o->total_steps = total_steps;
    o->n_state = o->kind == DT_OPTIM_SGD ? (o->momentum != 0.0) : 2;
    o->state_names[0] = o->kind == DT_OPTIM_SGD ? "momentum" : "exp_avg";
    o->state_names[1] = "exp_avg_sq";
    for (int i = 0; i < o->n_state; i++)
        o->state[i] = be->alloc((size_t)(n_params ? n_params : 1) * sizeof(float));
    *out = o;
    return DT_OK;
fail:
    free(o);
    return s;
}

void dt_optim_destroy(dt_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->n_state; i++) o->be->free(o->state[i]);
    free(o);
}

double dt_optim_lr_at(const dt_optim *o, int64_t step)
{
    double lr = o->lr;
    switch (o->sched) {
    case DT_SCHED_CONSTANT: break;
    case DT_SCHED_STEP: lr *= pow(o->gamma, (double)(step / o->step_size)); break;
    case DT_SCHED_COSINE: {
        const int64_t span = o->total_steps - o->warmup_steps;
        const double t = span > 0 ? (double)(step - o->warmup_steps) / (double)span : 1.0;
        const double c = t < 0 ? 1.0 : t > 1 ? 0.0 : 0.5 * (1.0 + cos(M_PI * t));
        lr = o->min_lr + (o->lr - o->min_lr) * c;
        break;
    }
    }
    if (step < o->warmup_steps) lr *= (double)(step + 1) / (double)o->warmup_steps;
    return lr;
}

void dt_optim_step(dt_optim *o, float *params, const float *grads)
{
    const double lr = dt_optim_lr_at(o, o->step);
    o->step++;
    if (o->kind == DT_OPTIM_SGD) {
        const dt_sgd_args a = {
            .lr = (float)lr,
            .momentum = (float)o->momentum,
            .dampening = (float)o->dampening,
            .weight_decay = (float)o->weight_decay,
            .nesterov = o->nesterov,
            .first = o->step == 1,
        };
        o->be->sgd_step(params, grads, o->n_state ? o->state[0] : NULL, o->n, &a);
        return;
    }
    const dt_adam_args a = {
        .lr = (float)lr,
        .beta1 = (float)o->beta1,
        .beta2 = (float)o->beta2,
        .eps = (float)o->eps,
        .weight_decay = (float)o->weight_decay,
        .decoupled = o->kind == DT_OPTIM_ADAMW,
        .step = o->step,
    };
    o->be->adam_step(params, grads, o->state[0], o->state[1], o->n, &a);
}
