/* Bucketed, overlapped gradient all-reduce: MPI for gradients in host
 * memory, NCCL on a communication stream when the communicator has an NCCL
 * communicator (the gradients are then on the GPU). */
#include "dist/reducer.h"

#include <stdlib.h>
#include <string.h>

#include "dist/nccl.h"

struct dt_reducer {
    dt_comm *comm;
    float *grads;
    int64_t n;
    int n_buckets;
    int64_t *lo;          /* bucket b covers [lo[b], lo[b-1]) with lo[-1] = n */
    MPI_Request *req;
    dt_nccl *nccl;        /* set: the gradients live on the GPU */
    int started;          /* buckets started this step (from the end) */
    dt_reducer_stats stats;
    double (*sumsq)(const float *x, int64_t n); /* local norm tracking, or NULL */
    double local_sumsq;
    /* Sharded: shard bounds (size + 1), where this rank's summed shard
     * goes, and per bucket the MPI receive counts (size ints each). */
    int64_t *bounds;
    float *shard_out;
    int *counts;
};

dt_status dt_reducer_create(dt_comm *c, float *grads, int64_t n, int64_t bucket_bytes,
                            dt_reducer **out)
{
    dt_reducer *r = dt_calloc(1, sizeof *r);
    int64_t per = bucket_bytes / (int64_t)sizeof(float);
    if (per < 1024) per = 1024;
    if (per > (1 << 30)) per = 1 << 30;
    r->comm = c;
    r->nccl = dt_comm_nccl(c);
    r->grads = grads;
    r->n = n;
    r->n_buckets = (int)((n + per - 1) / per);
    if (r->n_buckets < 1) r->n_buckets = 1;
    r->lo = dt_calloc((size_t)r->n_buckets, sizeof *r->lo);
    r->req = dt_calloc((size_t)r->n_buckets, sizeof *r->req);
    for (int b = 0; b < r->n_buckets; b++) {
        const int64_t lo = n - (int64_t)(b + 1) * per;
        r->lo[b] = lo > 0 ? lo : 0;
        r->req[b] = MPI_REQUEST_NULL;
    }
    *out = r;
    return DT_OK;
}

void dt_reducer_destroy(dt_reducer *r)
{
    if (!r) return;
    free(r->lo);
    free(r->req);
    free(r->bounds);
    free(r->counts);
    free(r);
}

void dt_reducer_begin(dt_reducer *r)
{
    r->started = 0;
    r->local_sumsq = 0.0;
}

void dt_reducer_track_local(dt_reducer *r, double (*sumsq)(const float *x, int64_t n))
{
    r->sumsq = sumsq;
}

double dt_reducer_local_sumsq(const dt_reducer *r) { return r->local_sumsq; }

void dt_reducer_set_shard(dt_reducer *r, float *out, const int64_t *bounds)
{
    const int size = dt_comm_size(r->comm);
    r->shard_out = out;
    r->bounds = dt_calloc((size_t)size + 1, sizeof *r->bounds);
    memcpy(r->bounds, bounds, ((size_t)size + 1) * sizeof *bounds);
    r->counts = dt_calloc((size_t)(r->n_buckets * size), sizeof *r->counts);
    for (int b = 0; b < r->n_buckets; b++) {
        const int64_t lo = r->lo[b], hi = b == 0 ? r->n : r->lo[b - 1];
        for (int q = 0; q < size; q++) {
            const int64_t a = lo > bounds[q] ? lo : bounds[q];
            const int64_t e = hi < bounds[q + 1] ? hi : bounds[q + 1];
            r->counts[b * size + q] = e > a ? (int)(e - a) : 0;
        }
    }
}

/* Bucket b's part of this rank's shard: the sum lands in shard_out. */
static dt_status start_shard_bucket(dt_reducer *r, int b, int64_t lo, int64_t hi)
{
    const int me = dt_comm_rank(r->comm);
    if (r->nccl)
        return dt_nccl_reduce_scatter_start(r->nccl, r->grads, lo, hi, r->shard_out, r->bounds);
    const int64_t from = lo > r->bounds[me] ? lo : r->bounds[me];
    float *recv = r->shard_out + (from < r->bounds[me + 1] ? from - r->bounds[me] : 0);
    const int *counts = r->counts + (size_t)b * (size_t)dt_comm_size(r->comm);
    return DT_MPI(MPI_Ireduce_scatter(r->grads + lo, recv, counts, MPI_FLOAT, MPI_SUM,
                                      dt_comm_mpi(r->comm), &r->req[b]));
}

static dt_status start_bucket(dt_reducer *r, int b)
{
    const int64_t hi = b == 0 ? r->n : r->lo[b - 1];
    float *p = r->grads + r->lo[b];
    if (r->sumsq) r->local_sumsq += r->sumsq(p, hi - r->lo[b]);
    if (r->bounds) return start_shard_bucket(r, b, r->lo[b], hi);
    if (r->nccl) return dt_nccl_allreduce_start(r->nccl, p, hi - r->lo[b]);
    return DT_MPI(MPI_Iallreduce(MPI_IN_PLACE, p, (int)(hi - r->lo[b]), MPI_FLOAT, MPI_SUM,
                                 dt_comm_mpi(r->comm), &r->req[b]));
}

/* With NCCL even one rank runs the (trivial) collectives, so the GPU path
 * is the same on one GPU as on many. */
static int skip(const dt_reducer *r) { return !r->nccl && dt_comm_size(r->comm) == 1; }

dt_status dt_reducer_ready(dt_reducer *r, int64_t offset)
{
    if (skip(r)) return DT_OK;
    while (r->started < r->n_buckets && r->lo[r->started] >= offset) {
        DT_TRY(start_bucket(r, r->started));
        r->started++;
        r->stats.overlapped++;
    }
    if (r->nccl) return DT_OK; /* queued on the GPU: it progresses by itself */
    /* Drive progress of what is in flight: Open MPI advances non-blocking
     * collectives only inside MPI calls. */
    int flag;
    if (r->started) DT_TRY(DT_MPI(MPI_Testall(r->started, r->req, &flag, MPI_STATUSES_IGNORE)));
    return DT_OK;
}

dt_status dt_reducer_finish(dt_reducer *r)
{
    if (skip(r)) return DT_OK;
    const double t0 = MPI_Wtime();
    for (; r->started < r->n_buckets; r->started++) DT_TRY(start_bucket(r, r->started));
    if (r->nccl) DT_TRY(dt_nccl_wait(r->nccl, "gradient all-reduce"));
    else DT_TRY(DT_MPI(MPI_Waitall(r->n_buckets, r->req, MPI_STATUSES_IGNORE)));
    r->stats.wait_s += MPI_Wtime() - t0;
    r->stats.buckets += r->n_buckets;
    return DT_OK;
}

dt_reducer_stats dt_reducer_get_stats(const dt_reducer *r) { return r->stats; }
