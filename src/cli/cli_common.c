/* Shared start-up and error handling of the MPI-aware subcommands. */
#include "cli/cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int dt_cli_parse(int argc, char **argv, const char *usage, dt_cli *out)
{
    memset(out, 0, sizeof *out);
    static char *overrides[256];
    out->overrides = overrides;
    int len = 0;
    for (int i = 0; i < argc && len < (int)sizeof out->command_line; i++)
        len += snprintf(out->command_line + len, sizeof out->command_line - (size_t)len, "%s%s",
                        i ? " " : "dtrain ", argv[i]);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s\n", usage);
            out->help = 1;
            return 0;
        } else if (strcmp(a, "--checkpoint") == 0 && i + 1 < argc) {
            out->checkpoint = argv[++i];
        } else if (strcmp(a, "--predictions") == 0 && i + 1 < argc) {
            out->predictions = argv[++i];
        } else if (strcmp(a, "--steps") == 0 && i + 1 < argc) {
            out->steps = atoi(argv[++i]);
        } else if (strcmp(a, "--warmup") == 0 && i + 1 < argc) {
            out->warmup = atoi(argv[++i]);
        } else if (strcmp(a, "--sgemm") == 0) {
            out->sgemm = 1;
        } else if (strcmp(a, "--intervals") == 0 && i + 1 < argc) {
            out->intervals = atoi(argv[++i]);
        } else if (a[0] == '-') {
            fprintf(stderr, "dtrain %s: unknown option '%s'\nusage: %s\n", argv[0], a, usage);
            return 2;
        } else if (strchr(a, '=')) {
            if (out->n_overrides == 256) {
                fprintf(stderr, "dtrain %s: more than 256 overrides\n", argv[0]);
                return 2;
            }
            out->overrides[out->n_overrides++] = argv[i];
        } else if (!out->config) {
            out->config = a;
        } else {
            fprintf(stderr, "dtrain %s: unexpected argument '%s' (overrides are key=value)\n"
                    "usage: %s\n", argv[0], a, usage);
            return 2;
        }
    }
    if (!out->config) {
        fprintf(stderr, "dtrain %s: missing CONFIG\nusage: %s\n", argv[0], usage);
        return 2;
    }
    return 0;
}

int dt_cli_start_world(int *argc, char ***argv, dt_comm **comm)
{
    *comm = NULL;
    if (dt_comm_init_world(argc, argv, comm) != DT_OK) {
        fprintf(stderr, "dtrain: %s\n", dt_error_message());
        return 1;
    }
    dt_log_init(dt_comm_rank(*comm), dt_comm_size(*comm), DT_LOG_INFO);
    return 0;
}

int dt_cli_start(int *argc, char ***argv, const dt_cli *cli, int need, dt_comm **comm,
                 dt_session **s)
{
    *s = NULL;
    if (dt_cli_start_world(argc, argv, comm)) return 1;
    if (dt_session_create(cli->config, cli->overrides, cli->n_overrides, *comm, need, s) != DT_OK)
        return dt_cli_fail(NULL, *comm, NULL);
    (*s)->command_line = cli->command_line;
    return 0;
}

int dt_cli_fail(const char *what, dt_comm *comm, dt_session *s)
{
    /* Failures reaching here were agreed on by all ranks (dt_comm_agree),
     * so rank 0 alone prints the message, which names the failing rank. */
    if (!comm || dt_comm_rank(comm) == 0) {
        fprintf(stderr, "dtrain: %s%s%s\n", what ? what : "", what ? ": " : "",
                dt_error_message());
        fflush(stderr);
    }
    dt_session_destroy(s);
    dt_comm_destroy(comm, 1);
    return 1;
}

void dt_cli_finish(dt_comm *comm, dt_session *s)
{
    dt_session_destroy(s);
    dt_comm_destroy(comm, 1);
}
