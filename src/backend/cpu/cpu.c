/* The CPU backend: OpenBLAS for matrix products, OpenMP loops for the rest.
 *
 * OpenBLAS is linked in its OpenMP build, so BLAS calls and the loops here
 * share one libgomp thread pool per rank and never spin against each other.
 * Small loops run on one thread: forking the pool costs more than they do. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_attn.h"
#include "backend/cpu/cpu_math.h"
#include "backend/cpu/cpu_optim.h"
#include "backend/cpu/cpu_conv.h"
#include "backend/cpu/cpu_rnn.h"
#include "core/status.h"

/* Elements below which a loop stays on the calling thread. */
#define PAR_MIN 32768

static int g_threads = 1;

void openblas_set_num_threads(int n);

void dt_backend_cpu_set_threads(int n)
{
    g_threads = n > 0 ? n : 1;
    omp_set_num_threads(g_threads);
    openblas_set_num_threads(g_threads);
}

int dt_backend_cpu_threads(void) { return g_threads; }

int dt_backend_cpu_default_threads(int local_ranks)
{
    cpu_set_t set;
    int allowed = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof set, &set) == 0) allowed = CPU_COUNT(&set);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    /* A launcher that bound this rank to fewer cores has already shared
     * the node out; otherwise divide the node among its ranks. */
    int share = (int)(online / (local_ranks > 0 ? local_ranks : 1));
    if (allowed < share) share = allowed;
    return share > 0 ? share : 1;
}

static void *cpu_alloc(size_t bytes)
{
    const size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) DT_ASSERT(!"out of memory in cpu_alloc");
    memset(p, 0, rounded);
    return p;
}

static void cpu_free(void *p) { free(p); }

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (dst != src && bytes) memcpy(dst, src, bytes);
}

static void cpu_fill(float *x, float value, int64_t n)
{
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = value;
}

static void cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

static void cpu_add_bias(float *y, const float *bias, int64_t rows, int64_t cols)
{
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *row = y + r * cols;
        for (int64_t j = 0; j < cols; j++) row[j] += bias[j];
    }
}

static void cpu_sum_rows(float *out, const float *x, int64_t rows, int64_t cols, float beta)
{
    /* Columns are independent: split them across threads so each output is
     * summed in one fixed order (deterministic for any thread count). */
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
    for (int64_t j0 = 0; j0 < cols; j0 += 64) {
        const int64_t j1 = j0 + 64 < cols ? j0 + 64 : cols;
        float acc[64];
        for (int64_t j = j0; j < j1; j++) acc[j - j0] = 0.0f;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = x + r * cols;
            for (int64_t j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        /* beta 0 overwrites, as the CUDA kernel, whatever out held */
        for (int64_t j = j0; j < j1; j++)
            out[j] = beta == 0.0f ? acc[j - j0] : beta * out[j] + acc[j - j0];
    }
}

static void cpu_axpy(float *y, const float *x, float a, int64_t n)
{
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void cpu_scale(float *x, float a, int64_t n)
{
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

static double cpu_sumsq(const float *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static int cpu_all_finite(const float *x, int64_t n)
{
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= isfinite(x[i]) != 0;
    return ok;
}

static inline float gelu(float x) { return x * dt_vnormcdf(x); }

/* d/dx x Phi(x) = Phi(x) + x phi(x). Both come from cpu_math.h's
 * branch-free forms, so the loop vectorizes. */
static inline float gelu_grad(float x)
{
    const float cdf = dt_vnormcdf(x);
    const float pdf = dt_vexpf(-0.5f * x * x) * (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    return cdf + x * pdf;
}

static void cpu_act_forward(dt_act act, float alpha, const float *x, float *y, int64_t n)
{
    switch (act) {
    case DT_ACT_IDENTITY: cpu_copy(y, x, (size_t)n * sizeof *x); break;
    case DT_ACT_RELU:
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case DT_ACT_LEAKY_RELU:
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
        break;
    case DT_ACT_SIGMOID:
#pragma omp parallel for if (n > PAR_MIN / 8) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = dt_vsigmoidf(x[i]);
        break;
    case DT_ACT_TANH:
#pragma omp parallel for if (n > PAR_MIN / 8) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = dt_vtanhf(x[i]);
        break;
    case DT_ACT_GELU:
#pragma omp parallel for if (n > PAR_MIN / 8) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = gelu(x[i]);
        break;
    default: DT_ASSERT(!"unknown activation");
    }
}

static void cpu_act_backward(dt_act act, float alpha, const float *x, const float *y,
                             const float *dy, float *dx, int64_t n)
{
    switch (act) {
    case DT_ACT_IDENTITY: cpu_axpy(dx, dy, 1.0f, n); break;
    case DT_ACT_RELU:
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case DT_ACT_LEAKY_RELU:
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : alpha * dy[i];
        break;
    case DT_ACT_SIGMOID:
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
        break;
    case DT_ACT_TANH:
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
        break;
    case DT_ACT_GELU:
#pragma omp parallel for if (n > PAR_MIN / 8) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * gelu_grad(x[i]);
        break;
    default: DT_ASSERT(!"unknown activation");
    }
}

static void cpu_softmax_forward(const float *x, float *y, int64_t rows, int64_t cols)
{
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = xr[0];
        for (int64_t j = 1; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
        float s = 0.0f;
        for (int64_t j = 0; j < cols; j++) s += (yr[j] = dt_vexpf(xr[j] - mx));
        const float inv = 1.0f / s;
        for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
    }
}

static void cpu_softmax_backward(const float *y, const float *dy, float *dx, int64_t rows,
                                 int64_t cols)
{
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float dot = 0.0f;
        for (int64_t j = 0; j < cols; j++) dot += dyr[j] * yr[j];
        for (int64_t j = 0; j < cols; j++) dx[r * cols + j] += yr[j] * (dyr[j] - dot);
    }
}

static void cpu_dropout_forward(const float *x, float *y, float *mask, int64_t rows,
                                int64_t cols, const int64_t *index, const dt_rng *rng, float p)
{
    const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for if (rows * cols > PAR_MIN / 4) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const uint64_t base = (uint64_t)index[r] * (uint64_t)cols;
        float *mr = mask + r * cols; /* the uniforms first, then the mask */
        dt_rng_fill_unit(rng, base, mr, cols);
        for (int64_t j = 0; j < cols; j++) {
            mr[j] = mr[j] >= p ? keep_scale : 0.0f;
            y[r * cols + j] = x[r * cols + j] * mr[j];
        }
    }
}

static void cpu_mul_add(float *dx, const float *dy, const float *mask, int64_t n)
{
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
}

static dt_loss_sums cpu_cross_entropy(const float *logits, const float *labels, int64_t rows,
                                      int64_t classes, float smoothing, float scale,
                                      float *dx)
{
    double loss = 0.0;
    int64_t correct = 0, correct5 = 0;
    const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;

    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * classes;
        float *d = dx + r * classes;
        const int64_t label = (int64_t)labels[r];
        int64_t arg = 0;
        for (int64_t j = 1; j < classes; j++) arg = z[j] > z[arg] ? j : arg;
        correct += arg == label;
        int64_t above = 0; /* logits larger than the label's: top-5 if under 5 */
        for (int64_t j = 0; j < classes; j++) above += z[j] > z[label];
        correct5 += above < 5;

        /* loss = logsumexp(z) - sum_j t_j z_j, with sum_j t_j = 1 */
        double s = 0.0, tz = 0.0;
        for (int64_t j = 0; j < classes; j++) {
            s += exp((double)z[j] - z[arg]);
            tz += (double)(j == label ? on : off) * z[j];
        }
        const double lse = z[arg] + log(s);
        loss += lse - tz;
        for (int64_t j = 0; j < classes; j++) {
            const float prob = (float)exp((double)z[j] - lse);
            d[j] = scale * (prob - (j == label ? on : off));
        }
    }
    return (dt_loss_sums){.loss = loss, .correct = correct, .correct5 = correct5};
}

static dt_loss_sums cpu_mse(const float *pred, const float *target, int64_t rows, int64_t dim,
                            float scale, float *dx)
{
    double loss = 0.0;
    for (int64_t i = 0; i < rows * dim; i++) {
        const float e = pred[i] - target[i];
        loss += (double)e * e / (double)dim;
        dx[i] = scale * 2.0f * e / (float)dim;
    }
    return (dt_loss_sums){.loss = loss};
}

static dt_loss_sums cpu_gaussian_nll(const float *pred, const float *target, int64_t rows,
                                     int64_t dim, float scale, float *dx)
{
    double loss = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *mu = pred + r * 2 * dim, *lv = mu + dim;
        float *dmu = dx + r * 2 * dim, *dlv = dmu + dim;
        for (int64_t j = 0; j < dim; j++) {
            const float e = target[r * dim + j] - mu[j];
            const float inv_var = expf(-lv[j]);
            loss += 0.5 * ((double)lv[j] + (double)e * e * inv_var) / (double)dim;
            dmu[j] = scale * (-e * inv_var) / (float)dim;
            dlv[j] = scale * 0.5f * (1.0f - e * e * inv_var) / (float)dim;
        }
    }
    return (dt_loss_sums){.loss = loss};
}

/* The optimizer loops are written branch-free with restrict pointers so
 * the compiler vectorizes them: they stream three or four buffers the size
 * of the model and are memory bound. */
static void sgd_plain(float *restrict p, const float *restrict g, int64_t n, float lr, float wd)
{
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
}

/* b = carry * v + take * d: carry = mom and take = 1 - dampening, except on
 * the first step (carry 0, take 1), when the buffer starts as d. */
static void sgd_momentum(float *restrict p, const float *restrict g, float *restrict v, int64_t n,
                         float lr, float wd, float mom, float carry, float take, float nesterov)
{
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float d = g[i] + wd * p[i];
        const float b = carry * v[i] + take * d;
        v[i] = b;
        p[i] -= lr * (nesterov * (d + mom * b) + (1.0f - nesterov) * b);
    }
}

static void cpu_sgd_step(float *p, const float *g, float *v, int64_t n, const dt_sgd_args *a)
{
    if (a->momentum == 0.0f) {
        sgd_plain(p, g, n, a->lr, a->weight_decay);
        return;
    }
    float carry, take;
    dt_sgd_carry_take(a, &carry, &take);
    sgd_momentum(p, g, v, n, a->lr, a->weight_decay, a->momentum, carry, take,
                 a->nesterov ? 1.0f : 0.0f);
}

static void cpu_adam_step(float *p, const float *g, float *m, float *v, int64_t n,
                          const dt_adam_args *a)
{
    const float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    const dt_adam_scalars sc = dt_adam_scalars_of(a);
    const float step_size = sc.step_size, inv_sqrt_bc2 = sc.inv_sqrt_bc2;
    const float decay = sc.decay, l2 = sc.l2;
    float *restrict pp = p, *restrict mm = m, *restrict vv = v;
    const float *restrict gg = g;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float d = gg[i] + l2 * pp[i];
        const float mi = b1 * mm[i] + (1.0f - b1) * d;
        const float vi = b2 * vv[i] + (1.0f - b2) * d * d;
        mm[i] = mi;
        vv[i] = vi;
        pp[i] = pp[i] * decay - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

static void cpu_upload(void *const *dst, const void *const *src, const size_t *bytes,
                       int count)
{
    for (int i = 0; i < count; i++) cpu_copy(dst[i], src[i], bytes[i]);
}

static dt_status cpu_sync(void) { return DT_OK; }

static const dt_backend cpu_backend = {
    .name = "cpu",
    .device = DT_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .to_device = cpu_copy,
    .to_host = cpu_copy,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .gemm = cpu_gemm,
    .add_bias = cpu_add_bias,
    .sum_rows = cpu_sum_rows,
    .axpy = cpu_axpy,
    .scale = cpu_scale,
    .sumsq = cpu_sumsq,
    .all_finite = cpu_all_finite,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .softmax_forward = cpu_softmax_forward,
    .softmax_backward = cpu_softmax_backward,
    .dropout_forward = cpu_dropout_forward,
    .mul_add = cpu_mul_add,
    .cross_entropy = cpu_cross_entropy,
    .mse = cpu_mse,
    .gaussian_nll = cpu_gaussian_nll,
    .sgd_step = cpu_sgd_step,
    .adam_step = cpu_adam_step,
    .amsgrad_step = dt_cpu_amsgrad_step,
    .adagrad_step = dt_cpu_adagrad_step,
    .adadelta_step = dt_cpu_adadelta_step,
    .rmsprop_step = dt_cpu_rmsprop_step,
    .lamb_direction = dt_cpu_lamb_direction,
    DT_CPU_CONV_OPS,
    /* sequences: cpu_rnn.c */
    .cell_forward = dt_cpu_cell_forward,
    .cell_backward = dt_cpu_cell_backward,
    .rows_copy = dt_cpu_rows_copy,
    .rows_add = dt_cpu_rows_add,
    .seq_mask = dt_cpu_seq_mask,
    .seq_lengths = dt_cpu_seq_lengths,
    .embed_forward = dt_cpu_embed_forward,
    .embed_backward = dt_cpu_embed_backward,
    /* transformers: cpu_attn.c */
    .attention_workspace = dt_cpu_attention_workspace,
    .attention_forward = dt_cpu_attention_forward,
    .attention_backward = dt_cpu_attention_backward,
    .token_segments = dt_cpu_token_segments,
    .token_cross_entropy = dt_cpu_token_cross_entropy,
    .upload = cpu_upload,
    .sync = cpu_sync,
};

const dt_backend *dt_backend_cpu(void) { return &cpu_backend; }
