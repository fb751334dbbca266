/* The prefetching loader: a background thread reads the next batch.
 *
 * For each step the loader takes the epoch order from the sampler, cuts the
 * global batch, takes this rank's slice and reads it from the shard set into
 * one of two host buffers while the trainer computes on the other. The
 * trainer never waits on disk when the loader keeps up. Errors met by the
 * thread (a corrupt shard, a bad label) come back from dt_loader_next(). */
#ifndef DT_DATA_LOADER_H
#define DT_DATA_LOADER_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/sampler.h"

typedef struct dt_loader_config {
    int64_t global_batch; /* samples per step over all ranks */
    int rank, world;      /* this rank's slice of every global batch */
    dt_sampler_kind sampler;
    uint64_t seed;
    int prefetch; /* 0: read synchronously in dt_loader_next (no thread) */
    /* Train on these indices of the split (repeats allowed, e.g. a bootstrap
     * sample): epochs permute positions in this list. NULL: the whole split. */
    const int64_t *subset;
    int64_t subset_n;
} dt_loader_config;

typedef struct dt_batch {
    float *x;       /* n x numel(x_shape); owned by the loader, valid until next call */
    float *y;       /* n x y_dim */
    int64_t *index; /* the n global sample indices (keys for dropout etc.) */
    int n;          /* samples on this rank (may be 0) */
    int64_t global_n;  /* samples in the global batch; 0 at the end of the epoch */
    int64_t global_lo; /* position of this rank's first sample within the batch */
    int64_t epoch, step; /* step within the epoch, 0-based */
} dt_batch;

typedef struct dt_loader dt_loader;

dt_status dt_loader_create(dt_dataset *ds, const dt_loader_config *cfg, dt_loader **out);
void dt_loader_destroy(dt_loader *l);

/* Begin `epoch` at step `first_step` (non-zero when resuming mid-epoch). */
dt_status dt_loader_start_epoch(dt_loader *l, int64_t epoch, int64_t first_step);

/* The next batch of the epoch; b->global_n == 0 when the epoch is over. */
dt_status dt_loader_next(dt_loader *l, dt_batch *b);

/* Steps in one epoch. */
int64_t dt_loader_steps_per_epoch(const dt_loader *l);

#endif
