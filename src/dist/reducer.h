/* The bucketed gradient reducer: overlaps the all-reduce with backward.
 *
 * The flat gradient buffer is cut into buckets of about `bucket_bytes`
 * from its END, because backward produces gradients last layer first and
 * parameters are laid out first layer first. When backward reports that the
 * gradients from some offset to the end are final, every bucket lying
 * wholly in that range starts a non-blocking MPI_Iallreduce at once, and
 * earlier requests are tested so MPI makes progress while the next layers
 * compute. dt_reducer_finish() starts what is left and waits for all.
 * Buckets are fixed, so the summation order, and therefore the result, is
 * the same in every step and every run with the same world size.
 *
 * With a shard set (dt_reducer_set_shard, the sharded optimizer), each
 * bucket is reduce-scattered instead: every rank receives the sum only of
 * the part of the bucket that lies in its own shard, into a buffer of the
 * shard's size, and the gradient buffer keeps this rank's local values.
 * That moves half the bytes of an all-reduce (the all-gather of the
 * updated parameters after the step is the other half). */
#ifndef DT_DIST_REDUCER_H
#define DT_DIST_REDUCER_H

#include "dist/comm.h"

typedef struct dt_reducer dt_reducer;

typedef struct dt_reducer_stats {
    int64_t buckets;
    double wait_s;     /* time spent blocked in dt_reducer_finish */
    int64_t overlapped; /* buckets started before finish (hidden behind backward) */
} dt_reducer_stats;

dt_status dt_reducer_create(dt_comm *c, float *grads, int64_t n, int64_t bucket_bytes,
                            dt_reducer **out);
void dt_reducer_destroy(dt_reducer *r);

/* Reduce-scatter instead of all-reduce: rank r's shard is [bounds[r],
 * bounds[r + 1]) of the gradients (size + 1 offsets, copied); after finish,
 * out[0, bounds[rank + 1] - bounds[rank]) holds this rank's shard summed
 * over all ranks. `out` is backend memory owned by the caller. */
void dt_reducer_set_shard(dt_reducer *r, float *out, const int64_t *bounds);

/* Start a step: nothing reduced yet. */
void dt_reducer_begin(dt_reducer *r);
/* grads[offset, n) are final: start the buckets inside. */
dt_status dt_reducer_ready(dt_reducer *r, int64_t offset);
/* Start the rest and wait until every bucket is summed over all ranks. */
dt_status dt_reducer_finish(dt_reducer *r);

/* Also sum the squares of this rank's local gradients as each bucket goes
 * out (before it is overwritten by the sum): `sumsq` is the backend's op,
 * NULL turns it off. Read after finish with dt_reducer_local_sumsq. */
void dt_reducer_track_local(dt_reducer *r, double (*sumsq)(const float *x, int64_t n));
double dt_reducer_local_sumsq(const dt_reducer *r);

/* Totals since creation. */
dt_reducer_stats dt_reducer_get_stats(const dt_reducer *r);

#endif
