/* dtrain: the command-line entry point. It only dispatches to a
 * subcommand; each lives in a file of its own (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "core/version.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} g_commands[] = {
    {"train", dt_cmd_train, "train CONFIG [key=value ...]      train (under mpirun for many ranks)"},
    {"eval", dt_cmd_eval, "eval CONFIG --checkpoint FILE    evaluate a checkpoint on the test split"},
    {"info", dt_cmd_info, "info CONFIG [key=value ...]       layers, shapes, parameters, multiply-adds"},
    {"bench", dt_cmd_bench, "bench CONFIG [key=value ...]      training throughput (samples/s, GFLOP/s)"},
    {"data", dt_cmd_data, "data convert|info ...             build and inspect HDF5 shard sets"},
};
#define N_COMMANDS (int)(sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: dtrain COMMAND ...\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  dtrain %s\n", g_commands[i].help);
    fprintf(out, "\n  dtrain --version\n\nRun `dtrain COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dtrain %s (commit %s)\n%s\n", DT_VERSION, DT_GIT_COMMIT, dt_build_features());
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], g_commands[i].name) == 0) return g_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dtrain: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
