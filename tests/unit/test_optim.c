/* Unit tests for the optimizers (src/optim/optim.c and the CPU backend's
 * fused update steps): several steps of every variant on a fixed gradient
 * sequence compared with torch.optim, the learning-rate schedules against
 * their closed forms, and the configuration errors.
 *
 * Tolerance: parameters agree with the float64 reference to 1e-5 relative
 * plus 1e-6 absolute (dtrain updates in float32, about 1e-7 per step). */
#include "optim/optim.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "test_util.h"

#define N_PARAMS 4
#define N_STEPS 5

/* Inputs shared with tests/unit/ref/optim_ref.py; dyadic, so exact in float32. */
static const float k_p0[N_PARAMS] = {0.5f, -1.25f, 2.0f, 0.0625f};
static const float k_grads[N_STEPS][N_PARAMS] = {
    {0.25f, -0.5f, 1.5f, 0.125f},
    {-0.75f, 0.375f, 1.0f, -0.0625f},
    {0.5f, 0.5f, -2.0f, 0.25f},
    {0.125f, -1.0f, 0.75f, 0.0f},
    {-0.25f, 0.625f, -0.5f, 0.5f},
};

/* Parameters after each step, from torch.optim in float64 with the settings
 * named above each table (tests/unit/ref/optim_ref.py, torch 1.13.0a0). */
/* sgd_plain: torch.optim.SGD(lr=0.1) */
static const double k_sgd_plain[5][4] = {
    {0.47499999999999998, -1.2, 1.8500000000000001, 0.050000000000000003},
    {0.54999999999999993, -1.2375, 1.75, 0.056250000000000001},
    {0.49999999999999994, -1.2875000000000001, 1.95, 0.03125},
    {0.48749999999999993, -1.1875, 1.875, 0.03125},
    {0.51249999999999996, -1.25, 1.925, -0.018750000000000003},
};
/* sgd_momentum_dampening: torch.optim.SGD(lr=0.1, momentum=0.9, dampening=0.3) */
static const double k_sgd_momentum_dampening[5][4] = {
    {0.47499999999999998, -1.2, 1.8500000000000001, 0.050000000000000003},
    {0.505, -1.1812499999999999, 1.645, 0.043125000000000004},
    {0.497, -1.1993749999999999, 1.6005, 0.019437500000000003},
    {0.48104999999999998, -1.1456874999999997, 1.5079500000000001, -0.0018812499999999979},
    {0.48419499999999999, -1.1411187499999997, 1.4596550000000001, -0.056068125000000003},
};
/* sgd_full_dampening: torch.optim.SGD(lr=0.1, momentum=0.9, dampening=1.0) */
static const double k_sgd_full_dampening[5][4] = {
    {0.47499999999999998, -1.2, 1.8500000000000001, 0.050000000000000003},
    {0.45249999999999996, -1.155, 1.7150000000000001, 0.03875},
    {0.43224999999999997, -1.1145, 1.5935000000000001, 0.028624999999999998},
    {0.41402499999999998, -1.07805, 1.4841500000000001, 0.019512499999999995},
    {0.39762249999999999, -1.045245, 1.3857350000000002, 0.011311249999999993},
};
/* sgd_nesterov_wd: torch.optim.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01) */
static const double k_sgd_nesterov_wd[5][4] = {
    {0.47704999999999997, -1.203875, 1.8632, 0.051193750000000003},
    {0.53596065500000001, -1.2201415125000001, 1.7228831199999999, 0.052752675625000002},
    {0.50779763441049997, -1.2625381451387501, 1.8298243011919999, 0.028972816216937501},
    {0.49377458432993049, -1.1858072235241253, 1.7669195575225272, 0.019943954226142258},
    {0.50981486619334215, -1.2201102749893091, 1.7907374647056555, -0.032285495798810696},
};
/* sgd_weight_decay: torch.optim.SGD(lr=0.1, weight_decay=0.1) */
static const double k_sgd_weight_decay[5][4] = {
    {0.46999999999999997, -1.1875, 1.8300000000000001, 0.049374999999999995},
    {0.5403, -1.213125, 1.7117, 0.055131249999999993},
    {0.48489700000000002, -1.2509937499999999, 1.8945829999999999, 0.02957993749999999},
    {0.46754803, -1.1384838124999999, 1.8006371699999999, 0.029284138124999991},
    {0.48787254969999999, -1.189598974375, 1.8326307982999999, -0.021008703256250011},
};
/* sgd_step_schedule: torch.optim.SGD(lr=0.2, momentum=0.5), StepLR(step_size=2, gamma=0.5) */
static const double k_sgd_step_schedule[5][4] = {
    {0.45000000000000001, -1.1499999999999999, 1.7, 0.037499999999999999},
    {0.57500000000000007, -1.1749999999999998, 1.3499999999999999, 0.037499999999999999},
    {0.55625000000000002, -1.2312499999999997, 1.4624999999999999, 0.012499999999999997},
    {0.53437500000000004, -1.1593749999999998, 1.4437499999999999, -3.4694469519536142e-18},
    {0.54140625000000009, -1.1726562499999997, 1.4640624999999998, -0.028125000000000004},
};
/* adam: torch.optim.Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08) */
static const double k_adam[5][4] = {
    {0.49000000039999997, -1.2400000002, 1.9900000000666667, 0.052500000799999932},
    {0.4949418986445851, -1.2391067501461603, 1.9802964788618316, 0.049836630672950487},
    {0.49475402170395438, -1.2425603775774232, 1.9800235385302651, 0.043255515068280868},
    {0.49383108362565159, -1.2397883317346396, 1.9782475709356173, 0.037864665663863678},
    {0.49447572333204587, -1.240076838493015, 1.9777317688496494, 0.03086718075831759},
};
/* adam_weight_decay: torch.optim.Adam(lr=0.02, betas=(0.8, 0.99), eps=1e-06, weight_decay=0.1) */
static const double k_adam_weight_decay[5][4] = {
    {0.48000006666644446, -1.2300000319999489, 1.980000011764699, 0.042500152379791392},
    {0.48949298024462456, -1.2242067978146844, 1.9606564354370928, 0.037375753766945186},
    {0.48678828529073825, -1.2275068294720646, 1.9594063854192778, 0.02323832514451481},
    {0.48228921855417872, -1.2178042560265121, 1.9540938181332985, 0.01230888041321635},
    {0.4815798228317929, -1.2152429640978741, 1.951323311814867, -0.0033989879657521285},
};
/* adamw: torch.optim.AdamW(lr=0.01, betas=(0.9, 0.95), eps=1e-08, weight_decay=0.05) */
static const double k_adamw[5][4] = {
    {0.4897500004, -1.2393750002000001, 1.9890000000666668, 0.052468750799999936},
    {0.49439808298862814, -1.2378589015243147, 1.9782547124674279, 0.049758822217445813},
    {0.49396397301107053, -1.2406933412431758, 1.9769943198259783, 0.043246493858253111},
    {0.49278758785120946, -1.2373505868049159, 1.97422359599588, 0.037841446657871883},
    {0.493195709653241, -1.2370164704321001, 1.9727131951065324, 0.031063605058460508},
};

/* Check that the last error message contains `needle`. */
#define CHECK_MSG(needle)                                                      \
    do {                                                                       \
        if (!strstr(dt_error_message(), (needle))) {                           \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,  \
                    __LINE__, dt_error_message(), (needle));                   \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

/* Load `yaml` (a document with an `optim` map) and create the optimizer.
 * Returns its status; *root must be freed by the caller when not NULL. */
static dt_status make_optim(const char *yaml, int64_t total_steps, dt_cfg **root, dt_optim **o)
{
    *o = NULL;
    *root = NULL;
    const dt_status s = dt_cfg_load_string(yaml, "optim.yaml", root);
    if (s != DT_OK) return s;
    return dt_optim_create(dt_cfg_get(*root, "optim"), dt_backend_cpu(), N_PARAMS, total_steps,
                           o);
}

typedef struct optim_case {
    const char *name;
    const char *yaml;
    const double (*expect)[N_PARAMS];
    int n_state;
} optim_case;

static const optim_case k_cases[] = {
    {"sgd plain", "optim: {kind: sgd, lr: 0.1}", k_sgd_plain, 0},
    {"sgd momentum + dampening", "optim: {kind: sgd, lr: 0.1, momentum: 0.9, dampening: 0.3}",
     k_sgd_momentum_dampening, 1},
    {"sgd full dampening", "optim: {kind: sgd, lr: 0.1, momentum: 0.9, dampening: 1.0}",
     k_sgd_full_dampening, 1},
    {"sgd nesterov + weight decay",
     "optim: {kind: sgd, lr: 0.05, momentum: 0.8, nesterov: true, weight_decay: 0.01}",
     k_sgd_nesterov_wd, 1},
    {"sgd weight decay", "optim: {kind: sgd, lr: 0.1, weight_decay: 0.1}", k_sgd_weight_decay,
     0},
    {"sgd momentum + step schedule",
     "optim: {kind: sgd, lr: 0.2, momentum: 0.5, schedule: {kind: step, step_size: 2, "
     "gamma: 0.5}}",
     k_sgd_step_schedule, 1},
    {"adam", "optim: {kind: adam, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1.0e-8}", k_adam, 2},
    {"adam + weight decay",
     "optim: {kind: adam, lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1.0e-6, weight_decay: 0.1}",
     k_adam_weight_decay, 2},
    {"adamw", "optim: {kind: adamw, lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1.0e-8, "
              "weight_decay: 0.05}",
     k_adamw, 2},
};

/* Run N_STEPS updates and compare the parameters after every step. */
static void run_case(const optim_case *c)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim(c->yaml, 1000, &root, &o));
    if (!o) {
        dt_cfg_free(root);
        return;
    }
    /* Every key of the case was read: none was silently ignored. */
    CHECK_OK(dt_cfg_check_unused(root));
    CHECK(o->n_state == c->n_state);

    float p[N_PARAMS];
    memcpy(p, k_p0, sizeof p);
    for (int t = 0; t < N_STEPS; t++) {
        dt_optim_step(o, p, k_grads[t]);
        for (int i = 0; i < N_PARAMS; i++) {
            const double want = c->expect[t][i];
            if (!(fabs(p[i] - want) <= 1e-6 + 1e-5 * fabs(want))) {
                fprintf(stderr, "%s:%d: %s: step %d param %d = %.9g, torch gives %.9g\n",
                        __FILE__, __LINE__, c->name, t + 1, i, p[i], want);
                dt_test_failures++;
            }
        }
    }
    CHECK(o->step == N_STEPS);
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

static void test_updates(void)
{
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) run_case(&k_cases[i]);
}

/* Defaults follow torch.optim.Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8. */
static void test_defaults(void)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {}", 10, &root, &o));
    if (o) {
        CHECK(o->kind == DT_OPTIM_ADAM);
        CHECK(o->lr == 1e-3 && o->beta1 == 0.9 && o->beta2 == 0.999 && o->eps == 1e-8);
        CHECK(o->weight_decay == 0.0 && o->sched == DT_SCHED_CONSTANT);
        CHECK(strcmp(dt_optim_name(o->kind), "adam") == 0);
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* dt_optim_lr_at(step) against closed forms. */
static void check_lrs(const char *yaml, int64_t total, const int64_t *steps, const double *want,
                      int n)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim(yaml, total, &root, &o));
    for (int i = 0; o && i < n; i++) {
        const double got = dt_optim_lr_at(o, steps[i]);
        if (!(fabs(got - want[i]) <= 1e-12 + 1e-9 * fabs(want[i]))) {
            fprintf(stderr, "%s:%d: %s: lr at step %lld = %.12g, expected %.12g\n", __FILE__,
                    __LINE__, yaml, (long long)steps[i], got, want[i]);
            dt_test_failures++;
        }
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

static double cosine_lr(double lr, double min_lr, double t)
{
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + cos(M_PI * t));
}

static void test_schedules(void)
{
    {
        const int64_t s[] = {0, 1, 10, 999};
        const double w[] = {0.3, 0.3, 0.3, 0.3};
        check_lrs("optim: {kind: sgd, lr: 0.3}", 1000, s, w, 4);
    }
    {
        /* lr * gamma^floor(step / step_size), as torch.optim.lr_scheduler.StepLR. */
        const int64_t s[] = {0, 2, 3, 5, 6, 9, 30};
        const double w[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.0125, 0.1 * pow(0.5, 10)};
        check_lrs("optim: {lr: 0.1, schedule: {kind: step, step_size: 3, gamma: 0.5}}", 100, s,
                  w, 7);
    }
    {
        /* CosineAnnealingLR with T_max = total steps, then held at min_lr. */
        const int64_t s[] = {0, 25, 50, 75, 100, 150};
        const double w[] = {1.0, cosine_lr(1.0, 0.1, 0.25), 0.55, cosine_lr(1.0, 0.1, 0.75), 0.1,
                            0.1};
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, min_lr: 0.1}}", 100, s, w, 6);
        /* The short form `schedule: cosine`, min_lr 0. */
        const double w0[] = {1.0, cosine_lr(1.0, 0.0, 0.25), 0.5, cosine_lr(1.0, 0.0, 0.75), 0.0,
                             0.0};
        check_lrs("optim: {lr: 1.0, schedule: cosine}", 100, s, w0, 6);
    }
    {
        /* Linear warm-up over 10 steps ((step+1)/10 of the rate), then the
         * cosine over the remaining 100 steps. */
        const int64_t s[] = {0, 4, 9, 10, 35, 60, 110};
        const double w[] = {0.1, 0.5, 1.0, 1.0, cosine_lr(1.0, 0.1, 0.25), 0.55, 0.1};
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, warmup_steps: 10, min_lr: 0.1}}",
                  110, s, w, 7);
    }
    {
        const int64_t s[] = {0, 1, 3, 4, 100};
        const double w[] = {0.025, 0.05, 0.1, 0.1, 0.1};
        check_lrs("optim: {lr: 0.1, schedule: {kind: constant, warmup_steps: 4}}", 1000, s, w,
                  5);
    }
}

/* The scheduled rate is the one dt_optim_step applies: plain SGD moves each
 * parameter by exactly lr_t * g. */
static void test_step_uses_schedule(void)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {kind: sgd, lr: 0.5, schedule: {warmup_steps: 4}}", 100, &root,
                        &o));
    if (o) {
        float p[N_PARAMS];
        memcpy(p, k_p0, sizeof p);
        for (int t = 0; t < 3; t++) {
            float before[N_PARAMS];
            memcpy(before, p, sizeof p);
            dt_optim_step(o, p, k_grads[t]);
            const double lr = 0.5 * (t + 1) / 4.0;
            for (int i = 0; i < N_PARAMS; i++)
                CHECK_CLOSE(p[i], before[i] - lr * k_grads[t][i], 1e-6, 1e-7);
        }
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* A bad value is DT_ERR_CONFIG naming the dotted key and the file:line. */
static void check_config_error(const char *yaml, const char *key)
{
    dt_cfg *root;
    dt_optim *o;
    const dt_status s = make_optim(yaml, 100, &root, &o);
    if (s != DT_ERR_CONFIG) {
        fprintf(stderr, "%s:%d: %s: status %d (%s), expected a config error\n", __FILE__,
                __LINE__, yaml, (int)s, dt_error_message());
        dt_test_failures++;
    }
    CHECK(o == NULL);
    CHECK_MSG(key);
    CHECK_MSG("optim.yaml:");
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

static void test_config_errors(void)
{
    check_config_error("optim:\n  kind: sgd\n  lr: -0.1\n", "'optim.lr'");
    check_config_error("optim:\n  kind: adam\n  beta1: 1.0\n", "'optim.beta1'");
    check_config_error("optim:\n  kind: adamw\n  beta2: 1.5\n", "'optim.beta2'");
    check_config_error("optim:\n  kind: sgd\n  nesterov: true\n", "'optim.nesterov'");
    check_config_error("optim:\n  kind: sgd\n  momentum: 0.9\n  dampening: 0.1\n  nesterov: yes\n",
                       "'optim.nesterov'");
    check_config_error("optim:\n  kind: rmsprop\n", "'optim.kind'");
    check_config_error("optim:\n  kind: sgd\n  momentum: 1.5\n", "'optim.momentum'");
    check_config_error("optim:\n  weight_decay: -1\n", "'optim.weight_decay'");
    check_config_error("optim:\n  schedule: {kind: linear}\n", "'optim.schedule.kind'");
    check_config_error("optim:\n  schedule: {kind: step, step_size: 0}\n",
                       "'optim.schedule.step_size'");

    /* The messages say what was accepted. */
    check_config_error("optim:\n  kind: rmsprop\n", "sgd");
    check_config_error("optim:\n  kind: sgd\n  lr: -0.1\n", "-0.1");
    check_config_error("optim:\n  kind: sgd\n  lr: -0.1\n", "optim.yaml:3");

    /* Momentum is not an Adam key: it is left unread, so the unknown-key
     * check reports it rather than the optimizer ignoring it silently. */
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {kind: adam, momentum: 0.9}", 10, &root, &o));
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("momentum");
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

int main(void)
{
    test_updates();
    test_defaults();
    test_schedules();
    test_step_uses_schedule();
    test_config_errors();
    return dt_test_result();
}
