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
} dt_loss_sums;

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

    /* Device control: wait for the work queued so far and report the first
     * failed device call since the backend was created (DT_ERR_BACKEND with
     * the call, file:line and the library's message); the CPU has none. */
    dt_status (*sync)(void);
} dt_backend;

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

#endif
