/* `dtrain sweep`: many trainings in rank groups from one launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/log.h"
#include "train/sweep.h"

static const char g_usage[] =
    "dtrain sweep CONFIG key=v1,v2,... [key=value ...] [cv.folds=K] [options]\n"
    "  --groups G            rank groups (default: as many as jobs, dividing the world)\n"
    "  --out DIR             sweep directory (default: RUN_DIR/sweep-CONFIG-TIME)\n"
    "  --scale-lr REF        linear scaling rule: optim.lr = lr x batch_size / REF\n"
    "  --warmup STEPS        optim.schedule.warmup_steps for every configuration\n"
    "  --max-micro M         per-rank micro-batch at most M (gradient accumulation)\n"
    "  --target ACC          report steps and time to this test accuracy (e.g. 0.85)\n"
    "  --retrain             with cv.folds: retrain the best configuration on all ranks\n"
    "  --train-eval N        training samples for train accuracy and the gap (10000)\n"
    "  --no-sharpness        skip the sharpness measure\n"
    "  --sharpness-eps E     box half-width relative to |w|+1 (1e-3)\n"
    "  --sharpness-abs       the box is absolute: |d| <= E\n"
    "  --sharpness-steps K   projected ascent steps (5)\n"
    "  --sharpness-samples N fixed training samples for the measure (2048)";

/* Take the sweep's own options out of argv; the rest is CONFIG and
 * key=value. Returns 0, or 2 after a usage message. */
static int take_options(int *argc, char **argv, dt_sweep_opts *o)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
        int used = 2;
        if (strcmp(a, "--groups") == 0 && v) o->groups = atoi(v);
        else if (strcmp(a, "--out") == 0 && v) o->out_dir = v;
        else if (strcmp(a, "--scale-lr") == 0 && v) o->scale_lr_ref = atoll(v);
        else if (strcmp(a, "--warmup") == 0 && v) o->warmup = atoll(v);
        else if (strcmp(a, "--max-micro") == 0 && v) o->max_micro = atoll(v);
        else if (strcmp(a, "--target") == 0 && v) o->target = atof(v);
        else if (strcmp(a, "--train-eval") == 0 && v) o->train_eval_samples = atoll(v);
        else if (strcmp(a, "--sharpness-eps") == 0 && v) o->sharp.eps = atof(v);
        else if (strcmp(a, "--sharpness-steps") == 0 && v) o->sharp.steps = atoi(v);
        else if (strcmp(a, "--sharpness-samples") == 0 && v) o->sharp.samples = atoll(v);
        else if ((used = 1) && strcmp(a, "--retrain") == 0) o->retrain = 1;
        else if (strcmp(a, "--no-sharpness") == 0) o->sharpness = 0;
        else if (strcmp(a, "--sharpness-abs") == 0) o->sharp.absolute = 1;
        else used = 0;
        if (used) {
            i += used - 1;
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    if (o->groups < 0 || o->scale_lr_ref < 0 || o->max_micro < 0 || o->target < 0 ||
        o->target > 1 || o->train_eval_samples < 0) {
        fprintf(stderr, "dtrain sweep: --groups, --scale-lr, --max-micro and --train-eval "
                        "take non-negative numbers, --target an accuracy in [0, 1]\n");
        return 2;
    }
    return 0;
}

int dt_cmd_sweep(int argc, char **argv)
{
    dt_sweep_opts o;
    dt_sweep_opts_init(&o);
    dt_cli cli;
    int rc = take_options(&argc, argv, &o);
    if (rc == 0) rc = dt_cli_parse(argc, argv, g_usage, &cli);
    if (rc || cli.help) return rc;
    o.config = cli.config;
    o.overrides = cli.overrides;
    o.n_overrides = cli.n_overrides;
    o.command_line = cli.command_line;

    dt_comm *world;
    if (dt_cli_start_world(&argc, &argv, &world)) return 1;
    char *dir = NULL;
    int failed = 0;
    if (dt_sweep_run(world, &o, &dir, &failed) != DT_OK) {
        if (dir && dt_comm_rank(world) == 0) fprintf(stderr, "dtrain: sweep directory: %s\n", dir);
        free(dir);
        return dt_cli_fail("sweep", world, NULL);
    }
    if (dt_comm_rank(world) == 0) {
        printf("sweep directory: %s (summary.md, summary.csv)\n", dir);
        if (failed) fprintf(stderr, "dtrain sweep: %d job(s) failed; see %s/summary.md\n",
                            failed, dir);
    }
    free(dir);
    dt_cli_finish(world, NULL);
    return failed ? 3 : 0;
}
