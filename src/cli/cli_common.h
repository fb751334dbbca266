/* What the MPI-aware subcommands share: argument splitting, MPI start-up,
 * the session, and turning a failure into one message and an exit status. */
#ifndef DT_CLI_COMMON_H
#define DT_CLI_COMMON_H

#include "train/session.h"

typedef struct dt_cli {
    const char *config;
    char **overrides; /* key=value arguments */
    int n_overrides;
    const char *checkpoint; /* --checkpoint FILE */
    int steps, warmup, intervals; /* bench: --steps, --warmup, --intervals */
    int sgemm;                    /* bench: --sgemm, time the GEMMs alone */
    int help;
    char command_line[4096];
    const char *predictions; /* eval: --predictions FILE (segmentation samples) */
} dt_cli;

/* Split argv into CONFIG, key=value overrides and --checkpoint. Returns 0,
 * or 2 after printing a usage error. */
int dt_cli_parse(int argc, char **argv, const char *usage, dt_cli *out);

/* Start MPI and build the session; on failure print the message once and
 * return the exit status (the caller returns it). */
/* Start MPI and the logger; on failure print why and return 1 (else 0).
 * For commands that build their sessions themselves (sweeps, ensembles). */
int dt_cli_start_world(int *argc, char ***argv, dt_comm **comm);
int dt_cli_start(int *argc, char ***argv, const dt_cli *cli, int need, dt_comm **comm,
                 dt_session **s);

/* Print a failure once (rank 0, or any rank for a rank-local error),
 * tear down and return 1. */
int dt_cli_fail(const char *what, dt_comm *comm, dt_session *s);

/* Tear down after success. */
void dt_cli_finish(dt_comm *comm, dt_session *s);

#endif
