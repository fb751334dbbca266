/* Sweeps: many trainings from one launch, each data parallel on its own
 * group of ranks.
 *
 * `dtrain sweep CONFIG key=v1,v2 other=a,b` trains every combination of the
 * listed values (a grid; keys with one value apply to all). The world is
 * split into groups (dist/group.h); configurations (and, with cv.folds=k,
 * each configuration's k folds) are jobs handed to groups round robin, and
 * a group works through its jobs in order without waiting for the others.
 * A job that fails (bad value, diverged loss) fails on all ranks of its
 * group together, is recorded with its message, and the group moves on.
 * After the last job, one gather over the world brings every result to
 * rank 0, which writes the sweep directory's summary:
 *
 *   SWEEP/summary.csv, summary.md   one row per job
 *   SWEEP/cv.csv                    with folds: mean and spread per config
 *   SWEEP/sweep.json                the plan: keys, values, groups, options
 *   SWEEP/<job>/                    each job's run directory (train.name)
 */
#ifndef DT_TRAIN_SWEEP_H
#define DT_TRAIN_SWEEP_H

#include "dist/comm.h"
#include "train/sharpness.h"

typedef struct dt_sweep_opts {
    const char *config;
    char **overrides; /* key=value; key=v1,v2,... makes an axis of the grid */
    int n_overrides;
    int groups;            /* 0: derive from the number of jobs */
    const char *out_dir;   /* NULL: <train.run_dir>/sweep-<config>-<time> */
    int64_t scale_lr_ref;  /* linear scaling: lr = lr x batch / ref (0: off) */
    int64_t warmup;        /* optim.schedule.warmup_steps for every job (-1: leave) */
    int64_t max_micro;     /* cap on the per-rank micro-batch, met by accumulation (0: off) */
    double target;         /* test accuracy for "steps/time to target" (0: off) */
    int retrain;           /* with folds: retrain the best configuration on all ranks */
    int sharpness;         /* measure sharpness after training */
    dt_sharpness_opts sharp;
    int64_t train_eval_samples; /* training samples for train accuracy and the gap */
    const char *command_line;
} dt_sweep_opts;

void dt_sweep_opts_init(dt_sweep_opts *o);

/* Collective over the world. On success *dir holds the sweep directory
 * (caller frees) and *failed the number of failed jobs; a failed job is
 * not an error of the sweep. Errors: bad options, an unknown key, a batch
 * size no accumulation reaches on a group, I/O. */
dt_status dt_sweep_run(dt_comm *world, const dt_sweep_opts *o, char **dir, int *failed);

/* Shared with ensembles: rank 0 creates `path` (and parents) or, when path
 * is empty, <root>/<prefix>-<config stem>-<time>; the result is broadcast
 * into out (cap bytes). Collective. */
dt_status dt_sweep_make_dir(dt_comm *c, const char *path, const char *root, const char *prefix,
                            const char *config, char *out, size_t cap);

#endif
