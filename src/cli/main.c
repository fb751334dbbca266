/* dtrain: the command-line entry point. It only dispatches to a
 * subcommand; each lives in a file of its own (cmd_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "core/version.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *args, *about;
} g_commands[] = {
    {"train", dt_cmd_train, "CONFIG [key=value ...]", "train (under mpirun for many ranks)"},
    {"eval", dt_cmd_eval, "CONFIG --checkpoint FILE", "evaluate a checkpoint on the test split"},
    {"info", dt_cmd_info, "CONFIG [key=value ...]", "layers, shapes, parameters, multiply-adds"},
    {"bench", dt_cmd_bench, "CONFIG [key=value ...]", "training throughput (samples/s, GFLOP/s)"},
    {"predict", dt_cmd_predict, "CONFIG --checkpoint F --out CSV", "test-split outputs"},
    {"data", dt_cmd_data, "convert|info|synth ...", "build and inspect HDF5 shard sets"},
    {"sweep", dt_cmd_sweep, "CONFIG key=v1,v2 ...", "many trainings in rank groups"},
    {"ensemble", dt_cmd_ensemble, "CONFIG members=M ...", "a bagging ensemble"},
};
#define N_COMMANDS (int)(sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: dtrain COMMAND ...\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  dtrain %-8s %-32s %s\n", g_commands[i].name, g_commands[i].args,
                g_commands[i].about);
    fprintf(out, "\n  dtrain --version\n\nRun `dtrain COMMAND --help` for a command's options.\n");
}

/* OpenBLAS chooses its kernels when it loads; if it chose generic ones on a
 * CPU it did not recognize, start again with the right ones requested. The
 * environment variable is then set, so this happens at most once. */
static void restart_for_blas_kernels(char **argv)
{
    const char *core = dt_backend_cpu_blas_core_hint();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on as we are */
}

int main(int argc, char **argv)
{
    restart_for_blas_kernels(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dtrain %s (commit %s)\n%s\n", DT_VERSION, DT_GIT_COMMIT, dt_build_features());
        printf("blas: %s\n", dt_backend_cpu_blas_description());
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], g_commands[i].name) == 0) return g_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dtrain: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
