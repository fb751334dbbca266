/* Synthetic data sets with a known answer, written as shard sets.
 *
 * Tasks live in one table (synth.c): each has a name, a one-line
 * description and a generator. Every random number is drawn from the
 * counter-based RNG keyed by the seed, so a task, n and seed always give
 * the same files. */
#ifndef DT_DATA_SYNTH_H
#define DT_DATA_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef struct dt_synth_options {
    const char *task;
    const char *out_dir;
    int64_t n;     /* training samples; 0: the task's default */
    uint64_t seed; /* default 1 */
} dt_synth_options;

/* Write task o->task into o->out_dir (a shard set, replaced if present).
 * An unknown task is DT_ERR_ARG listing the known ones. */
dt_status dt_synth_write(const dt_synth_options *o);

#endif
