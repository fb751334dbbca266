/* The communicator: an MPI communicator with its rank, size and node-local
 * rank, collectives over float and double buffers, splitting into groups,
 * and agreement on errors so that every rank stops together.
 *
 * Every MPI call goes through a checked wrapper; communicators use
 * MPI_ERRORS_RETURN so a failure becomes a dt_status naming the call, the
 * rank and MPI's own error string. */
#ifndef DT_DIST_COMM_H
#define DT_DIST_COMM_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

typedef struct dt_comm dt_comm;

/* Initialize MPI (thread level FUNNELED: only the main thread calls MPI)
 * if needed and wrap a duplicate of MPI_COMM_WORLD. */
dt_status dt_comm_init_world(int *argc, char ***argv, dt_comm **out);
/* Free the communicator; `finalize` also finalizes MPI. */
void dt_comm_destroy(dt_comm *c, int finalize);

int dt_comm_rank(const dt_comm *c);
int dt_comm_size(const dt_comm *c);
int dt_comm_local_rank(const dt_comm *c); /* rank among ranks on this node */
int dt_comm_local_size(const dt_comm *c);
MPI_Comm dt_comm_mpi(const dt_comm *c);

/* The NCCL communicator over the same ranks (dist/nccl.h), or NULL when
 * the ranks compute on CPUs. The comm owns it once set. */
typedef struct dt_nccl dt_nccl;
void dt_comm_set_nccl(dt_comm *c, dt_nccl *n);
dt_nccl *dt_comm_nccl(const dt_comm *c);

/* Ranks with the same colour form a new communicator, ordered by key. */
dt_status dt_comm_split(dt_comm *c, int colour, int key, dt_comm **out);

dt_status dt_comm_allreduce_f32(dt_comm *c, float *buf, int64_t n);  /* sum, in place */
dt_status dt_comm_allreduce_f64(dt_comm *c, double *buf, int64_t n); /* sum, in place */
dt_status dt_comm_allreduce_max_i64(dt_comm *c, int64_t *buf, int64_t n);
dt_status dt_comm_bcast(dt_comm *c, void *buf, int64_t bytes, int root);
/* Gather `bytes` from every rank into out (size * bytes), on every rank. */
dt_status dt_comm_allgather(dt_comm *c, const void *in, void *out, int64_t bytes);
dt_status dt_comm_barrier(dt_comm *c);

/* Collectives over a flat float vector cut into one contiguous part per
 * rank: rank r's part is [bounds[r], bounds[r + 1]) (size + 1 offsets,
 * increasing, bounds[0] = 0; parts may be empty). Host memory. */
/* Sum `full` (bounds[size] floats) over all ranks and leave this rank's
 * part of the sum in `part` (bounds[rank + 1] - bounds[rank] floats). */
dt_status dt_comm_reduce_scatter_f32(dt_comm *c, const float *full, float *part,
                                     const int64_t *bounds);
/* In place: every rank's part of `full` to every rank. */
dt_status dt_comm_allgather_parts_f32(dt_comm *c, float *full, const int64_t *bounds);
/* Rank `root` collects every rank's `part` into its `full` (other ranks
 * pass full = NULL). */
dt_status dt_comm_gather_parts_f32(dt_comm *c, const float *part, float *full,
                                   const int64_t *bounds, int root);
/* Rank `root` sends part r of its `full` to rank r, into `part`. */
dt_status dt_comm_scatter_parts_f32(dt_comm *c, const float *full, float *part,
                                    const int64_t *bounds, int root);

/* Collective: every rank passes its own status; if any failed, all return
 * the failure of the lowest failing rank, with its message (prefixed by
 * that rank when the world has several). */
dt_status dt_comm_agree(dt_comm *c, dt_status local);

/* Collective: DT_ERR_INTERNAL naming the first rank whose buffer differs
 * from rank 0's (by a 64-bit hash), `what` describing the buffer. */
dt_status dt_comm_check_same(dt_comm *c, const void *buf, int64_t bytes, const char *what);

/* Host names of all ranks, comma-separated (unique, in rank order), into buf. */
dt_status dt_comm_hosts(dt_comm *c, char *buf, int cap);

/* Bring the whole job down after an error only this rank saw. */
_Noreturn void dt_comm_abort(dt_comm *c, int code);

/* A checked MPI call: on failure, return DT_ERR_MPI naming the call. */
dt_status dt_mpi_check(int rc, const char *call, const char *file, int line);
#define DT_MPI(call) dt_mpi_check((call), #call, __FILE__, __LINE__)

#endif
