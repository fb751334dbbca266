/* The MPI communicator wrapper. */
#include "dist/comm.h"

#include "dist/nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dt_comm {
    MPI_Comm comm, node;
    int rank, size, local_rank, local_size;
    int owns_mpi;
    dt_nccl *nccl; /* GPU collectives over the same ranks, or NULL */
};

dt_status dt_mpi_check(int rc, const char *call, const char *file, int line)
{
    if (rc == MPI_SUCCESS) return DT_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0, rank = -1;
    MPI_Error_string(rc, msg, &len);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return dt_error_set(DT_ERR_MPI, "rank %d: %s failed at %s:%d: %s", rank, call, file, line,
                        msg);
}

static dt_status wrap(MPI_Comm comm, dt_comm **out)
{
    dt_comm *c = dt_calloc(1, sizeof *c);
    c->comm = comm;
    DT_TRY(DT_MPI(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN)));
    DT_TRY(DT_MPI(MPI_Comm_rank(comm, &c->rank)));
    DT_TRY(DT_MPI(MPI_Comm_size(comm, &c->size)));
    DT_TRY(DT_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                                      &c->node)));
    DT_TRY(DT_MPI(MPI_Comm_rank(c->node, &c->local_rank)));
    DT_TRY(DT_MPI(MPI_Comm_size(c->node, &c->local_size)));
    *out = c;
    return DT_OK;
}

dt_status dt_comm_init_world(int *argc, char ***argv, dt_comm **out)
{
    int inited = 0, provided;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return dt_error_set(DT_ERR_MPI, "MPI_Init_thread failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm dup;
    DT_TRY(DT_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &dup)));
    DT_TRY(wrap(dup, out));
    (*out)->owns_mpi = !inited;
    return DT_OK;
}

void dt_comm_destroy(dt_comm *c, int finalize)
{
    if (!c) return;
    dt_nccl_destroy(c->nccl);
    MPI_Comm_free(&c->node);
    MPI_Comm_free(&c->comm);
    free(c);
    int fin = 0;
    MPI_Finalized(&fin);
    if (finalize && !fin) MPI_Finalize();
}

int dt_comm_rank(const dt_comm *c) { return c->rank; }
int dt_comm_size(const dt_comm *c) { return c->size; }
int dt_comm_local_rank(const dt_comm *c) { return c->local_rank; }
int dt_comm_local_size(const dt_comm *c) { return c->local_size; }
MPI_Comm dt_comm_mpi(const dt_comm *c) { return c->comm; }

void dt_comm_set_nccl(dt_comm *c, dt_nccl *n)
{
    if (c->nccl && c->nccl != n) dt_nccl_destroy(c->nccl);
    c->nccl = n;
}

dt_nccl *dt_comm_nccl(const dt_comm *c) { return c->nccl; }

dt_status dt_comm_split(dt_comm *c, int colour, int key, dt_comm **out)
{
    MPI_Comm sub;
    DT_TRY(DT_MPI(MPI_Comm_split(c->comm, colour, key, &sub)));
    return wrap(sub, out);
}

/* MPI counts are int: large buffers go in pieces. */
#define DT_MPI_CHUNK (1 << 30)

dt_status dt_comm_allreduce_f32(dt_comm *c, float *buf, int64_t n)
{
    for (int64_t off = 0; off < n; off += DT_MPI_CHUNK) {
        const int cnt = (int)(n - off < DT_MPI_CHUNK ? n - off : DT_MPI_CHUNK);
        DT_TRY(DT_MPI(MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, c->comm)));
    }
    return DT_OK;
}

dt_status dt_comm_allreduce_f64(dt_comm *c, double *buf, int64_t n)
{
    return DT_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, c->comm));
}

dt_status dt_comm_allreduce_max_i64(dt_comm *c, int64_t *buf, int64_t n)
{
    return DT_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_INT64_T, MPI_MAX, c->comm));
}

dt_status dt_comm_bcast(dt_comm *c, void *buf, int64_t bytes, int root)
{
    char *p = buf;
    for (int64_t off = 0; off < bytes; off += DT_MPI_CHUNK) {
        const int cnt = (int)(bytes - off < DT_MPI_CHUNK ? bytes - off : DT_MPI_CHUNK);
        DT_TRY(DT_MPI(MPI_Bcast(p + off, cnt, MPI_BYTE, root, c->comm)));
    }
    return DT_OK;
}

dt_status dt_comm_allgather(dt_comm *c, const void *in, void *out, int64_t bytes)
{
    return DT_MPI(MPI_Allgather(in, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, c->comm));
}

dt_status dt_comm_barrier(dt_comm *c) { return DT_MPI(MPI_Barrier(c->comm)); }

/* MPI's int counts and displacements of the parts; an error (the same on
 * every rank, so none is left waiting) when a part or offset is too big. */
static dt_status part_counts(const dt_comm *c, const int64_t *bounds, int **counts, int **displs)
{
    if (bounds[c->size] > INT32_MAX)
        return dt_error_set(DT_ERR_INTERNAL, "rank %d: a vector of %lld floats is too long "
                            "for one MPI collective over parts", c->rank,
                            (long long)bounds[c->size]);
    *counts = dt_calloc((size_t)c->size, sizeof **counts);
    *displs = dt_calloc((size_t)c->size, sizeof **displs);
    for (int r = 0; r < c->size; r++) {
        (*counts)[r] = (int)(bounds[r + 1] - bounds[r]);
        (*displs)[r] = (int)bounds[r];
    }
    return DT_OK;
}

dt_status dt_comm_reduce_scatter_f32(dt_comm *c, const float *full, float *part,
                                     const int64_t *bounds)
{
    int *counts, *displs;
    DT_TRY(part_counts(c, bounds, &counts, &displs));
    const dt_status s = DT_MPI(MPI_Reduce_scatter(full, part, counts, MPI_FLOAT, MPI_SUM,
                                                  c->comm));
    free(counts);
    free(displs);
    return s;
}

dt_status dt_comm_allgather_parts_f32(dt_comm *c, float *full, const int64_t *bounds)
{
    int *counts, *displs;
    DT_TRY(part_counts(c, bounds, &counts, &displs));
    const dt_status s = DT_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, full, counts,
                                              displs, MPI_FLOAT, c->comm));
    free(counts);
    free(displs);
    return s;
}

dt_status dt_comm_gather_parts_f32(dt_comm *c, const float *part, float *full,
                                   const int64_t *bounds, int root)
{
    int *counts, *displs;
    DT_TRY(part_counts(c, bounds, &counts, &displs));
    const dt_status s = DT_MPI(MPI_Gatherv(part, counts[c->rank], MPI_FLOAT, full, counts,
                                           displs, MPI_FLOAT, root, c->comm));
    free(counts);
    free(displs);
    return s;
}

dt_status dt_comm_scatter_parts_f32(dt_comm *c, const float *full, float *part,
                                    const int64_t *bounds, int root)
{
    int *counts, *displs;
    DT_TRY(part_counts(c, bounds, &counts, &displs));
    const dt_status s = DT_MPI(MPI_Scatterv(full, counts, displs, MPI_FLOAT, part,
                                            counts[c->rank], MPI_FLOAT, root, c->comm));
    free(counts);
    free(displs);
    return s;
}

dt_status dt_comm_agree(dt_comm *c, dt_status local)
{
    /* The lowest failing rank wins: reduce (failed ? rank : size) by MIN. */
    int who = local != DT_OK ? c->rank : c->size;
    DT_TRY(DT_MPI(MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, c->comm)));
    if (who == c->size) return DT_OK;

    struct {
        int status;
        char msg[2000];
    } e = {0};
    if (c->rank == who) {
        e.status = (int)local;
        if (c->size > 1)
            snprintf(e.msg, sizeof e.msg, "rank %d: %s", who, dt_error_message());
        else
            snprintf(e.msg, sizeof e.msg, "%s", dt_error_message());
    }
    DT_TRY(DT_MPI(MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, who, c->comm)));
    return dt_error_set((dt_status)e.status, "%s", e.msg);
}

static uint64_t hash64(const void *buf, int64_t bytes)
{
    /* FNV-1a: a checksum for comparing buffers, not a security hash. */
    const unsigned char *p = buf;
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

dt_status dt_comm_check_same(dt_comm *c, const void *buf, int64_t bytes, const char *what)
{
    const uint64_t h = hash64(buf, bytes);
    uint64_t *all = dt_calloc((size_t)c->size, sizeof *all);
    const dt_status s = dt_comm_allgather(c, &h, all, sizeof h);
    int bad = -1;
    for (int r = 1; s == DT_OK && r < c->size && bad < 0; r++)
        if (all[r] != all[0]) bad = r;
    free(all);
    DT_TRY(s);
    if (bad >= 0)
        return dt_error_set(DT_ERR_INTERNAL, "%s differ between rank 0 and rank %d", what, bad);
    return DT_OK;
}

dt_status dt_comm_hosts(dt_comm *c, char *buf, int cap)
{
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len;
    MPI_Get_processor_name(name, &len);
    char *all = dt_calloc((size_t)c->size, MPI_MAX_PROCESSOR_NAME);
    const dt_status s = dt_comm_allgather(c, name, all, MPI_MAX_PROCESSOR_NAME);
    int used = 0;
    buf[0] = '\0';
    for (int r = 0; s == DT_OK && r < c->size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        int seen = 0;
        for (int q = 0; q < r && !seen; q++)
            seen = strcmp(h, all + (size_t)q * MPI_MAX_PROCESSOR_NAME) == 0;
        if (!seen && used < cap)
            used += snprintf(buf + used, (size_t)(cap - used), "%s%s", used ? "," : "", h);
    }
    free(all);
    return s;
}

void dt_comm_abort(dt_comm *c, int code)
{
    MPI_Abort(c ? c->comm : MPI_COMM_WORLD, code);
    exit(code);
}
