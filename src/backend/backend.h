/* The backend interface: every numeric operation dtrain performs, as a table
 * of functions over device pointers.
 *
 * Layers, losses and optimizers call these and never ask which device they
 * run on, so one layer implementation serves every backend. The CPU backend
 * (OpenBLAS + OpenMP) always exists and is the reference for the others.
 *
 * Conventions. Matrices are row-major. Backward operations ADD into their
 * input-gradient outputs (dx += ...), because a tensor consumed by several
 * layers receives the sum of their gradients; callers zero gradients first.
 * Shapes are given in the comments as (rows, cols). Pointers are device
 * pointers (memory from the backend's alloc) unless a comment says host.
 *
 * Every member after `device` is a function pointer and every backend fills
 * its table with designated initializers: dt_backend_check_complete() walks
 * the members generically (their names are read from this header at build
 * time), so an op added here and missing from a backend is reported by name
 * when that backend is created, never called as NULL. */
#ifndef DT_BACKEND_BACKEND_H
#define DT_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"
#include "core/tensor.h"

typedef enum dt_act {
    DT_ACT_IDENTITY = 0,
    DT_ACT_RELU,
    DT_ACT_LEAKY_RELU, /* alpha: negative slope */
    DT_ACT_SIGMOID,
    DT_ACT_TANH,
    DT_ACT_GELU, /* exact form, x * Phi(x), as torch.nn.GELU() */
    DT_ACT_COUNT
} dt_act;

/* Sums a loss op returns to the host. */
typedef struct dt_loss_sums {
    double loss;    /* sum over the rows of the per-sample loss */
    int64_t correct; /* classification: rows whose arg-max equals the label */
    int64_t correct5; /* rows whose label is among the 5 largest logits */
    int64_t targets;  /* token losses: rows that have a label (not -1) */
} dt_loss_sums;

/* Geometry of a 2-d convolution over NCHW images, PyTorch's conventions:
 * oh = (h + 2 ph - dh (kh - 1) - 1) / sh + 1, likewise ow; the weight is
 * (oc, c / groups, kh, kw). A transposed convolution runs as the data
 * gradient of the convolution that maps its output to its input. */
typedef struct dt_conv_geom {
    int64_t c, h, w;    /* input channels and size */
    int64_t oc, oh, ow; /* output channels and size */
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t groups;
} dt_conv_geom;

/* Geometry of max / average pooling. Average pooling divides by the window
 * clipped to the padded input (count_pad) or to the input itself. */
typedef struct dt_pool_geom {
    int64_t c, h, w, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw;
    int max;       /* 1: max pooling, 0: average */
    int count_pad; /* average: padding counts in the divisor */
} dt_pool_geom;

/* Hyper-parameters of the fused optimizer steps. */
typedef struct dt_sgd_args {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
    int first; /* the first step: the momentum buffer starts as the gradient */
} dt_sgd_args;

typedef struct dt_adam_args {
    float lr, beta1, beta2, eps, weight_decay;
    int decoupled; /* AdamW: decay applied to the weights, not the gradient */
    int64_t step;  /* 1-based, for bias correction */
} dt_adam_args;

/* The per-step scalars every backend derives from dt_adam_args and
 * dt_sgd_args, in one place so that all devices round them alike: Adam's
 * bias-corrected step size lr / (1 - beta1^t) and 1 / sqrt(1 - beta2^t), the
 * decoupled decay factor and the L2 coefficient, and for LAMB's direction
 * the corrections 1 / (1 - beta1^t) and 1 / (1 - beta2^t); SGD's momentum
 * carry and gradient take of this step. */
typedef struct dt_adam_scalars {
    float step_size, inv_sqrt_bc2, decay, l2;
    float inv_bc1, inv_bc2;
} dt_adam_scalars;
/* Adagrad, Adadelta and RMSprop (update rules in optim/optim.h). */
typedef struct dt_adagrad_args {
    float lr, eps, weight_decay; /* lr: the decayed rate of this step */
} dt_adagrad_args;

typedef struct dt_adadelta_args {
    float lr, rho, eps, weight_decay;
} dt_adadelta_args;

typedef struct dt_rmsprop_args {
    float lr, alpha, eps, weight_decay, momentum;
} dt_rmsprop_args;
/* ---- recurrent cells (CPU: cpu/cpu_rnn.c) ----
 * One time step of a recurrent cell over `rows` sequences of `hidden`
 * units. Matrices are row-major with the given leading dimensions (row
 * strides, in floats), so a step reads and writes rows of larger (B, T, ...)
 * buffers in place. G is the number of gate blocks: 1 (rnn), 4 (lstm, in
 * the order i, f, g, o), 3 (gru, in the order r, z, n).
 *
 * Forward: `gates` (rows, G*H) holds the pre-activations (input projection
 * plus, for rnn and lstm, the hidden projection and both biases) and is
 * overwritten with the activated gates, which backward reads. GRU keeps its
 * hidden projection apart: `hproj` (rows, 3H) is W_hh h_prev + b_hh, and its
 * n block is saved into `hn` (rows, H) for backward. A row whose mask is 0
 * is padding: its state is carried over unchanged (h = h_prev, c = c_prev).
 *
 * Backward: `dh` (rows, H) is d(loss)/d(h) of this step, `dc` (rows, H,
 * lstm) d/d(c), replaced by d/d(c_prev). The op writes the gate gradients
 * `dgates` (rows, G*H) with respect to the input-side pre-activations and
 * `dgates_h` (gru only; rows, 3H) with respect to the hidden projection,
 * and `dh_prev` (rows, H), the part of d/d(h_prev) that does not pass
 * through W_hh (the caller adds dgates_h W_hh). Padding rows get zero gate
 * gradients and pass dh and dc through. */
typedef enum dt_cell_kind { DT_CELL_RNN = 0, DT_CELL_LSTM, DT_CELL_GRU } dt_cell_kind;

typedef struct dt_cell_step {
    dt_cell_kind kind;
    dt_act act;        /* rnn: DT_ACT_TANH or DT_ACT_RELU */
    float forget_bias; /* lstm: added to the f pre-activation (0: PyTorch's cell) */
    int64_t rows, hidden;
    float *gates;
    int64_t ld_gates;
    const float *h_prev, *c_prev; /* ld_state */
    float *h, *c;                 /* ld_state */
    int64_t ld_state;
    const float *mask; /* mask[r * ld_mask]: 1 valid, 0 padding; NULL: all valid */
    int64_t ld_mask;
    const float *hproj; /* gru, dense (rows, 3H) */
    float *hn;          /* gru, ld_hn */
    int64_t ld_hn;
    /* backward */
    const float *dh; /* dense (rows, H) */
    float *dc;       /* lstm, dense (rows, H), in place */
    float *dh_prev;  /* dense (rows, H) */
    float *dgates, *dgates_h; /* ld_dgates */
    int64_t ld_dgates;
} dt_cell_step;

/* ---- attention (CPU: cpu/cpu_attn.c) ----
 * Scaled dot-product self-attention over the (sample, head) blocks of a
 * batch of n sequences of T steps, C = heads * D channels. Block (b, h)
 * reads its queries, keys and values from columns h*D, C + h*D and 2C + h*D
 * of the rows of sample b in qkv, forms the (T, T) scores
 * S = scale * Q K^T, a softmax over the keys a query may see (key j < the
 * sample's length, and j <= i when causal; none: the row is 0), optional
 * inverted dropout on those probabilities, and writes P V into columns h*D
 * of ctx. Dropout keeps probability (i, j) of block (b, h) when uniform
 * number ((index[b] * heads + h) * T + i) * T + j of `rng` is >= p, so a
 * sample's mask depends on its global index alone. Backward recomputes the
 * probabilities from qkv (nothing of size T x T is kept between the
 * passes) and writes (overwrites) dqkv from dctx. */
typedef struct dt_attn_args {
    int64_t n, steps, heads, head_dim;
    const float *qkv;     /* (n, T, 3C) */
    float *ctx;           /* (n, T, C), forward output */
    const float *lengths; /* (n) valid keys per sample; NULL: all T */
    int causal;
    float scale;          /* usually 1 / sqrt(D) */
    float dropout;        /* p; 0: none (evaluation) */
    const dt_rng *rng;    /* host; used when dropout > 0 */
    const int64_t *index; /* host; global sample indices, when dropout > 0 */
    const float *dctx;    /* (n, T, C), backward input */
    float *dqkv;          /* (n, T, 3C), backward output */
    float *work;          /* attention_workspace(T, heads) floats */
    int64_t work_floats;
} dt_attn_args;

typedef struct dt_backend {
    const char *name;
    dt_device device;

    /* Memory. Buffers from alloc are 64-byte aligned and zeroed. */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*to_device)(void *dst, const void *src, size_t bytes);
    void (*to_host)(void *dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*fill)(float *x, float value, int64_t n);

    /* C(m,n) = alpha * op(A) op(B) + beta * C, op(A) (m,k), op(B) (k,n). */
    void (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
    /* y(rows,cols) += bias(cols) broadcast over rows. */
    void (*add_bias)(float *y, const float *bias, int64_t rows, int64_t cols);
    /* out(cols) = beta * out + sum over rows of x(rows,cols). */
    void (*sum_rows)(float *out, const float *x, int64_t rows, int64_t cols, float beta);
    /* y += a * x */
    void (*axpy)(float *y, const float *x, float a, int64_t n);
    void (*scale)(float *x, float a, int64_t n);
    /* Sum of squares, accumulated in double. */
    double (*sumsq)(const float *x, int64_t n);
    /* 1 if every element is finite. */
    int (*all_finite)(const float *x, int64_t n);

    /* y = f(x); dx += f'(x) * dy (y is f(x), for activations that use it). */
    void (*act_forward)(dt_act act, float alpha, const float *x, float *y, int64_t n);
    void (*act_backward)(dt_act act, float alpha, const float *x, const float *y,
                         const float *dy, float *dx, int64_t n);
    /* Row-wise softmax of x(rows,cols); dx += y * (dy - sum(dy * y)). */
    void (*softmax_forward)(const float *x, float *y, int64_t rows, int64_t cols);
    void (*softmax_backward)(const float *y, const float *dy, float *dx, int64_t rows,
                             int64_t cols);

    /* Inverted dropout on x(rows,cols): element (r, j) is kept with
     * probability 1-p, decided by uniform number index[r]*cols + j of the
     * stream `rng`; mask(rows,cols) holds 0 or 1/(1-p) for backward. The
     * decision depends on the global sample index, never on the rank.
     * `index` and `rng` are host memory. */
    void (*dropout_forward)(const float *x, float *y, float *mask, int64_t rows, int64_t cols,
                            const int64_t *index, const dt_rng *rng, float p);
    /* dx += dy * mask */
    void (*mul_add)(float *dx, const float *dy, const float *mask, int64_t n);

    /* Losses over rows samples. Each writes d(loss)/d(input) scaled by
     * `scale` (1 / global batch) into dx (overwrite) and returns the sums.
     * Cross-entropy: logits(rows,classes), labels(rows) as exact integers;
     * target = (1-s) one-hot + s/classes (label smoothing s). */
    dt_loss_sums (*cross_entropy)(const float *logits, const float *labels, int64_t rows,
                                  int64_t classes, float smoothing, float scale, float *dx);
    /* MSE: per-sample loss = mean over dim of (pred - target)^2. */
    dt_loss_sums (*mse)(const float *pred, const float *target, int64_t rows, int64_t dim,
                        float scale, float *dx);
    /* Gaussian NLL: pred(rows, 2*dim) = [mean | log-variance]; per-sample
     * loss = mean over dim of 0.5 * (logvar + (y - mean)^2 / exp(logvar)),
     * as torch.nn.GaussianNLLLoss (full=False) with var = exp(logvar). */
    dt_loss_sums (*gaussian_nll)(const float *pred, const float *target, int64_t rows,
                                 int64_t dim, float scale, float *dx);

    /* Optimizer steps over flat buffers of n parameters (see optim/). */
    void (*sgd_step)(float *p, const float *g, float *v, int64_t n, const dt_sgd_args *a);
    void (*adam_step)(float *p, const float *g, float *m, float *v, int64_t n,
                      const dt_adam_args *a);

    /* More optimizer steps over flat buffers (see optim/optim.h). State
     * buffers an option does not use are NULL (rmsprop: buf without
     * momentum, gavg unless centered). */
    void (*amsgrad_step)(float *p, const float *g, float *m, float *v, float *vmax, int64_t n,
                         const dt_adam_args *a);
    void (*adagrad_step)(float *p, const float *g, float *sum, int64_t n,
                         const dt_adagrad_args *a);
    void (*adadelta_step)(float *p, const float *g, float *sq, float *acc, int64_t n,
                          const dt_adadelta_args *a);
    void (*rmsprop_step)(float *p, const float *g, float *sq, float *buf, float *gavg,
                         int64_t n, const dt_rmsprop_args *a);
    /* LAMB's direction before the trust ratio: updates m and v as Adam
     * does and writes u = m_hat / (sqrt(v_hat) + eps) + weight_decay * p. */
    void (*lamb_direction)(const float *p, const float *g, float *m, float *v, float *u,
                           int64_t n, const dt_adam_args *a);
    /* ---- Convolutional networks (cpu_conv.c). Images are NCHW: x (n, c, h, w).
     * Backward ops ADD into dx; `beta` scales what a parameter gradient held
     * (0: overwrite). `work` is scratch of conv2d_workspace floats, shared by
     * all layers of a model. ---- */
    int64_t (*conv2d_workspace)(const dt_conv_geom *g);
    /* y (n, oc, oh, ow) = beta * y + conv(x, w) + bias (bias may be NULL). */
    void (*conv2d_forward)(const dt_conv_geom *g, int64_t n, const float *x, const float *w,
                           const float *bias, float *y, float beta, float *work);
    /* dx (n, c, h, w) += conv^T(dy, w) */
    void (*conv2d_backward_data)(const dt_conv_geom *g, int64_t n, const float *dy,
                                 const float *w, float *dx, float *work);
    /* dw = beta dw + sum_n dy (*) x ; db = beta db + sums of dy (db may be NULL) */
    void (*conv2d_backward_filter)(const dt_conv_geom *g, int64_t n, const float *x,
                                   const float *dy, float *dw, float *db, float beta,
                                   float *work);
    /* y (n, c, hw) += b (c) ; db (c) = beta db + sum over n and hw of dy */
    void (*channel_bias_add)(float *y, const float *b, int64_t n, int64_t c, int64_t hw);
    void (*channel_sum)(float *db, const float *dy, int64_t n, int64_t c, int64_t hw,
                        float beta);
    /* Pooling; max pooling records the arg-max (index in the h*w plane) of
     * every output in `arg` (n, c, oh, ow). */
    void (*pool2d_forward)(const dt_pool_geom *g, int64_t n, const float *x, float *y,
                           int32_t *arg);
    void (*pool2d_backward)(const dt_pool_geom *g, int64_t n, const float *dy,
                            const int32_t *arg, float *dx);
    /* Batch statistics of x (n, c, hw) per channel: mean and biased variance. */
    void (*batchnorm_stats)(const float *x, int64_t n, int64_t c, int64_t hw, float *mean,
                            float *var);
    /* y = gamma (x - mean) rstd + beta per channel, rstd = 1 / sqrt(var + eps)
     * written to rstd (c). */
    void (*batchnorm_forward)(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                              const float *mean, const float *var, float eps,
                              const float *gamma, const float *beta, float *rstd);
    /* Gradients; `batch_stats` says mean and rstd came from this batch (training),
     * so dx includes their dependence on x. */
    void (*batchnorm_backward)(const float *x, const float *dy, float *dx, int64_t n,
                               int64_t c, int64_t hw, const float *mean, const float *rstd,
                               const float *gamma, float *dgamma, float *dbeta, float beta,
                               int batch_stats);
    /* Group normalization of x (n, c, hw): statistics per sample and group of
     * c / groups channels; affine per channel, or per element of (c, hw) when
     * per_elem (layer norm); gamma NULL: no affine. stats (n * groups * 2):
     * mean, rstd. */
    void (*groupnorm_forward)(const float *x, float *y, int64_t n, int64_t c, int64_t hw,
                              int64_t groups, float eps, const float *gamma,
                              const float *beta, int per_elem, float *stats);
    void (*groupnorm_backward)(const float *x, const float *dy, float *dx, int64_t n,
                               int64_t c, int64_t hw, int64_t groups, const float *gamma,
                               int per_elem, const float *stats, float *dgamma, float *dbeta,
                               float beta);
    /* Local response normalization across channels, as torch's:
     * y = x / d^b, d = k + a / size * (sum of x^2 over `size` channels around);
     * d (n, c, hw) is kept for backward. */
    void (*lrn_forward)(const float *x, float *y, float *d, int64_t n, int64_t c, int64_t hw,
                        int64_t size, float alpha, float beta, float k);
    void (*lrn_backward)(const float *x, const float *d, const float *dy, float *dx,
                         int64_t n, int64_t c, int64_t hw, int64_t size, float alpha,
                         float beta);
    /* Upsampling of planes (planes, h, w) to (planes, oh, ow): nearest, or
     * bilinear with align_corners false. */
    void (*upsample_forward)(int bilinear, const float *x, float *y, int64_t planes, int64_t h,
                             int64_t w, int64_t oh, int64_t ow);
    void (*upsample_backward)(int bilinear, const float *dy, float *dx, int64_t planes,
                              int64_t h, int64_t w, int64_t oh, int64_t ow);
    /* Per-pixel cross-entropy: logits (rows, classes, hw), labels (rows, hw).
     * A sample's loss is the mean over its pixels; correct counts pixels.
     * confusion (classes x classes, [label][prediction], host memory) is
     * added to when not NULL. */
    dt_loss_sums (*cross_entropy_pixels)(const float *logits, const float *labels,
                                         int64_t rows, int64_t classes, int64_t hw,
                                         float smoothing, float scale, float *dx,
                                         int64_t *confusion);
    /* ---- sequences (CPU: cpu/cpu_rnn.c) ---- */
    /* One step of a recurrent cell, forward or backward (see dt_cell_step). */
    void (*cell_forward)(const dt_cell_step *s);
    void (*cell_backward)(const dt_cell_step *s);
    /* dst(rows, cols) = src where mask[r * ld_mask] != 0, else 0; src NULL
     * writes zeros; mask NULL keeps every row. Leading dimensions ldd, lds. */
    void (*rows_copy)(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                      int64_t cols, const float *mask, int64_t ld_mask);
    /* dst(rows, cols) += src where the mask is not 0 (as rows_copy). */
    void (*rows_add)(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                     int64_t cols, const float *mask, int64_t ld_mask);
    /* mask(rows, steps) = 1 where t < lengths[r], else 0. */
    void (*seq_mask)(const float *lengths, int64_t rows, int64_t steps, float *mask);
    /* lengths(rows) = the first t with ids(rows, steps)[r, t] == pad, else steps. */
    void (*seq_lengths)(const float *ids, int64_t rows, int64_t steps, float pad,
                        float *lengths);
    /* Embedding: out(n, dim) = table[ids[i]] (ids as exact integers; an id
     * outside [0, vocab) gives a zero row); backward dtable[ids[i]] += dout[i]
     * in a fixed order. Returns the number of ids out of range. */
    int64_t (*embed_forward)(const float *ids, int64_t n, const float *table, int64_t vocab,
                             int64_t dim, float *out);
    void (*embed_backward)(const float *ids, int64_t n, const float *dout, int64_t vocab,
                           int64_t dim, float *dtable);
    /* ---- transformers (CPU: cpu/cpu_attn.c) ---- */
    /* Floats of workspace the attention ops need for sequences of `steps`
     * (independent of the batch; one block serves every layer). */
    int64_t (*attention_workspace)(int64_t steps, int64_t heads);
    void (*attention_forward)(const dt_attn_args *a);
    void (*attention_backward)(const dt_attn_args *a);
    /* seg(rows, steps) = 0 up to and including the first id equal to `sep`
     * in each row of ids(rows, steps), 1 after it (BERT's token types of
     * [CLS] A [SEP] B [SEP]); a row without `sep` is all 0. */
    void (*token_segments)(const float *ids, int64_t rows, int64_t steps, float sep,
                           float *seg);
    /* Cross-entropy per token: logits(rows, classes), labels(rows) as exact
     * integers, where a label outside [0, classes) (-1 by convention) is no
     * target: its row adds nothing and gets a zero gradient. dx (overwrite)
     * = scale * (softmax - target) on target rows, target = (1-s) one-hot +
     * s/classes. Returns the loss summed over target rows, the target rows
     * whose arg-max is the label (correct) and the number of targets. */
    dt_loss_sums (*token_cross_entropy)(const float *logits, const float *labels,
                                        int64_t rows, int64_t classes, float smoothing,
                                        float scale, float *dx);
    /* Copy count host buffers src[i] (bytes[i] each) to device buffers
     * dst[i] without waiting: a training batch goes up while the previous
     * step still computes. The host data is taken at once (staged through
     * pinned memory), so src may be reused on return. The copies run on a
     * stream of their own after the work queued before the PREVIOUS upload
     * call, overlapping the work queued since; work queued after this call
     * sees the data. A caller alternating between two sets of device
     * buffers (one step's batch read while the next one is copied) needs
     * nothing more. CPU: plain copies. */
    void (*upload)(void *const *dst, const void *const *src, const size_t *bytes, int count);
    /* Device control: wait for the work queued so far and report the first
     * failed device call since the backend was created (DT_ERR_BACKEND with
     * the call, file:line and the library's message); the CPU has none. */
    dt_status (*sync)(void);
} dt_backend;

dt_adam_scalars dt_adam_scalars_of(const dt_adam_args *a);
/* SGD with momentum: buffer v = carry v + take (g + wd p) this step. */
void dt_sgd_carry_take(const dt_sgd_args *a, float *carry, float *take);

/* DT_OK if every op of `be` is set; else DT_ERR_INTERNAL naming the first
 * missing op and the backend. */
dt_status dt_backend_check_complete(const dt_backend *be);

/* Number of ops in the table and the name of op i (in declaration order). */
int dt_backend_op_count(void);
const char *dt_backend_op_name(int i);

/* The backends and communicators this build holds, one line each
 * ("backends: cpu (OpenBLAS + OpenMP), cuda (...)"), for --version. */
const char *dt_build_features(void);

/* The CPU backend (always present). */
const dt_backend *dt_backend_cpu(void);

/* Threads for the CPU backend (OpenMP and OpenBLAS share one pool). */
void dt_backend_cpu_set_threads(int n);
int dt_backend_cpu_threads(void);

/* Threads to use on this rank when the user did not say: the cores this
 * process may run on, shared among the `local_ranks` ranks of the node. */
int dt_backend_cpu_default_threads(int local_ranks);

/* The OpenBLAS kernel set to ask for (a value for OPENBLAS_CORETYPE) when
 * the library failed to recognize this CPU and fell back to kernels far
 * below what it supports; NULL when all is well or the user chose. */
const char *dt_backend_cpu_blas_core_hint(void);
/* OpenBLAS's build configuration and the kernels in use, for reports. */
const char *dt_backend_cpu_blas_description(void);

#endif
