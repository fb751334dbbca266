/* `dtrain ensemble`: a bagging ensemble trained in rank groups, then
 * evaluated as a whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/log.h"
#include "train/ensemble.h"

static const char g_usage[] =
    "dtrain ensemble CONFIG members=M [key=value ...] [options]\n"
    "  --groups G          rank groups (default: as many as members, dividing the world)\n"
    "  --out DIR           ensemble directory (default: RUN_DIR/ensemble-CONFIG-TIME)\n"
    "  --mode MODE         bootstrap (resample the training set per member, default) or\n"
    "                      init (full training set, only the seed differs)";

static int take_options(int *argc, char **argv, dt_ensemble_opts *o)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--groups") == 0 && v) {
            o->groups = atoi(argv[++i]);
        } else if (strcmp(a, "--out") == 0 && v) {
            o->out_dir = argv[++i];
        } else if (strcmp(a, "--mode") == 0 && v) {
            if (strcmp(v, "bootstrap") != 0 && strcmp(v, "init") != 0) {
                fprintf(stderr, "dtrain ensemble: --mode %s: expected bootstrap or init\n", v);
                return 2;
            }
            o->bootstrap = strcmp(argv[++i], "bootstrap") == 0;
        } else if (strncmp(a, "members=", 8) == 0) {
            char *end;
            o->members = (int)strtol(a + 8, &end, 10);
            if (*end || o->members < 1) {
                fprintf(stderr, "dtrain ensemble: %s: expected a positive number of members\n",
                        a);
                return 2;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    if (!o->members) {
        fprintf(stderr, "dtrain ensemble: missing members=M\nusage: %s\n", g_usage);
        return 2;
    }
    if (o->groups < 0) {
        fprintf(stderr, "dtrain ensemble: --groups takes a positive number\n");
        return 2;
    }
    return 0;
}

int dt_cmd_ensemble(int argc, char **argv)
{
    dt_ensemble_opts o = {.bootstrap = 1};
    dt_cli cli;
    int help = 0;
    for (int i = 1; i < argc; i++) help |= strcmp(argv[i], "--help") == 0;
    if (help) {
        printf("usage: %s\n", g_usage);
        return 0;
    }
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
    if (dt_ensemble_run(world, &o, &dir, &failed) != DT_OK) {
        if (dir && dt_comm_rank(world) == 0)
            fprintf(stderr, "dtrain: ensemble directory: %s\n", dir);
        free(dir);
        return dt_cli_fail("ensemble", world, NULL);
    }
    if (dt_comm_rank(world) == 0) {
        printf("ensemble directory: %s\n", dir);
        if (failed)
            fprintf(stderr, "dtrain ensemble: %d member(s) failed (left out of the ensemble); "
                            "see %s/ensemble.json\n", failed, dir);
    }
    free(dir);
    dt_cli_finish(world, NULL);
    return failed ? 3 : 0;
}
