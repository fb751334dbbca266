/* The CPU backend's sequence ops (cpu_rnn.c): recurrent cell steps, masked
 * row copies, sequence masks and embeddings. See backend/backend.h. */
#ifndef DT_BACKEND_CPU_RNN_H
#define DT_BACKEND_CPU_RNN_H

#include "backend/backend.h"

void dt_cpu_cell_forward(const dt_cell_step *s);
void dt_cpu_cell_backward(const dt_cell_step *s);
void dt_cpu_rows_copy(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                      int64_t cols, const float *mask, int64_t ld_mask);
void dt_cpu_rows_add(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                     int64_t cols, const float *mask, int64_t ld_mask);
void dt_cpu_seq_mask(const float *lengths, int64_t rows, int64_t steps, float *mask);
void dt_cpu_seq_lengths(const float *ids, int64_t rows, int64_t steps, float pad,
                        float *lengths);
int64_t dt_cpu_embed_forward(const float *ids, int64_t n, const float *table, int64_t vocab,
                             int64_t dim, float *out);
void dt_cpu_embed_backward(const float *ids, int64_t n, const float *dout, int64_t vocab,
                           int64_t dim, float *dtable);

#endif
