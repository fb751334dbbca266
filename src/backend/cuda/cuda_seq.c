/* The CUDA backend's sequence ops: launchers of the recurrent-cell steps,
 * masked row copies, sequence masks and lengths, and embeddings
 * (kernels_seq.cu). embed_forward returns a count to the host, so it waits
 * for the stream, as the losses do. */
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernels.h"

#define FAILED() dt_cuda_failed()
#define ST() dt_cuda_compute_stream()

void dt_cuda_cell_forward(const dt_cell_step *s)
{
    if (!FAILED()) dt_cuk_cell(ST(), s, 0);
}

void dt_cuda_cell_backward(const dt_cell_step *s)
{
    if (!FAILED()) dt_cuk_cell(ST(), s, 1);
}

void dt_cuda_rows_copy(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                       int64_t cols, const float *mask, int64_t ld_mask)
{
    if (!FAILED()) dt_cuk_rows(ST(), dst, ldd, src, lds, rows, cols, mask, ld_mask, 0);
}

void dt_cuda_rows_add(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                      int64_t cols, const float *mask, int64_t ld_mask)
{
    if (!FAILED()) dt_cuk_rows(ST(), dst, ldd, src, lds, rows, cols, mask, ld_mask, 1);
}

void dt_cuda_seq_mask(const float *lengths, int64_t rows, int64_t steps, float *mask)
{
    if (!FAILED()) dt_cuk_seq_mask(ST(), lengths, rows, steps, mask);
}

void dt_cuda_seq_lengths(const float *ids, int64_t rows, int64_t steps, float pad,
                         float *lengths)
{
    if (!FAILED()) dt_cuk_seq_lengths(ST(), ids, rows, steps, pad, lengths);
}

/* Returns the ids out of range, or 0 after a failure (which sync reports). */
int64_t dt_cuda_embed_forward(const float *ids, int64_t n, const float *table, int64_t vocab,
                              int64_t dim, float *out)
{
    int64_t *bad = FAILED() ? NULL : dt_cuda_scratch(sizeof(int64_t));
    if (!bad || !DT_CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(int64_t), ST()))) return 0;
    dt_cuk_embed_forward(ST(), ids, n, table, vocab, dim, out, bad);
    int64_t count = 0;
    return dt_cuda_counts_to_host(&count, bad, 1) ? count : 0;
}

void dt_cuda_embed_backward(const float *ids, int64_t n, const float *dout, int64_t vocab,
                            int64_t dim, float *dtable)
{
    if (!FAILED()) dt_cuk_embed_backward(ST(), ids, n, dout, vocab, dim, dtable);
}
