/* Bagging ensembles: M members trained in rank groups, evaluated together.
 *
 * `dtrain ensemble CONFIG members=M` trains member m (0-based) with seed
 * seed + m (initialization, shuffling, dropout) on a bootstrap resample of
 * the training set keyed by (seed, m) (data/sampler.h), or with
 * `--mode init` on the full set. Members are jobs handed to rank groups as
 * in a sweep (train/sweep.h). The directory holds:
 *
 *   ENS/ensemble.json        format "dtrain-ensemble" v1: config, mode, seed,
 *                            members with status and checkpoint
 *   ENS/member-MM/           each member's run directory
 *   ENS/ensemble.csv, .md    metrics of the ensemble of members 1..m, for
 *                            every m, and of each member alone
 *
 * Combination: classification averages the members' class probabilities
 * (softmax of the outputs); gaussian_nll takes the mixture of the members'
 * Gaussians (mean = mean of means, variance = mean of (variance + mean^2)
 * - mean^2); mse averages predictions. Metrics on the test split:
 *   accuracy     arg-max of the mean probabilities
 *   nll          -log of the mean probability of the true class
 *   brier        sum over classes of (p_c - [c = y])^2, mean over samples
 *   ece          15 equal-width confidence bins on [0, 1]:
 *                sum_b (n_b / N) |accuracy_b - mean confidence_b|
 *   disagreement fraction of (member pair, sample) whose arg-max differ,
 *                over all pairs of the m members
 * For regression: nll (per target, without the constant 0.5 log 2 pi, as
 * the training loss), rmse, and spread (variance of member means).
 * Out-of-bag (bootstrap only): each training sample is predicted by the
 * members whose resample missed it; accuracy and nll over the samples
 * that have at least one such member. */
#ifndef DT_TRAIN_ENSEMBLE_H
#define DT_TRAIN_ENSEMBLE_H

#include <stdint.h>

#include "dist/comm.h"
#include "nn/loss.h"

#define DT_ENS_BINS 15
/* Sums reducible over ranks: count, correct, nll, brier, squared error,
 * disagreement (or spread), then per bin: count, confidence, correct. */
#define DT_ENS_NSUMS (6 + 3 * DT_ENS_BINS)

typedef struct dt_ens_metrics {
    int64_t count;
    double accuracy, nll, brier, ece, disagreement; /* classification */
    double rmse, spread;                            /* regression (nll too) */
} dt_ens_metrics;

/* The combination of members' outputs over n samples on one rank. */
typedef struct dt_ens_acc {
    dt_loss_kind kind;
    int64_t n, width; /* classes, or targets per sample */
    int members, max_members;
    double *sum;  /* n x width: probabilities / means / predictions */
    double *sum2; /* n x width: gaussian: variance + mean^2 */
    double *sum3; /* n x width: mean^2 (spread) */
    int32_t *pred; /* max_members x n arg-max (classification) */
    double pair_disagree;
} dt_ens_acc;

void dt_ens_acc_init(dt_ens_acc *a, dt_loss_kind kind, int64_t n, int64_t width,
                     int max_members);
void dt_ens_acc_free(dt_ens_acc *a);

/* Add one member's model outputs out(n, out_dim) (logits, or mean and
 * log-variance, or predictions). */
void dt_ens_add(dt_ens_acc *a, const float *out);

/* Sums (DT_ENS_NSUMS) of the current ensemble against targets y(n, y_dim);
 * added into sums. */
void dt_ens_sums(const dt_ens_acc *a, const float *y, double *sums);

/* Sums of one member's outputs alone. */
void dt_ens_member_sums(dt_loss_kind kind, const float *out, const float *y, int64_t n,
                        int64_t width, double *sums);

/* Probabilities of one row of logits (softmax, in double). */
void dt_ens_softmax(const float *z, int64_t classes, double *p);
/* Classification sums of probabilities p(classes) against label y. */
void dt_ens_prob_sums(const double *p, int64_t classes, int y, double *sums);

/* Metrics from (all-reduced) sums of an ensemble of `members`. */
dt_ens_metrics dt_ens_finish(dt_loss_kind kind, const double *sums, int members);

/* ---- training and evaluation ---- */

typedef struct dt_ensemble_opts {
    const char *config;
    char **overrides;
    int n_overrides;
    int members;
    int groups;          /* 0: derive */
    const char *out_dir; /* NULL: RUN_DIR/ensemble-CONFIG-TIME */
    int bootstrap;       /* 1: bootstrap resamples; 0: full set, seeds differ */
    const char *command_line;
} dt_ensemble_opts;

/* Collective over the world: train, then evaluate with
 * dt_ensemble_evaluate. *dir: the ensemble directory (caller frees);
 * *failed: members that failed (reported, not an error). */
dt_status dt_ensemble_run(dt_comm *world, const dt_ensemble_opts *o, char **dir, int *failed);

/* Collective: evaluate the ensemble in `dir` (its ensemble.json and member
 * checkpoints) with the model and test split of CONFIG plus overrides;
 * rank 0 writes ensemble.csv and ensemble.md into dir and prints the
 * table. */
dt_status dt_ensemble_evaluate(dt_comm *world, const char *config, char **overrides,
                               int n_overrides, const char *dir);

#endif
