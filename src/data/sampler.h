/* Samplers: the global order of one epoch and each rank's slice of a batch.
 *
 * The order of an epoch depends only on (seed, epoch) and the data set size,
 * never on the number of ranks. The global batch is cut first from that
 * order; each rank then takes a contiguous slice of it. So a step processes
 * the same samples for any world size, and with the loss normalized by the
 * global batch, the averaged gradient is the same up to float reassociation.
 * The last batch of an epoch may be smaller; no sample is dropped or seen
 * twice, and a rank whose slice is empty still takes part in the step. */
#ifndef DT_DATA_SAMPLER_H
#define DT_DATA_SAMPLER_H

#include <stdint.h>

#include "core/rng.h"

typedef enum dt_sampler_kind {
    DT_SAMPLER_SEQUENTIAL = 0,
    DT_SAMPLER_SHUFFLE = 1
} dt_sampler_kind;

/* The order of samples 0..n-1 in `epoch` (perm has room for n). */
void dt_sampler_order(dt_sampler_kind kind, uint64_t seed, int64_t epoch, int64_t n,
                      int64_t *perm);

/* Steps in one epoch of n samples with global batch b: ceil(n / b). */
int64_t dt_sampler_steps(int64_t n, int64_t b);

/* Size of global batch `step` (0-based) of an epoch: b, or the remainder. */
int64_t dt_sampler_batch_size(int64_t n, int64_t b, int64_t step);

/* Rank `rank` of `world` takes positions [*lo, *hi) of a batch of `count`:
 * contiguous, sizes differ by at most one, earlier ranks larger. */
void dt_sampler_slice(int64_t count, int rank, int world, int64_t *lo, int64_t *hi);

/* Resampling for ensembles and cross-validation. Each is a pure function of
 * its seed and arguments (Philox-keyed), so every rank and every later
 * evaluation computes the same sets without storing them. */

/* A bootstrap sample of n draws with replacement from 0..n-1 for ensemble
 * member `member` (out has room for n; sorted ascending). About 1 - 1/e
 * (63.2%) of the indices appear at least once. */
void dt_sampler_bootstrap(uint64_t seed, int member, int64_t n, int64_t *out);

/* The indices of 0..n-1 that are absent from `sample` (sorted, m entries):
 * the out-of-bag set. Writes them to oob (room for n); returns the count. */
int64_t dt_sampler_out_of_bag(const int64_t *sample, int64_t m, int64_t n, int64_t *oob);

/* Positions [lo, hi) of the permutation drawn from `perm_rng` go to val
 * (room for hi - lo), all others to train (room for n); both sorted. The
 * common cut of a validation fraction and of a k-fold split. */
void dt_sampler_holdout(const dt_rng *perm_rng, int64_t n, int64_t lo, int64_t hi,
                        int64_t *train, int64_t *n_train, int64_t *val, int64_t *n_val);

/* Fold `fold` of a k-fold split of 0..n-1: a seeded permutation cut into k
 * parts of sizes differing by at most one. The fold's validation indices go
 * to val (room for n / k + 1) and all others to train (room for n), both
 * sorted; the counts to *n_val and *n_train. */
void dt_sampler_kfold(uint64_t seed, int64_t n, int k, int fold, int64_t *train,
                      int64_t *n_train, int64_t *val, int64_t *n_val);

#endif
