/* A session: everything a command needs, built from one config.
 *
 * train, eval, bench and info all start the same way: read the config and
 * its overrides, open the shard set, build the model, the loss and the
 * optimizer, and check the training settings against the world size. A
 * session owns all of it. Every key of the config is read here (or by the
 * parts it builds), so an unknown key is reported before anything runs. */
#ifndef DT_TRAIN_SESSION_H
#define DT_TRAIN_SESSION_H

#include "core/config.h"
#include "data/dataset.h"
#include "dist/comm.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "optim/optim.h"
#include "train/regularize.h"

typedef struct dt_train_settings {
    int64_t batch_size;   /* global, over all ranks and micro-steps */
    int64_t accumulation; /* micro-steps per optimizer step */
    int64_t micro_batch;  /* per rank and micro-step (derived or given) */
    int64_t epochs;
    int64_t max_steps;        /* stop after this many optimizer steps (0: no limit) */
    int64_t log_every;        /* steps between progress lines */
    int64_t eval_batch;       /* per rank */
    int64_t checkpoint_every; /* epochs between checkpoints (0: final only) */
    int shuffle, prefetch;
    const char *resume;   /* checkpoint to continue from, or "" */
    const char *init_from; /* checkpoint whose parameters of the same name and shape
                            * start the model (fine-tuning), or "" */
    const char *run_root; /* parent of run directories */
    const char *run_name; /* "" = derived from the config name and time */
    int64_t bucket_bytes; /* reducer bucket size */
    int check_finite;     /* stop on a NaN/Inf loss */

    /* train.early_stopping: stop when `monitor` has not improved by more
     * than min_delta for `patience` evaluations; keep and restore the best. */
    int early_stopping;
    int es_monitor;  /* dt_es_monitor */
    int es_maximize; /* mode max */
    int64_t es_patience;
    double es_min_delta;
    double comm_timeout_s; /* bound on a GPU collective (dist.timeout_s) */
    int log_grad_norms;   /* per-layer gradient norms in the train records */
    int precision;        /* dt_precision (train.precision) */
} dt_train_settings;

/* train.precision: fp32 everywhere, or bf16 compute over fp32 master
 * weights (refused by every backend of this build). */
typedef enum dt_precision { DT_PRECISION_FP32 = 0, DT_PRECISION_BF16 } dt_precision;

typedef enum dt_es_monitor {
    DT_ES_VAL_LOSS = 0,
    DT_ES_VAL_ACCURACY,
    DT_ES_TEST_LOSS,
    DT_ES_TEST_ACCURACY
} dt_es_monitor;

/* The monitor's config name ("val_loss", ...). */
const char *dt_es_monitor_name(int monitor);

typedef struct dt_session {
    dt_cfg *cfg;
    char *config_path;
    dt_comm *comm;
    uint64_t seed;

    char *data_path;
    dt_dataset *train, *test;
    dt_dataset_info info; /* of the training split, or from model.input */

    dt_model *model;
    dt_loss loss;
    dt_optim *optim;
    dt_train_settings ts;
    int threads;
    int progress; /* runtime.progress: 0 auto (bar on a terminal), 1 bar, 2 lines */
    const dt_backend *be; /* runtime.device: the CPU, or this rank's GPU */
    int gpu;              /* the GPU used, or -1 */
    const char *command_line; /* recorded in the run manifest; set by the caller */

    dt_regularize reg; /* input/weight noise and augmentation */
    /* Validation held out of the training split (data.validation_fraction,
     * or fold `fold` of data.folds), chosen by seed: `val` reads rows
     * val_rows of the training split and `train` the others. */
    dt_dataset *val;
    int64_t *val_rows, n_val, n_train_rows;
    double val_fraction;
    int64_t folds, fold;
    /* Set by sweeps and ensembles before training: train on these indices of
     * the training split (repeats allowed) instead of all of it. NULL: all.
     * Owned by the session (malloc'd). */
    int64_t *train_subset;
    int64_t train_subset_n;
} dt_session;

typedef enum dt_session_need {
    DT_NEED_DATA = 1,     /* open the train and test splits */
    DT_NEED_TEST_ONLY = 2 /* open only the test split (eval) */
} dt_session_need;

/* Load `config_path`, apply `overrides` (key=value strings), and build the
 * session for `comm`. Collective: every rank builds the same session, and a
 * failure on any rank fails on all with that rank's message. */
dt_status dt_session_create(const char *config_path, char **overrides, int n_overrides,
                            dt_comm *comm, int need, dt_session **out);
void dt_session_destroy(dt_session *s);

/* The overrides of one run among many (an ensemble member, a sweep job):
 * quiet logging, then `base` (the command line's key=value settings);
 * dt_job_overrides_place adds, last, where the run writes: its run
 * directory root and its name there. */
void dt_job_overrides_start(dt_ovlist *l, char *const *base, int n_base);
void dt_job_overrides_place(dt_ovlist *l, const char *dir, const char *name);

/* Record the validation hold-out (rows of the training split, seed,
 * method) as DIR/validation.json; nothing without one. */
dt_status dt_session_write_split(const dt_session *s, const char *dir);

#endif
