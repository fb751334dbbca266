/* Inside the sweep: the grid, the plans, the gathered job records, and the
 * summaries written from them (sweep.c runs, sweep_report.c writes). */
#ifndef DT_TRAIN_SWEEP_INTERNAL_H
#define DT_TRAIN_SWEEP_INTERNAL_H

#include "dist/group.h"
#include "train/sweep.h"

#define MAX_AXES 8
#define MAX_VALUES 64

typedef struct dt_sweep_axis {
    char key[200];
    char *values[MAX_VALUES];
    int n;
} dt_sweep_axis;

/* What one configuration trains with, worked out before anything runs. */
typedef struct dt_sweep_plan {
    int64_t batch, accumulation;
    double lr;
    int scaled;           /* lr was set by the scaling rule */
    char warmup_ov[300];  /* the warm-up override, or "" */
} dt_sweep_plan;

typedef struct dt_sweep {
    const dt_sweep_opts *o;
    dt_sweep_axis axes[MAX_AXES];
    int n_axes;
    char **fixed; /* single-valued overrides */
    int n_fixed;
    int folds; /* 0: no cross-validation */
    int n_configs, n_jobs;
    dt_sweep_plan *plans;
    dt_group_plan gp;
    char dir[1024];
} dt_sweep;

/* The fixed-size record of one job, gathered over the world at the end. */
typedef struct dt_sweep_job {
    int filled, status;
    int config, fold;
    char name[120];
    char error[600];
    char run_dir[1100];
    double lr;
    int64_t batch, accumulation, micro, warmup, steps, params;
    double final_acc, best_acc, final_loss, train_acc, train_loss, val_acc, val_loss;
    double wall_s, target_steps, target_time;
    double sharpness, sharp_base, sharp_max, noise_scale;
} dt_sweep_job;

/* Value index of axis k in configuration c (the last axis varies fastest). */
int dt_sweep_value_of(const dt_sweep *w, int c, int k);
/* cNN_<key>-<value>..., with _foldF when fold >= 0. */
void dt_sweep_job_name(const dt_sweep *w, int c, int fold, char *out, size_t cap);

/* Rank 0: summary.csv, summary.md and (folds) cv.csv; *best is the
 * configuration with the best mean validation accuracy, or -1. */
dt_status dt_sweep_write_summary(const dt_sweep *w, const dt_sweep_job *res, int *best);
/* Rank 0: sweep.json. */
void dt_sweep_write_plan(const dt_sweep *w);

#endif
