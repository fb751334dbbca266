/* The run directory: everything needed to look at a run and to repeat it.
 *
 *   config.yaml     the resolved config (file plus command-line overrides)
 *   manifest.json   format "dtrain-run" v1: dtrain version and git commit,
 *                   command line, hosts, world size, threads per rank, seed,
 *                   data set name and source, library versions, start time
 *   metrics.jsonl   one JSON record per line: train intervals, evaluations
 *   rank-N.log      every rank's log
 *   checkpoints/    epoch-N.h5 and last.h5 */
#ifndef DT_TRAIN_RUNDIR_H
#define DT_TRAIN_RUNDIR_H

#include <stdio.h>

#include "train/session.h"

typedef struct dt_rundir {
    char path[1024];
    FILE *metrics; /* rank 0 only */
} dt_rundir;

/* Collective: rank 0 picks and creates the directory and writes config and
 * manifest; the path is broadcast; every rank opens its log there. */
dt_status dt_rundir_create(dt_session *s, const char *command_line, dt_rundir *out);
void dt_rundir_close(dt_rundir *r);

/* Append one JSON object (text without newline) to metrics.jsonl (rank 0). */
void dt_rundir_metric(dt_rundir *r, const char *json);

#endif
