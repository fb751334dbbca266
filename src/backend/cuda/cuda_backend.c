/* The CUDA backend: device memory, cuBLAS GEMMs and the kernels of
 * kernels*.cu behind the ops table of backend/backend.h (the convolutional
 * ops are in cuda_conv.c, the sequence ops in cuda_seq.c).
 *
 * One process drives one device. All work goes to one non-blocking compute
 * stream in the order the ops are called; an op returns once its work is
 * queued, except those that hand a result to the host (to_host, sumsq,
 * all_finite, the losses, embed_forward) and to_device, which return when
 * it is done. upload copies batches on a second stream, ordered with the
 * compute stream by events. A failed call is recorded (cuda_check.h) and
 * reported by sync(). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend_cuda.h"
#include "backend/cuda/cublas_load.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernels.h"

/* The open device and what its ops share: scratch buffers grow on demand
 * and live until the process ends. */
static struct {
    int open, device;
    cudaStream_t stream;
    cublasHandle_t blas;
    const dt_cublas_api *api; /* cuBLAS, loaded on open */
    void *scratch;       /* device: dropout indices, per-row loss results */
    size_t scratch_bytes;
    double *sums;        /* device: 3 doubles of reduction results */
    int *flag;           /* device: the non-finite flag */
    double *host_sums;   /* pinned host copy of sums */
    /* upload: a copy stream, two pinned staging areas used in turn, the
     * event marking each one's copies done, and the mark of the compute
     * work queued before the previous upload */
    cudaStream_t copy_stream;
    void *staging[2];
    size_t staging_bytes[2];
    cudaEvent_t copied[2], mark;
    int next_area, uploads;
} g;

#define FAILED() dt_cuda_failed()

/* Device scratch of at least `bytes`, or NULL after a failure. */
static void *scratch(size_t bytes)
{
    if (bytes <= g.scratch_bytes) return g.scratch;
    size_t want = g.scratch_bytes ? g.scratch_bytes : 1 << 16;
    while (want < bytes) want *= 2;
    if (g.scratch && !DT_CUDA_CHECK(cudaFree(g.scratch))) return NULL;
    g.scratch = NULL;
    g.scratch_bytes = 0;
    if (!DT_CUDA_CHECK(cudaMalloc(&g.scratch, want))) return NULL;
    g.scratch_bytes = want;
    return g.scratch;
}

static int wait_stream(void) { return DT_CUDA_CHECK(cudaStreamSynchronize(g.stream)); }

cudaStream_t dt_cuda_compute_stream(void) { return g.stream; }

void *dt_cuda_scratch(size_t bytes) { return scratch(bytes); }

double *dt_cuda_loss_sums(void) { return g.sums; }

/* ---- memory ---- */

static void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    if (FAILED()) return NULL;
    const size_t rounded = (bytes + 255) & ~(size_t)255;
    if (!DT_CUDA_CHECK(cudaMalloc(&p, rounded ? rounded : 256))) return NULL;
    DT_CUDA_CHECK(cudaMemsetAsync(p, 0, rounded ? rounded : 256, g.stream));
    return p;
}

static void cuda_free(void *p)
{
    if (p) DT_CUDA_CHECK(cudaFree(p));
}

static void cuda_to_device(void *dst, const void *src, size_t bytes)
{
    if (FAILED() || !bytes) return;
    /* Synchronous for the caller, who may reuse `src` at once. */
    if (DT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g.stream)))
        wait_stream();
}

static void cuda_to_host(void *dst, const void *src, size_t bytes)
{
    if (FAILED() || !bytes) return;
    if (DT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g.stream)))
        wait_stream();
}

static void cuda_copy(void *dst, const void *src, size_t bytes)
{
    if (FAILED() || !bytes || dst == src) return;
    DT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g.stream));
}

static void cuda_fill(float *x, float value, int64_t n)
{
    if (!FAILED()) dt_cuk_fill(g.stream, x, value, n);
}

/* ---- GEMM ----
 * Row-major C(m,n) = op(A) op(B) is column-major C^T(n,m) = op(B)^T op(A)^T:
 * the same buffers with the operands swapped and m, n exchanged. */
void dt_cuda_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (FAILED() || m <= 0 || n <= 0) return;
    DT_CUBLAS_CHECK(g.api->cublasSgemm(g.blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a,
                                lda, &beta, c, ldc));
}

/* ---- elementwise and reductions ---- */

static void cuda_add_bias(float *y, const float *bias, int64_t rows, int64_t cols)
{
    if (!FAILED()) dt_cuk_add_bias(g.stream, y, bias, rows, cols);
}

static void cuda_sum_rows(float *out, const float *x, int64_t rows, int64_t cols, float beta)
{
    if (!FAILED()) dt_cuk_sum_rows(g.stream, out, x, rows, cols, beta);
}

static void cuda_axpy(float *y, const float *x, float a, int64_t n)
{
    if (!FAILED()) dt_cuk_axpy(g.stream, y, x, a, n);
}

static void cuda_scale(float *x, float a, int64_t n)
{
    if (!FAILED()) dt_cuk_scale(g.stream, x, a, n);
}

static double cuda_sumsq(const float *x, int64_t n)
{
    double *partial = scratch((size_t)dt_cuk_reduce_blocks(n) * sizeof(double));
    if (FAILED() || !partial) return NAN;
    dt_cuk_sumsq(g.stream, x, n, partial, g.sums);
    cuda_to_host(g.host_sums, g.sums, sizeof(double));
    return FAILED() ? NAN : g.host_sums[0];
}

static int cuda_all_finite(const float *x, int64_t n)
{
    int flag = 1;
    if (FAILED()) return 0;
    DT_CUDA_CHECK(cudaMemsetAsync(g.flag, 0, sizeof(int), g.stream));
    dt_cuk_nonfinite(g.stream, x, n, g.flag);
    cuda_to_host(&flag, g.flag, sizeof flag);
    return !FAILED() && flag == 0;
}

/* ---- activations, softmax, dropout ---- */

static void cuda_act_forward(dt_act act, float alpha, const float *x, float *y, int64_t n)
{
    if (FAILED()) return;
    if (act == DT_ACT_IDENTITY) cuda_copy(y, x, (size_t)n * sizeof(float));
    else dt_cuk_act_forward(g.stream, act, alpha, x, y, n);
}

static void cuda_act_backward(dt_act act, float alpha, const float *x, const float *y,
                              const float *dy, float *dx, int64_t n)
{
    if (!FAILED()) dt_cuk_act_backward(g.stream, act, alpha, x, y, dy, dx, n);
}

static void cuda_softmax_forward(const float *x, float *y, int64_t rows, int64_t cols)
{
    if (!FAILED()) dt_cuk_softmax_forward(g.stream, x, y, rows, cols);
}

static void cuda_softmax_backward(const float *y, const float *dy, float *dx, int64_t rows,
                                  int64_t cols)
{
    if (!FAILED()) dt_cuk_softmax_backward(g.stream, y, dy, dx, rows, cols);
}

static void cuda_dropout_forward(const float *x, float *y, float *mask, int64_t rows,
                                 int64_t cols, const int64_t *index, const dt_rng *rng, float p)
{
    if (FAILED() || rows <= 0) return;
    /* The indices are host memory: copy them next to the kernel. */
    int64_t *dindex = scratch((size_t)rows * sizeof(int64_t));
    if (!dindex) return;
    if (!DT_CUDA_CHECK(cudaMemcpyAsync(dindex, index, (size_t)rows * sizeof(int64_t),
                                       cudaMemcpyHostToDevice, g.stream)))
        return;
    dt_cuk_dropout(g.stream, x, y, mask, rows, cols, dindex, *rng, p);
}

static void cuda_mul_add(float *dx, const float *dy, const float *mask, int64_t n)
{
    if (!FAILED()) dt_cuk_mul_add(g.stream, dx, dy, mask, n);
}

/* ---- losses ---- */

/* The three sums of a loss (total, correct rows, top-5 rows) copied back
 * to the host. */
dt_loss_sums dt_cuda_finish_loss(void)
{
    cuda_to_host(g.host_sums, g.sums, 3 * sizeof(double));
    if (FAILED()) return (dt_loss_sums){.loss = NAN};
    return (dt_loss_sums){.loss = g.host_sums[0],
                          .correct = (int64_t)llround(g.host_sums[1]),
                          .correct5 = (int64_t)llround(g.host_sums[2])};
}

int dt_cuda_counts_to_host(int64_t *host, const int64_t *dev, int64_t n)
{
    cuda_to_host(host, dev, (size_t)n * sizeof(int64_t));
    return !FAILED();
}

/* Per-row loss, correct and top-5 flags: 3 x rows doubles of scratch. */
static double *row_buffers(int64_t rows)
{
    return scratch((size_t)(3 * (rows > 0 ? rows : 1)) * sizeof(double));
}

static dt_loss_sums cuda_cross_entropy(const float *logits, const float *labels, int64_t rows,
                                       int64_t classes, float smoothing, float scale, float *dx)
{
    double *rl = FAILED() ? NULL : row_buffers(rows);
    if (!rl) return (dt_loss_sums){.loss = NAN};
    dt_cuk_cross_entropy(g.stream, logits, labels, rows, classes, smoothing, scale, dx, rl,
                         rl + rows, rl + 2 * rows, g.sums);
    return dt_cuda_finish_loss();
}

static dt_loss_sums cuda_mse(const float *pred, const float *target, int64_t rows, int64_t dim,
                             float scale, float *dx)
{
    double *rl = FAILED() ? NULL : row_buffers(rows);
    if (!rl) return (dt_loss_sums){.loss = NAN};
    dt_cuk_mse(g.stream, pred, target, rows, dim, scale, dx, rl, rl + rows, g.sums);
    return dt_cuda_finish_loss();
}

static dt_loss_sums cuda_gaussian_nll(const float *pred, const float *target, int64_t rows,
                                      int64_t dim, float scale, float *dx)
{
    double *rl = FAILED() ? NULL : row_buffers(rows);
    if (!rl) return (dt_loss_sums){.loss = NAN};
    dt_cuk_gaussian_nll(g.stream, pred, target, rows, dim, scale, dx, rl, rl + rows, g.sums);
    return dt_cuda_finish_loss();
}

/* ---- optimizer steps: the scalars exactly as the CPU derives them ---- */

static void cuda_sgd_step(float *p, const float *gr, float *v, int64_t n, const dt_sgd_args *a)
{
    if (FAILED()) return;
    if (a->momentum == 0.0f) {
        dt_cuk_sgd_plain(g.stream, p, gr, n, a->lr, a->weight_decay);
        return;
    }
    float carry, take;
    dt_sgd_carry_take(a, &carry, &take);
    dt_cuk_sgd_momentum(g.stream, p, gr, v, n, a->lr, a->weight_decay, a->momentum, carry, take,
                        a->nesterov ? 1.0f : 0.0f);
}

static void cuda_adam_step(float *p, const float *gr, float *m, float *v, int64_t n,
                           const dt_adam_args *a)
{
    if (FAILED()) return;
    const dt_adam_scalars s = dt_adam_scalars_of(a);
    dt_cuk_adam(g.stream, p, gr, m, v, n, a->beta1, a->beta2, a->eps, s.step_size,
                s.inv_sqrt_bc2, s.decay, s.l2);
}

static void cuda_amsgrad_step(float *p, const float *gr, float *m, float *v, float *vmax,
                              int64_t n, const dt_adam_args *a)
{
    if (FAILED()) return;
    const dt_adam_scalars s = dt_adam_scalars_of(a);
    dt_cuk_amsgrad(g.stream, p, gr, m, v, vmax, n, a->beta1, a->beta2, a->eps, s.step_size,
                   s.inv_sqrt_bc2, s.decay, s.l2);
}

static void cuda_adagrad_step(float *p, const float *gr, float *sum, int64_t n,
                              const dt_adagrad_args *a)
{
    if (!FAILED()) dt_cuk_adagrad(g.stream, p, gr, sum, n, a->lr, a->eps, a->weight_decay);
}

static void cuda_adadelta_step(float *p, const float *gr, float *sq, float *acc, int64_t n,
                               const dt_adadelta_args *a)
{
    if (!FAILED())
        dt_cuk_adadelta(g.stream, p, gr, sq, acc, n, a->lr, a->rho, a->eps, a->weight_decay);
}

static void cuda_rmsprop_step(float *p, const float *gr, float *sq, float *buf, float *gavg,
                              int64_t n, const dt_rmsprop_args *a)
{
    if (!FAILED())
        dt_cuk_rmsprop(g.stream, p, gr, sq, buf, gavg, n, a->lr, a->alpha, a->eps,
                       a->weight_decay, a->momentum);
}

static void cuda_lamb_direction(const float *p, const float *gr, float *m, float *v, float *u,
                                int64_t n, const dt_adam_args *a)
{
    if (FAILED()) return;
    const dt_adam_scalars s = dt_adam_scalars_of(a);
    dt_cuk_lamb_direction(g.stream, p, gr, m, v, u, n, a->beta1, a->beta2, a->eps,
                          a->weight_decay, s.inv_bc1, s.inv_bc2);
}

/* Staging area `a` of at least `bytes`, once its previous copies are done. */
static unsigned char *staging_area(int a, size_t bytes)
{
    if (g.uploads >= 2 && !DT_CUDA_CHECK(cudaEventSynchronize(g.copied[a]))) return NULL;
    if (bytes <= g.staging_bytes[a]) return g.staging[a];
    if (g.staging[a] && !DT_CUDA_CHECK(cudaFreeHost(g.staging[a]))) return NULL;
    g.staging[a] = NULL;
    g.staging_bytes[a] = 0;
    if (!DT_CUDA_CHECK(cudaMallocHost(&g.staging[a], bytes))) return NULL;
    g.staging_bytes[a] = bytes;
    return g.staging[a];
}

/* The copy stream first waits for the mark of the previous call (the work
 * queued before it), then the mark moves to now; the compute stream waits
 * for this call's copies. A wait takes the event as last recorded, so the
 * order of these calls is what makes the copies overlap only the work
 * queued since the previous upload. */
static void cuda_upload(void *const *dst, const void *const *src, const size_t *bytes,
                        int count)
{
    if (FAILED() || count <= 0) return;
    size_t total = 0;
    for (int i = 0; i < count; i++) total += (bytes[i] + 255) & ~(size_t)255;
    const int a = g.next_area;
    unsigned char *area = staging_area(a, total ? total : 256);
    if (!area) return;
    size_t off = 0;
    for (int i = 0; i < count; i++) {
        memcpy(area + off, src[i], bytes[i]);
        off += (bytes[i] + 255) & ~(size_t)255;
    }
    if (g.uploads > 0 && !DT_CUDA_CHECK(cudaStreamWaitEvent(g.copy_stream, g.mark, 0))) return;
    if (!DT_CUDA_CHECK(cudaEventRecord(g.mark, g.stream))) return;
    off = 0;
    for (int i = 0; i < count; i++) {
        if (bytes[i] &&
            !DT_CUDA_CHECK(cudaMemcpyAsync(dst[i], area + off, bytes[i], cudaMemcpyHostToDevice,
                                           g.copy_stream)))
            return;
        off += (bytes[i] + 255) & ~(size_t)255;
    }
    if (!DT_CUDA_CHECK(cudaEventRecord(g.copied[a], g.copy_stream)) ||
        !DT_CUDA_CHECK(cudaStreamWaitEvent(g.stream, g.copied[a], 0)))
        return;
    g.next_area = 1 - a;
    g.uploads++;
}

static dt_status cuda_sync(void)
{
    if (!FAILED()) wait_stream();
    if (FAILED()) return dt_error_set(DT_ERR_BACKEND, "%s", dt_cuda_failure());
    return DT_OK;
}

static const dt_backend cuda_backend = {
    .name = "cuda",
    .device = DT_CUDA,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .to_device = cuda_to_device,
    .to_host = cuda_to_host,
    .copy = cuda_copy,
    .fill = cuda_fill,
    .gemm = dt_cuda_gemm,
    .add_bias = cuda_add_bias,
    .sum_rows = cuda_sum_rows,
    .axpy = cuda_axpy,
    .scale = cuda_scale,
    .sumsq = cuda_sumsq,
    .all_finite = cuda_all_finite,
    .act_forward = cuda_act_forward,
    .act_backward = cuda_act_backward,
    .softmax_forward = cuda_softmax_forward,
    .softmax_backward = cuda_softmax_backward,
    .dropout_forward = cuda_dropout_forward,
    .mul_add = cuda_mul_add,
    .cross_entropy = cuda_cross_entropy,
    .mse = cuda_mse,
    .gaussian_nll = cuda_gaussian_nll,
    .sgd_step = cuda_sgd_step,
    .adam_step = cuda_adam_step,
    .amsgrad_step = cuda_amsgrad_step,
    .adagrad_step = cuda_adagrad_step,
    .adadelta_step = cuda_adadelta_step,
    .rmsprop_step = cuda_rmsprop_step,
    .lamb_direction = cuda_lamb_direction,
    DT_CUDA_CONV_OPS, /* cuda_conv.c */
    DT_CUDA_SEQ_OPS,  /* cuda_seq.c */
    .upload = cuda_upload,
    .sync = cuda_sync,
};

/* ---- opening the device ---- */

int dt_cuda_device_count(void)
{
    int n = 0;
    /* No driver (35), no device (100) or anything else: no GPU. */
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear it: it is an answer, not a failure */
        return 0;
    }
    return n;
}

static dt_status open_failed(int gpu)
{
    return dt_error_set(DT_ERR_BACKEND, "opening GPU %d: %s", gpu, dt_cuda_failure());
}

static dt_status open_device(int gpu)
{
    char why[512];
    g.api = dt_cublas_load(why, sizeof why);
    if (!g.api) return dt_error_set(DT_ERR_BACKEND, "opening GPU %d: %s", gpu, why);
    if (!DT_CUDA_CHECK(cudaSetDevice(gpu))) return open_failed(gpu);
    if (!DT_CUDA_CHECK(cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking)) ||
        !DT_CUBLAS_CHECK(g.api->cublasCreate(&g.blas)) ||
        !DT_CUBLAS_CHECK(g.api->cublasSetStream(g.blas, g.stream)) ||
        /* Plain FP32 products (no TF32), so GPU results track the CPU's. */
        !DT_CUBLAS_CHECK(g.api->cublasSetMathMode(g.blas, CUBLAS_DEFAULT_MATH)) ||
        !DT_CUDA_CHECK(cudaMalloc((void **)&g.sums, 3 * sizeof(double))) ||
        !DT_CUDA_CHECK(cudaMalloc((void **)&g.flag, sizeof(int))) ||
        !DT_CUDA_CHECK(cudaMallocHost((void **)&g.host_sums, 3 * sizeof(double))) ||
        !DT_CUDA_CHECK(cudaStreamCreateWithFlags(&g.copy_stream, cudaStreamNonBlocking)) ||
        !DT_CUDA_CHECK(cudaEventCreateWithFlags(&g.copied[0], cudaEventDisableTiming)) ||
        !DT_CUDA_CHECK(cudaEventCreateWithFlags(&g.copied[1], cudaEventDisableTiming)) ||
        !DT_CUDA_CHECK(cudaEventCreateWithFlags(&g.mark, cudaEventDisableTiming)))
        return open_failed(gpu);
    g.open = 1;
    g.device = gpu;
    return DT_OK;
}

dt_status dt_backend_cuda_open(int gpu, const dt_backend **out)
{
    *out = NULL;
    if (g.open) {
        if (gpu != g.device)
            return dt_error_set(DT_ERR_ARG, "the CUDA backend is open on GPU %d; one process "
                                "drives one GPU and cannot also open GPU %d", g.device, gpu);
        *out = &cuda_backend;
        return DT_OK;
    }
    const int count = dt_cuda_device_count();
    if (count == 0)
        return dt_error_set(DT_ERR_BACKEND, "no CUDA GPU is visible to this process (no "
                            "device or no driver: check nvidia-smi and CUDA_VISIBLE_DEVICES), "
                            "or set runtime.device=cpu");
    if (gpu < 0 || gpu >= count)
        return dt_error_set(DT_ERR_CONFIG, "runtime.gpu: GPU %d does not exist; %d GPU(s) "
                            "visible (0..%d)", gpu, count, count - 1);
    /* After the device count, so a machine without a GPU says so first. */
    DT_TRY(dt_backend_check_complete(&cuda_backend));
    if (FAILED()) return open_failed(gpu);
    DT_TRY(open_device(gpu));
    *out = &cuda_backend;
    return DT_OK;
}

void *dt_backend_cuda_stream(void) { return g.open ? (void *)g.stream : NULL; }

int dt_backend_cuda_device(void) { return g.open ? g.device : -1; }

dt_status dt_backend_cuda_check_table(void) { return dt_backend_check_complete(&cuda_backend); }

void dt_backend_cuda_build_info(char *buf, int cap)
{
    snprintf(buf, (size_t)cap, "cuda (CUDA %d.%d, cuBLAS, architectures %s)",
             CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, DT_CUDA_ARCHS);
}
