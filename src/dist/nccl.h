/* GPU collectives through NCCL, for ranks whose buffers live on a GPU.
 *
 * A dt_nccl is the NCCL communicator over the ranks of one dt_comm (each
 * dt_comm, groups included, gets its own), made from a unique id that rank
 * 0 creates and broadcasts over MPI. Collectives run on a communication
 * stream of their own: a collective started now waits (through an event)
 * for the kernels queued so far on the backend's compute stream, and
 * dt_nccl_wait() makes the compute stream wait for the collectives, so
 * gradients are summed as soon as they are computed and the optimizer
 * reads them only when summed. A collective that does not finish within
 * the timeout aborts the communicator (ncclCommAbort) and becomes an error
 * naming the rank and the collective, instead of a hang.
 *
 * In a build without NCCL these functions exist and fail with a message. */
#ifndef DT_DIST_NCCL_H
#define DT_DIST_NCCL_H

#include <stdint.h>

#include "core/status.h"

typedef struct dt_comm dt_comm;
typedef struct dt_nccl dt_nccl;

/* 1 if this build has NCCL. */
int dt_nccl_built(void);

/* Collective over `c`: every rank must have opened the CUDA backend on its
 * GPU first. `timeout_s` bounds each dt_nccl_wait (0: no bound). Owned by
 * the caller (usually attached to the dt_comm with dt_comm_set_nccl). */
dt_status dt_nccl_create(dt_comm *c, double timeout_s, dt_nccl **out);
void dt_nccl_destroy(dt_nccl *n);

/* Start summing buf[0, count) (device floats) over all ranks, in place,
 * after the work queued on the compute stream. Returns once queued. */
dt_status dt_nccl_allreduce_start(dt_nccl *n, float *buf, int64_t count);

/* Start broadcasting buf[0, bytes) (device memory) from `root` to every
 * rank, after the work queued on the compute stream. */
dt_status dt_nccl_bcast_start(dt_nccl *n, void *buf, int64_t bytes, int root);

/* Start gathering `bytes` from every rank into out (size * bytes, rank
 * order), all device memory. */
dt_status dt_nccl_allgather_start(dt_nccl *n, const void *in, void *out, int64_t bytes);

/* Over a vector cut into one part per rank, rank r's part being
 * [bounds[r], bounds[r + 1]) (as in dist/comm.h), device floats. Parts may
 * differ in size, which ncclReduceScatter and ncclAllGather do not allow,
 * so these are one NCCL group of a reduce (or broadcast) per part.
 * Start summing full[lo, hi) over all ranks, this rank's share of that
 * range (its part clipped to it) going to part_out, which holds the part
 * from its start: the bucketed reduce-scatter of the sharded optimizer. */
dt_status dt_nccl_reduce_scatter_start(dt_nccl *n, const float *full, int64_t lo, int64_t hi,
                                       float *part_out, const int64_t *bounds);
/* Start sending every rank's part of `full` to every rank, in place. */
dt_status dt_nccl_allgather_parts_start(dt_nccl *n, float *full, const int64_t *bounds);

/* Wait for every collective started so far; `what` names them in errors
 * ("gradient all-reduce"). Orders the compute stream after them. */
dt_status dt_nccl_wait(dt_nccl *n, const char *what);

#endif
