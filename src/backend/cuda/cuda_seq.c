/* The CUDA backend's sequence ops: launchers of the recurrent-cell steps,
 * masked row copies, sequence masks and lengths, and embeddings
 * (kernels_seq.cu), and of attention, token types and the per-token
 * cross-entropy (kernels_attn.cu). embed_forward and token_cross_entropy
 * return results to the host, so they wait for the stream, as the losses
 * do. */
#include <math.h>

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

/* Three (steps, steps) tiles per block of a chunk (kernels_attn.cu). */
int64_t dt_cuda_attention_workspace(int64_t steps, int64_t heads)
{
    (void)heads;
    return 3 * dt_cuk_attn_chunk_blocks(steps) * steps * steps;
}

/* The sample indices are host memory: with dropout they are copied next
 * to the kernels first. */
static void attention(const dt_attn_args *a, int backward)
{
    if (FAILED() || a->n <= 0) return;
    if (a->work_floats < dt_cuda_attention_workspace(a->steps, a->heads)) {
        dt_cuda_record("dtrain", "attention", __FILE__, __LINE__, "workspace too small",
                       "allocate attention_workspace(steps, heads) floats");
        return;
    }
    int64_t *dindex = NULL;
    if (a->dropout > 0.0f) {
        dindex = dt_cuda_scratch((size_t)a->n * sizeof(int64_t));
        if (!dindex ||
            !DT_CUDA_CHECK(cudaMemcpyAsync(dindex, a->index, (size_t)a->n * sizeof(int64_t),
                                           cudaMemcpyHostToDevice, ST())))
            return;
    }
    dt_cuk_attention(ST(), a, dindex, backward);
}

void dt_cuda_attention_forward(const dt_attn_args *a) { attention(a, 0); }

void dt_cuda_attention_backward(const dt_attn_args *a) { attention(a, 1); }

void dt_cuda_token_segments(const float *ids, int64_t rows, int64_t steps, float sep,
                            float *seg)
{
    if (!FAILED()) dt_cuk_token_segments(ST(), ids, rows, steps, sep, seg);
}

dt_loss_sums dt_cuda_token_cross_entropy(const float *logits, const float *labels,
                                         int64_t rows, int64_t classes, float smoothing,
                                         float scale, float *dx)
{
    double *rb = FAILED() ? NULL
                          : dt_cuda_scratch((size_t)(3 * (rows > 0 ? rows : 1)) * sizeof(double));
    if (!rb) return (dt_loss_sums){.loss = NAN};
    dt_cuk_token_cross_entropy(ST(), logits, labels, rows, classes, smoothing, scale, dx, rb,
                               dt_cuda_loss_sums());
    /* the third sum counts targets here, not top-5 rows */
    const dt_loss_sums s = dt_cuda_finish_loss();
    return (dt_loss_sums){.loss = s.loss, .correct = s.correct, .targets = s.correct5};
}
