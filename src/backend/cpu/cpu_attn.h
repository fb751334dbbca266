/* The CPU backend's transformer ops (cpu_attn.c): attention over (sample,
 * head) blocks, token types and the per-token cross-entropy. See
 * backend/backend.h. */
#ifndef DT_BACKEND_CPU_ATTN_H
#define DT_BACKEND_CPU_ATTN_H

#include "backend/backend.h"

int64_t dt_cpu_attention_workspace(int64_t steps, int64_t heads);
void dt_cpu_attention_forward(const dt_attn_args *a);
void dt_cpu_attention_backward(const dt_attn_args *a);
void dt_cpu_token_segments(const float *ids, int64_t rows, int64_t steps, float sep,
                           float *seg);
dt_loss_sums dt_cpu_token_cross_entropy(const float *logits, const float *labels, int64_t rows,
                                        int64_t classes, float smoothing, float scale,
                                        float *dx);

#endif
