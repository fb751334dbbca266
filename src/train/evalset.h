/* Forward passes over chosen samples of a split, outside the training loop:
 * held-out folds, out-of-bag samples, a fixed training subset, ensemble
 * members' predictions. */
#ifndef DT_TRAIN_EVALSET_H
#define DT_TRAIN_EVALSET_H

#include "train/trainer.h"

/* Called per chunk with the model outputs out(rows, out_dim), the targets
 * y(rows, y_dim), the samples' indices and their position `first` in the
 * caller's list. */
typedef void (*dt_forward_fn)(void *ctx, const float *out, const float *y, const int64_t *idx,
                              int64_t rows, int64_t first);

/* Rank-local: forward (evaluation mode) over idx[0..n) of ds in chunks of
 * the session's eval batch. The model must hold s->ts.eval_batch rows. */
dt_status dt_forward_indices(dt_session *s, dt_dataset *ds, const int64_t *idx, int64_t n,
                             dt_forward_fn fn, void *ctx);

/* Collective: loss and accuracy over idx[0..n) (the same list on every
 * rank; each rank takes a slice). */
dt_status dt_evaluate_indices(dt_session *s, dt_dataset *ds, const int64_t *idx, int64_t n,
                              dt_eval_result *out);

#endif
