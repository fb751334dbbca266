/* The NCCL communicator: creation over MPI, all-reduce on a communication
 * stream ordered by events, and a bounded wait that aborts on timeout.
 *
 * The communicator is non-blocking (ncclConfig_t.blocking = 0): creating
 * it and starting a collective return at once, possibly with NCCL still
 * working on the host (ncclInProgress), and this file polls
 * ncclCommGetAsyncError until the call has settled. So no NCCL call can
 * hang a rank: every wait, creation included, is bounded by the timeout
 * and ends with ncclCommAbort and an error naming the rank and the call. */
#include "dist/nccl.h"

#ifdef DT_HAVE_NCCL

#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backend/backend_cuda.h"
#include "backend/cuda/cuda_check.h"
#include "dist/comm.h"

struct dt_nccl {
    ncclComm_t comm;
    cudaStream_t stream;       /* communication stream */
    cudaEvent_t produced, done; /* compute -> comm, comm -> compute */
    int rank, size;
    double timeout_s;
    int aborted;
};

int dt_nccl_built(void) { return 1; }

static const char *nccl_hint(ncclResult_t r)
{
    switch (r) {
    case ncclUnhandledCudaError:
        return "a CUDA call inside NCCL failed: check the GPU with nvidia-smi";
    case ncclSystemError:
        return "a system call failed (shared memory, sockets): set NCCL_DEBUG=INFO for "
               "details; in containers, enlarge /dev/shm";
    case ncclInvalidUsage:
        return "two ranks of one communicator on the same GPU, or mismatched calls: check "
               "that each rank has its own GPU (runtime.gpu)";
    case ncclRemoteError: return "another rank failed or went away";
    default: return "set NCCL_DEBUG=INFO for details";
    }
}

/* A checked NCCL call: DT_ERR_BACKEND naming the call, file:line, rank,
 * NCCL's error string, its last message and a hint. */
static dt_status nccl_check(ncclResult_t r, const dt_nccl *n, const char *call,
                            const char *file, int line)
{
    if (r == ncclSuccess || r == ncclInProgress) return DT_OK;
    const char *last = ncclGetLastError(n ? n->comm : NULL);
    return dt_error_set(DT_ERR_BACKEND, "rank %d: NCCL call %s failed at %s:%d: %s%s%s "
                        "(hint: %s)", n ? n->rank : -1, call, file, line, ncclGetErrorString(r),
                        last && last[0] ? ": " : "", last ? last : "", nccl_hint(r));
}
#define DT_NCCL(n, call) nccl_check((call), (n), #call, __FILE__, __LINE__)

/* A checked CUDA runtime call in this file: its failure is recorded by the
 * backend (so later ops stop) and returned here. */
static dt_status cuda_ok(int ok)
{
    return ok ? DT_OK : dt_error_set(DT_ERR_BACKEND, "%s", dt_cuda_failure());
}
#define DT_CU(call) cuda_ok(DT_CUDA_CHECK(call))

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const struct timespec g_poll_pause = {0, 20000}; /* 20 us */

/* Abort the communicator after a failure or a timeout: later calls fail
 * at once with a message saying so. */
static void abort_comm(dt_nccl *n)
{
    if (n->comm && !n->aborted) ncclCommAbort(n->comm);
    n->aborted = 1;
}

static dt_status timed_out(dt_nccl *n, const char *what)
{
    abort_comm(n);
    return dt_error_set(DT_ERR_BACKEND, "rank %d: NCCL %s over %d ranks did not finish "
                        "within %.0f s (dist.timeout_s): another rank is stuck, died or runs "
                        "a different step; the NCCL communicator was aborted", n->rank, what,
                        n->size, n->timeout_s);
}

/* Wait until the host side of the last call on the communicator (its
 * creation, or a collective being queued) has settled: DT_OK when NCCL
 * reports success, an error (and the communicator aborted) when it reports
 * a failure or the timeout passes. */
static dt_status settle(dt_nccl *n, const char *what)
{
    const double t0 = now_s();
    for (;;) {
        ncclResult_t state = ncclSuccess;
        const ncclResult_t r = ncclCommGetAsyncError(n->comm, &state);
        if (r != ncclSuccess) state = r;
        if (state == ncclSuccess) return DT_OK;
        if (state != ncclInProgress) {
            const dt_status s = nccl_check(state, n, what, __FILE__, __LINE__);
            abort_comm(n);
            return s;
        }
        if (n->timeout_s > 0 && now_s() - t0 > n->timeout_s) return timed_out(n, what);
        nanosleep(&g_poll_pause, NULL);
    }
}

dt_status dt_nccl_create(dt_comm *c, double timeout_s, dt_nccl **out)
{
    *out = NULL;
    dt_nccl *n = dt_calloc(1, sizeof *n);
    n->rank = dt_comm_rank(c);
    n->size = dt_comm_size(c);
    n->timeout_s = timeout_s;

    /* Everything that can fail locally first, agreed on, so that no rank
     * enters ncclCommInitRank (which waits for all) alone. */
    ncclUniqueId id;
    dt_status s = dt_backend_cuda_device() >= 0
                      ? DT_OK
                      : dt_error_set(DT_ERR_INTERNAL, "rank %d: dt_nccl_create before the CUDA "
                                     "backend is open", n->rank);
    if (s == DT_OK && n->rank == 0) s = DT_NCCL(n, ncclGetUniqueId(&id));
    if (s == DT_OK) s = DT_CU(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking));
    if (s == DT_OK) s = DT_CU(cudaEventCreateWithFlags(&n->produced, cudaEventDisableTiming));
    if (s == DT_OK) s = DT_CU(cudaEventCreateWithFlags(&n->done, cudaEventDisableTiming));
    s = dt_comm_agree(c, s);
    if (s == DT_OK) s = dt_comm_bcast(c, &id, sizeof id, 0);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    if (s == DT_OK)
        s = DT_NCCL(n, ncclCommInitRankConfig(&n->comm, n->size, id, n->rank, &config));
    if (s == DT_OK) s = settle(n, "communicator creation (ncclCommInitRankConfig)");
    s = dt_comm_agree(c, s);
    if (s != DT_OK) {
        dt_nccl_destroy(n);
        return s;
    }
    *out = n;
    return DT_OK;
}

void dt_nccl_destroy(dt_nccl *n)
{
    if (!n) return;
    /* Destroyed once its last call has settled; one that fails to settle
     * has been aborted instead. */
    if (n->comm && !n->aborted && settle(n, "communicator destruction") == DT_OK)
        ncclCommDestroy(n->comm);
    if (n->done) cudaEventDestroy(n->done);
    if (n->produced) cudaEventDestroy(n->produced);
    if (n->stream) cudaStreamDestroy(n->stream);
    free(n);
}

/* Order the communication stream after the work queued so far on the
 * compute stream. */
static dt_status after_compute(dt_nccl *n)
{
    if (n->aborted)
        return dt_error_set(DT_ERR_BACKEND, "rank %d: the NCCL communicator was aborted "
                            "after an earlier failure", n->rank);
    cudaStream_t compute = (cudaStream_t)dt_backend_cuda_stream();
    DT_TRY(DT_CU(cudaEventRecord(n->produced, compute)));
    return DT_CU(cudaStreamWaitEvent(n->stream, n->produced, 0));
}

dt_status dt_nccl_allreduce_start(dt_nccl *n, float *buf, int64_t count)
{
    DT_TRY(after_compute(n));
    DT_TRY(DT_NCCL(n, ncclAllReduce(buf, buf, (size_t)count, ncclFloat, ncclSum, n->comm,
                                    n->stream)));
    return settle(n, "all-reduce (ncclAllReduce)");
}

dt_status dt_nccl_bcast_start(dt_nccl *n, void *buf, int64_t bytes, int root)
{
    DT_TRY(after_compute(n));
    DT_TRY(DT_NCCL(n, ncclBroadcast(buf, buf, (size_t)bytes, ncclChar, root, n->comm,
                                    n->stream)));
    return settle(n, "broadcast (ncclBroadcast)");
}

dt_status dt_nccl_allgather_start(dt_nccl *n, const void *in, void *out, int64_t bytes)
{
    DT_TRY(after_compute(n));
    DT_TRY(DT_NCCL(n, ncclAllGather(in, out, (size_t)bytes, ncclChar, n->comm, n->stream)));
    return settle(n, "all-gather (ncclAllGather)");
}

/* [lo, hi) clipped to rank r's part. */
static void clip_part(const int64_t *bounds, int r, int64_t lo, int64_t hi, int64_t *a,
                      int64_t *b)
{
    *a = lo > bounds[r] ? lo : bounds[r];
    *b = hi < bounds[r + 1] ? hi : bounds[r + 1];
}

dt_status dt_nccl_reduce_scatter_start(dt_nccl *n, const float *full, int64_t lo, int64_t hi,
                                       float *part_out, const int64_t *bounds)
{
    DT_TRY(after_compute(n));
    DT_TRY(DT_NCCL(n, ncclGroupStart()));
    dt_status s = DT_OK;
    for (int r = 0; s == DT_OK && r < n->size; r++) {
        int64_t a, b;
        clip_part(bounds, r, lo, hi, &a, &b);
        if (b <= a) continue;
        /* The receive buffer matters on the root only. */
        float *recv = r == n->rank ? part_out + (a - bounds[r]) : (float *)full + a;
        s = DT_NCCL(n, ncclReduce(full + a, recv, (size_t)(b - a), ncclFloat, ncclSum, r,
                                  n->comm, n->stream));
    }
    const dt_status e = DT_NCCL(n, ncclGroupEnd());
    if (s != DT_OK || e != DT_OK) return s != DT_OK ? s : e;
    return settle(n, "reduce-scatter (ncclReduce group)");
}

dt_status dt_nccl_allgather_parts_start(dt_nccl *n, float *full, const int64_t *bounds)
{
    DT_TRY(after_compute(n));
    DT_TRY(DT_NCCL(n, ncclGroupStart()));
    dt_status s = DT_OK;
    for (int r = 0; s == DT_OK && r < n->size; r++) {
        const int64_t count = bounds[r + 1] - bounds[r];
        if (count > 0)
            s = DT_NCCL(n, ncclBroadcast(full + bounds[r], full + bounds[r], (size_t)count,
                                         ncclFloat, r, n->comm, n->stream));
    }
    const dt_status e = DT_NCCL(n, ncclGroupEnd());
    if (s != DT_OK || e != DT_OK) return s != DT_OK ? s : e;
    return settle(n, "all-gather of parts (ncclBroadcast group)");
}

/* Poll the event and NCCL's asynchronous error until done or timed out. */
static dt_status poll_done(dt_nccl *n, const char *what)
{
    const double t0 = now_s();
    for (;;) {
        const cudaError_t q = cudaEventQuery(n->done);
        if (q == cudaSuccess) return DT_OK;
        if (q != cudaErrorNotReady)
            return cuda_ok(dt_cuda_check_rt(q, "cudaEventQuery", __FILE__, __LINE__));
        ncclResult_t async = ncclSuccess;
        DT_TRY(DT_NCCL(n, ncclCommGetAsyncError(n->comm, &async)));
        if (async != ncclSuccess && async != ncclInProgress) {
            const dt_status s = nccl_check(async, n, what, __FILE__, __LINE__);
            abort_comm(n);
            return s;
        }
        if (n->timeout_s > 0 && now_s() - t0 > n->timeout_s) return timed_out(n, what);
        nanosleep(&g_poll_pause, NULL);
    }
}

dt_status dt_nccl_wait(dt_nccl *n, const char *what)
{
    if (n->aborted)
        return dt_error_set(DT_ERR_BACKEND, "rank %d: the NCCL communicator was aborted "
                            "after an earlier failure", n->rank);
    DT_TRY(DT_CU(cudaEventRecord(n->done, n->stream)));
    DT_TRY(poll_done(n, what));
    cudaStream_t compute = (cudaStream_t)dt_backend_cuda_stream();
    return DT_CU(cudaStreamWaitEvent(compute, n->done, 0));
}

#else /* no NCCL in this build */

struct dt_nccl {
    int unused;
};

int dt_nccl_built(void) { return 0; }

dt_status dt_nccl_create(dt_comm *c, double timeout_s, dt_nccl **out)
{
    *out = NULL;
    return dt_error_set(DT_ERR_CONFIG, "this dtrain was built without NCCL, which GPU "
                        "training on several ranks needs (reconfigure with the CUDA toolkit's "
                        "NCCL, -DDT_NCCL=ON), or train on one rank");
}

void dt_nccl_destroy(dt_nccl *n) { (void)n; }

dt_status dt_nccl_allreduce_start(dt_nccl *n, float *buf, int64_t count)
{
    return dt_error_set(DT_ERR_INTERNAL, "NCCL all-reduce in a build without NCCL");
}

dt_status dt_nccl_wait(dt_nccl *n, const char *what)
{
    return dt_error_set(DT_ERR_INTERNAL, "NCCL wait in a build without NCCL");
}

dt_status dt_nccl_bcast_start(dt_nccl *n, void *buf, int64_t bytes, int root)
{
    return dt_error_set(DT_ERR_INTERNAL, "NCCL broadcast in a build without NCCL");
}

dt_status dt_nccl_allgather_start(dt_nccl *n, const void *in, void *out, int64_t bytes)
{
    return dt_error_set(DT_ERR_INTERNAL, "NCCL all-gather in a build without NCCL");
}

dt_status dt_nccl_reduce_scatter_start(dt_nccl *n, const float *full, int64_t lo, int64_t hi,
                                       float *part_out, const int64_t *bounds)
{
    return dt_error_set(DT_ERR_INTERNAL, "NCCL reduce-scatter in a build without NCCL");
}

dt_status dt_nccl_allgather_parts_start(dt_nccl *n, float *full, const int64_t *bounds)
{
    return dt_error_set(DT_ERR_INTERNAL, "NCCL all-gather in a build without NCCL");
}

#endif
