/* NCCL through dtrain's communicator and the bucketed reducer, one rank per
 * GPU (run under mpiexec with as many ranks as GPUs; one rank works too).
 *
 * 1. dt_nccl_allreduce_start/wait sums a device buffer over the ranks:
 *    rank r contributes r + 1 + i/n at element i, so the sum is known.
 * 2. Broadcast and all-gather through NCCL give every rank the root's
 *    buffer and every rank's value, exactly.
 * 3. The reducer cuts a gradient buffer into many small buckets, started
 *    as "backward" reports offsets; the values are written by a kernel
 *    queued just before each report, so a collective that did not wait
 *    for the compute stream would sum stale values and fail the check.
 * Sums of small integers and exact fractions are exact in float: the
 *    check is equality up to 1e-6 relative. */
#include <stdio.h>

#include "dist/comm.h"
#include "dist/nccl.h"
#include "dist/reducer.h"
#include "gpu_test.h"

static void test_allreduce(dt_comm *c, const dt_backend *be, dt_nccl *n)
{
    const int64_t count = 100003;
    const int rank = dt_comm_rank(c), size = dt_comm_size(c);
    float *h = malloc(count * sizeof(float)), *want = malloc(count * sizeof(float));
    for (int64_t i = 0; i < count; i++) {
        const float frac = (float)(i % 64) / 64.0f;
        h[i] = (float)(rank + 1) + frac;
        want[i] = (float)(size * (size + 1) / 2) + (float)size * frac;
    }
    float *d = dev_from(be, h, count);
    CHECK_OK(dt_nccl_allreduce_start(n, d, count));
    CHECK_OK(dt_nccl_wait(n, "test all-reduce"));
    compare("nccl all-reduce", be, d, want, count, 1e-6, 0.0);
    be->free(d);
    free(h);
    free(want);
}

/* Broadcast from the last rank and all-gather of one float per rank. */
static void test_bcast_allgather(dt_comm *c, const dt_backend *be, dt_nccl *n)
{
    const int rank = dt_comm_rank(c), size = dt_comm_size(c);
    float h[1000], want[1000];
    for (int i = 0; i < 1000; i++) {
        h[i] = (float)(rank * 1000 + i);
        want[i] = (float)((size - 1) * 1000 + i);
    }
    float *d = dev_from(be, h, 1000);
    CHECK_OK(dt_nccl_bcast_start(n, d, sizeof h, size - 1));
    CHECK_OK(dt_nccl_wait(n, "test broadcast"));
    compare("nccl broadcast", be, d, want, 1000, 0.0, 0.0);

    const float mine = (float)(rank + 1);
    float *all = be->alloc((size_t)size * sizeof(float)), *one = dev_from(be, &mine, 1);
    float *gathered = malloc((size_t)size * sizeof(float));
    for (int r = 0; r < size; r++) gathered[r] = (float)(r + 1);
    CHECK_OK(dt_nccl_allgather_start(n, one, all, sizeof(float)));
    CHECK_OK(dt_nccl_wait(n, "test all-gather"));
    compare("nccl all-gather", be, all, gathered, size, 0.0, 0.0);
    be->free(d);
    be->free(all);
    be->free(one);
    free(gathered);
}

static void test_reducer(dt_comm *c, const dt_backend *be)
{
    const int64_t n = 50021, pieces = 7;
    const int rank = dt_comm_rank(c), size = dt_comm_size(c);
    float *grads = be->alloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    dt_reducer *r = NULL;
    CHECK_OK(dt_reducer_create(c, grads, n, 4096 * sizeof(float), &r));
    if (!r) return;
    for (int step = 0; step < 3; step++) {
        dt_reducer_begin(r);
        /* "Backward": the last piece first, each written by a kernel just
         * before its offset is reported ready. */
        for (int64_t p = pieces - 1; p >= 0; p--) {
            const int64_t lo = p * n / pieces, hi = (p + 1) * n / pieces;
            be->fill(grads + lo, (float)((rank + 1) * (p + 1 + step)), hi - lo);
            for (int64_t i = lo; i < hi; i++)
                want[i] = (float)(size * (size + 1) / 2 * (p + 1 + step));
            CHECK_OK(dt_reducer_ready(r, lo));
        }
        CHECK_OK(dt_reducer_finish(r));
        char what[64];
        snprintf(what, sizeof what, "reducer step %d (%d ranks)", step + 1, size);
        compare(what, be, grads, want, n, 1e-6, 0.0);
    }
    const dt_reducer_stats st = dt_reducer_get_stats(r);
    CHECK(st.buckets == 3 * ((n + 4095) / 4096));
    CHECK(st.overlapped > 0);
    dt_reducer_destroy(r);
    be->free(grads);
    free(want);
}

int main(int argc, char **argv)
{
    dt_comm *c = NULL;
    if (dt_comm_init_world(&argc, &argv, &c) != DT_OK) {
        fprintf(stderr, "MPI: %s\n", dt_error_message());
        return 1;
    }
    const int local = dt_comm_local_rank(c), on_node = dt_comm_local_size(c);
    if (!dt_nccl_built() || dt_cuda_device_count() < on_node) {
        if (dt_comm_rank(c) == 0)
            printf("skipped: %s (%d GPU(s) for %d rank(s) on the node)\n",
                   dt_nccl_built() ? "fewer GPUs than ranks" : "built without NCCL",
                   dt_cuda_device_count(), on_node);
        dt_comm_destroy(c, 1);
        return DT_GPU_SKIP;
    }
    int skip;
    const dt_backend *be = gpu_open(local, &skip);
    dt_nccl *n = NULL;
    if (be) CHECK_OK(dt_nccl_create(c, 60.0, &n));
    if (n) {
        dt_comm_set_nccl(c, n);
        test_allreduce(c, be, n);
        test_bcast_allgather(c, be, n);
        test_reducer(c, be);
    }
    const int rc = dt_test_result();
    dt_comm_destroy(c, 1);
    return rc;
}
