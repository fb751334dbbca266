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
    const char *run_root; /* parent of run directories */
    const char *run_name; /* "" = derived from the config name and time */
    int64_t bucket_bytes; /* reducer bucket size */
    int check_finite;     /* stop on a NaN/Inf loss */
    int log_grad_norms;   /* per-layer gradient norms in the train records */
} dt_train_settings;

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
    const char *command_line; /* recorded in the run manifest; set by the caller */
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

#endif
