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

#endif
