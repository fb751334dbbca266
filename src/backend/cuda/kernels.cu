/* CUDA kernels of the backend ops and their launchers (extern "C").
 *
 * Each kernel computes what the CPU loop of the same op computes (cpu.c),
 * with the same formulas in the same precision, so results agree to float
 * rounding; dropout draws the same Philox numbers (core/philox.h), so its
 * masks are bit-identical. Reductions are two fixed passes (per-block
 * partials, then one block in a fixed order) and never use floating-point
 * atomics: a result depends only on the input, never on scheduling.
 * Rows of softmax and the losses are one warp each. */
#include <math.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/kernels_util.cuh"
#include "core/philox.h"

#define REDUCE_BLOCKS_MAX 1024

/* ---- elementwise ---- */

static __global__ void k_fill(float *x, float v, int64_t n)
{
    GRID_STRIDE(i, n) x[i] = v;
}

static __global__ void k_add_bias(float *y, const float *bias, int64_t rows, int64_t cols)
{
    GRID_STRIDE(i, rows * cols) y[i] += bias[i % cols];
}

static __global__ void k_axpy(float *y, const float *x, float a, int64_t n)
{
    GRID_STRIDE(i, n) y[i] += a * x[i];
}

static __global__ void k_scale(float *x, float a, int64_t n)
{
    GRID_STRIDE(i, n) x[i] *= a;
}

static __global__ void k_mul_add(float *dx, const float *dy, const float *mask, int64_t n)
{
    GRID_STRIDE(i, n) dx[i] += dy[i] * mask[i];
}

extern "C" void dt_cuk_fill(cudaStream_t st, float *x, float v, int64_t n)
{
    if (n <= 0) return;
    k_fill<<<grid_for(n), THREADS, 0, st>>>(x, v, n);
    DT_CUDA_LAUNCHED("k_fill");
}

extern "C" void dt_cuk_add_bias(cudaStream_t st, float *y, const float *bias, int64_t rows,
                                int64_t cols)
{
    if (rows * cols <= 0) return;
    k_add_bias<<<grid_for(rows * cols), THREADS, 0, st>>>(y, bias, rows, cols);
    DT_CUDA_LAUNCHED("k_add_bias");
}

extern "C" void dt_cuk_axpy(cudaStream_t st, float *y, const float *x, float a, int64_t n)
{
    if (n <= 0) return;
    k_axpy<<<grid_for(n), THREADS, 0, st>>>(y, x, a, n);
    DT_CUDA_LAUNCHED("k_axpy");
}

extern "C" void dt_cuk_scale(cudaStream_t st, float *x, float a, int64_t n)
{
    if (n <= 0) return;
    k_scale<<<grid_for(n), THREADS, 0, st>>>(x, a, n);
    DT_CUDA_LAUNCHED("k_scale");
}

extern "C" void dt_cuk_mul_add(cudaStream_t st, float *dx, const float *dy, const float *mask,
                               int64_t n)
{
    if (n <= 0) return;
    k_mul_add<<<grid_for(n), THREADS, 0, st>>>(dx, dy, mask, n);
    DT_CUDA_LAUNCHED("k_mul_add");
}

/* ---- column sums: out(cols) = beta * out + sum over rows ----
 * A block of 32 x 32 threads owns 32 columns; thread row ty sums rows
 * ty, ty + 32, ... and the 32 partials are added in order of ty. */

static __global__ void k_sum_rows(float *out, const float *x, int64_t rows, int64_t cols,
                                  float beta)
{
    __shared__ float part[32][33];
    const int64_t j = (int64_t)blockIdx.x * 32 + threadIdx.x;
    float acc = 0.0f;
    if (j < cols)
        for (int64_t r = threadIdx.y; r < rows; r += 32) acc += x[r * cols + j];
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
        float s = 0.0f;
        for (int k = 0; k < 32; k++) s += part[k][threadIdx.x];
        out[j] = beta == 0.0f ? s : beta * out[j] + s;
    }
}

extern "C" void dt_cuk_sum_rows(cudaStream_t st, float *out, const float *x, int64_t rows,
                                int64_t cols, float beta)
{
    if (cols <= 0) return;
    const dim3 block(32, 32);
    k_sum_rows<<<(unsigned)((cols + 31) / 32), block, 0, st>>>(out, x, rows, cols, beta);
    DT_CUDA_LAUNCHED("k_sum_rows");
}

/* ---- whole-buffer reductions ---- */

extern "C" int dt_cuk_reduce_blocks(int64_t n)
{
    const int64_t b = (n + THREADS * 8 - 1) / (THREADS * 8);
    return (int)(b < 1 ? 1 : b > REDUCE_BLOCKS_MAX ? REDUCE_BLOCKS_MAX : b);
}

static __global__ void k_sumsq_partial(const float *x, int64_t n, double *partial)
{
    __shared__ double sh[THREADS];
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += (double)x[i] * x[i];
    const double s = block_sum(acc, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

extern "C" void dt_cuk_sumsq(cudaStream_t st, const float *x, int64_t n, double *partial,
                             double *out)
{
    const int blocks = dt_cuk_reduce_blocks(n);
    k_sumsq_partial<<<blocks, THREADS, 0, st>>>(x, n, partial);
    DT_CUDA_LAUNCHED("k_sumsq_partial");
    k_sum_doubles<<<1, THREADS, 0, st>>>(partial, blocks, 1, out);
    DT_CUDA_LAUNCHED("k_sum_doubles");
}

static __global__ void k_nonfinite(const float *x, int64_t n, int *flag)
{
    int bad = 0;
    GRID_STRIDE(i, n) bad |= !isfinite(x[i]);
    if (__any_sync(0xffffffffu, bad) && (threadIdx.x % WARP) == 0) atomicOr(flag, 1);
}

extern "C" void dt_cuk_nonfinite(cudaStream_t st, const float *x, int64_t n, int *flag)
{
    if (n <= 0) return;
    k_nonfinite<<<dt_cuk_reduce_blocks(n), THREADS, 0, st>>>(x, n, flag);
    DT_CUDA_LAUNCHED("k_nonfinite");
}

/* ---- activations ---- */

static __device__ __forceinline__ float gelu_f(float x)
{
    return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
}

static __device__ __forceinline__ float gelu_grad_f(float x)
{
    const float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
    const float pdf = expf(-0.5f * x * x) * (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    return cdf + x * pdf;
}

static __global__ void k_act_forward(int act, float alpha, const float *x, float *y, int64_t n)
{
    GRID_STRIDE(i, n)
    {
        const float v = x[i];
        float r = v;
        switch (act) {
        case DT_ACT_RELU: r = v > 0.0f ? v : 0.0f; break;
        case DT_ACT_LEAKY_RELU: r = v > 0.0f ? v : alpha * v; break;
        case DT_ACT_SIGMOID: r = 1.0f / (1.0f + expf(-v)); break;
        case DT_ACT_TANH: r = tanhf(v); break;
        case DT_ACT_GELU: r = gelu_f(v); break;
        default: break;
        }
        y[i] = r;
    }
}

static __global__ void k_act_backward(int act, float alpha, const float *x, const float *y,
                                      const float *dy, float *dx, int64_t n)
{
    GRID_STRIDE(i, n)
    {
        const float g = dy[i];
        float d = g;
        switch (act) {
        case DT_ACT_RELU: d = x[i] > 0.0f ? g : 0.0f; break;
        case DT_ACT_LEAKY_RELU: d = x[i] > 0.0f ? g : alpha * g; break;
        case DT_ACT_SIGMOID: d = g * y[i] * (1.0f - y[i]); break;
        case DT_ACT_TANH: d = g * (1.0f - y[i] * y[i]); break;
        case DT_ACT_GELU: d = g * gelu_grad_f(x[i]); break;
        default: break;
        }
        dx[i] += d;
    }
}

extern "C" void dt_cuk_act_forward(cudaStream_t st, dt_act act, float alpha, const float *x,
                                   float *y, int64_t n)
{
    if (n <= 0) return;
    k_act_forward<<<grid_for(n), THREADS, 0, st>>>((int)act, alpha, x, y, n);
    DT_CUDA_LAUNCHED("k_act_forward");
}

extern "C" void dt_cuk_act_backward(cudaStream_t st, dt_act act, float alpha, const float *x,
                                    const float *y, const float *dy, float *dx, int64_t n)
{
    if (n <= 0) return;
    k_act_backward<<<grid_for(n), THREADS, 0, st>>>((int)act, alpha, x, y, dy, dx, n);
    DT_CUDA_LAUNCHED("k_act_backward");
}

/* ---- row-wise ops: one warp per row ---- */

#define ROWS_PER_BLOCK (THREADS / WARP)

static unsigned grid_rows(int64_t rows)
{
    return (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
}

#define ROW_OF_WARP() ((int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP)

static __device__ float warp_max(float v)
{
    for (int o = WARP / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    return __shfl_sync(0xffffffffu, v, 0);
}

static __global__ void k_softmax_forward(const float *x, float *y, int64_t rows, int64_t cols)
{
    const int64_t r = ROW_OF_WARP();
    if (r >= rows) return;
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float mx = -INFINITY;
    for (int64_t j = LANE(); j < cols; j += WARP) mx = fmaxf(mx, xr[j]);
    mx = warp_max(mx);
    float s = 0.0f;
    for (int64_t j = LANE(); j < cols; j += WARP) s += (yr[j] = expf(xr[j] - mx));
    const float inv = 1.0f / warp_sum(s);
    for (int64_t j = LANE(); j < cols; j += WARP) yr[j] *= inv;
}

static __global__ void k_softmax_backward(const float *y, const float *dy, float *dx,
                                          int64_t rows, int64_t cols)
{
    const int64_t r = ROW_OF_WARP();
    if (r >= rows) return;
    const float *yr = y + r * cols, *dyr = dy + r * cols;
    float dot = 0.0f;
    for (int64_t j = LANE(); j < cols; j += WARP) dot += dyr[j] * yr[j];
    dot = warp_sum(dot);
    for (int64_t j = LANE(); j < cols; j += WARP) dx[r * cols + j] += yr[j] * (dyr[j] - dot);
}

extern "C" void dt_cuk_softmax_forward(cudaStream_t st, const float *x, float *y, int64_t rows,
                                       int64_t cols)
{
    if (rows <= 0 || cols <= 0) return;
    k_softmax_forward<<<grid_rows(rows), THREADS, 0, st>>>(x, y, rows, cols);
    DT_CUDA_LAUNCHED("k_softmax_forward");
}

extern "C" void dt_cuk_softmax_backward(cudaStream_t st, const float *y, const float *dy,
                                        float *dx, int64_t rows, int64_t cols)
{
    if (rows <= 0 || cols <= 0) return;
    k_softmax_backward<<<grid_rows(rows), THREADS, 0, st>>>(y, dy, dx, rows, cols);
    DT_CUDA_LAUNCHED("k_softmax_backward");
}

/* ---- dropout: the CPU's stream positions, index[r] * cols + j ---- */

static __global__ void k_dropout(const float *x, float *y, float *mask, int64_t rows,
                                 int64_t cols, const int64_t *index, dt_rng rng, float p,
                                 float keep_scale)
{
    GRID_STRIDE(i, rows * cols)
    {
        const int64_t r = i / cols, j = i - r * cols;
        const uint64_t pos = (uint64_t)index[r] * (uint64_t)cols + (uint64_t)j;
        const float u = dt_philox_unit(dt_philox_u32(rng.key, rng.ctr_hi, pos));
        const float m = u >= p ? keep_scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

extern "C" void dt_cuk_dropout(cudaStream_t st, const float *x, float *y, float *mask,
                               int64_t rows, int64_t cols, const int64_t *index, dt_rng rng,
                               float p)
{
    if (rows * cols <= 0) return;
    const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    k_dropout<<<grid_for(rows * cols), THREADS, 0, st>>>(x, y, mask, rows, cols, index, rng,
                                                         p, keep_scale);
    DT_CUDA_LAUNCHED("k_dropout");
}

/* ---- losses: per-row results, then one fixed-order sum ---- */

static __global__ void k_cross_entropy(const float *logits, const float *labels, int64_t rows,
                                       int64_t classes, float smoothing, float scale, float *dx,
                                       double *row_loss, double *row_ok, double *row_ok5)
{
    const int64_t r = ROW_OF_WARP();
    if (r >= rows) return;
    const float *z = logits + r * classes;
    float *d = dx + r * classes;
    const int64_t label = (int64_t)labels[r];
    const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;
    float zmax;
    const int64_t arg = warp_argmax(z, classes, &zmax);

    /* loss = logsumexp(z) - sum_j t_j z_j, with sum_j t_j = 1 */
    double s = 0.0, tz = 0.0;
    for (int64_t j = LANE(); j < classes; j += WARP) {
        s += exp((double)z[j] - zmax);
        tz += (double)(j == label ? on : off) * z[j];
    }
    s = warp_sum(s);
    tz = warp_sum(tz);
    const double lse = zmax + log(s);

    /* Top-5: fewer than 5 logits above the label's (an id outside the
     * classes never counts). */
    int above = 0;
    if (label >= 0 && label < classes)
        for (int64_t j = LANE(); j < classes; j += WARP) above += z[j] > z[label];
    above = label >= 0 && label < classes ? warp_sum(above) : 5;
    for (int64_t j = LANE(); j < classes; j += WARP) {
        const float prob = (float)exp((double)z[j] - lse);
        d[j] = scale * (prob - (j == label ? on : off));
    }
    if (LANE() == 0) {
        row_loss[r] = lse - tz;
        row_ok[r] = arg == label ? 1.0 : 0.0;
        row_ok5[r] = above < 5 ? 1.0 : 0.0;
    }
}

static __global__ void k_mse(const float *pred, const float *target, int64_t rows, int64_t dim,
                             float scale, float *dx, double *row_loss, double *row_ok)
{
    const int64_t r = ROW_OF_WARP();
    if (r >= rows) return;
    double loss = 0.0;
    for (int64_t j = LANE(); j < dim; j += WARP) {
        const int64_t i = r * dim + j;
        const float e = pred[i] - target[i];
        loss += (double)e * e / (double)dim;
        dx[i] = scale * 2.0f * e / (float)dim;
    }
    loss = warp_sum(loss);
    if (LANE() == 0) {
        row_loss[r] = loss;
        row_ok[r] = 0.0;
    }
}

static __global__ void k_gaussian_nll(const float *pred, const float *target, int64_t rows,
                                      int64_t dim, float scale, float *dx, double *row_loss,
                                      double *row_ok)
{
    const int64_t r = ROW_OF_WARP();
    if (r >= rows) return;
    const float *mu = pred + r * 2 * dim, *lv = mu + dim;
    float *dmu = dx + r * 2 * dim, *dlv = dmu + dim;
    double loss = 0.0;
    for (int64_t j = LANE(); j < dim; j += WARP) {
        const float e = target[r * dim + j] - mu[j];
        const float inv_var = expf(-lv[j]);
        loss += 0.5 * ((double)lv[j] + (double)e * e * inv_var) / (double)dim;
        dmu[j] = scale * (-e * inv_var) / (float)dim;
        dlv[j] = scale * 0.5f * (1.0f - e * e * inv_var) / (float)dim;
    }
    loss = warp_sum(loss);
    if (LANE() == 0) {
        row_loss[r] = loss;
        row_ok[r] = 0.0;
    }
}

/* sums[0..2] = total loss, correct rows, top-5 rows; without row_ok5 the
 * third sum is of no elements, 0. */
static void sum_rows_of_loss(cudaStream_t st, int64_t rows, double *row_loss, double *row_ok,
                             double *row_ok5, double *sums)
{
    k_sum_doubles<<<1, THREADS, 0, st>>>(row_loss, rows, 1, sums);
    DT_CUDA_LAUNCHED("k_sum_doubles (loss)");
    k_sum_doubles<<<1, THREADS, 0, st>>>(row_ok, rows, 1, sums + 1);
    DT_CUDA_LAUNCHED("k_sum_doubles (correct)");
    k_sum_doubles<<<1, THREADS, 0, st>>>(row_ok5 ? row_ok5 : row_ok, row_ok5 ? rows : 0, 1,
                                         sums + 2);
    DT_CUDA_LAUNCHED("k_sum_doubles (top-5)");
}

extern "C" void dt_cuk_cross_entropy(cudaStream_t st, const float *logits, const float *labels,
                                     int64_t rows, int64_t classes, float smoothing,
                                     float scale, float *dx, double *row_loss, double *row_ok,
                                     double *row_ok5, double *sums)
{
    if (rows > 0) {
        k_cross_entropy<<<grid_rows(rows), THREADS, 0, st>>>(logits, labels, rows, classes,
                                                             smoothing, scale, dx, row_loss,
                                                             row_ok, row_ok5);
        DT_CUDA_LAUNCHED("k_cross_entropy");
    }
    sum_rows_of_loss(st, rows, row_loss, row_ok, row_ok5, sums);
}

extern "C" void dt_cuk_mse(cudaStream_t st, const float *pred, const float *target,
                           int64_t rows, int64_t dim, float scale, float *dx, double *row_loss,
                           double *row_ok, double *sums)
{
    if (rows > 0) {
        k_mse<<<grid_rows(rows), THREADS, 0, st>>>(pred, target, rows, dim, scale, dx,
                                                   row_loss, row_ok);
        DT_CUDA_LAUNCHED("k_mse");
    }
    sum_rows_of_loss(st, rows, row_loss, row_ok, NULL, sums);
}

extern "C" void dt_cuk_gaussian_nll(cudaStream_t st, const float *pred, const float *target,
                                    int64_t rows, int64_t dim, float scale, float *dx,
                                    double *row_loss, double *row_ok, double *sums)
{
    if (rows > 0) {
        k_gaussian_nll<<<grid_rows(rows), THREADS, 0, st>>>(pred, target, rows, dim, scale, dx,
                                                            row_loss, row_ok);
        DT_CUDA_LAUNCHED("k_gaussian_nll");
    }
    sum_rows_of_loss(st, rows, row_loss, row_ok, NULL, sums);
}

/* ---- optimizer steps (the CPU's loops, element by element) ---- */

static __global__ void k_sgd_plain(float *p, const float *g, int64_t n, float lr, float wd)
{
    GRID_STRIDE(i, n) p[i] -= lr * (g[i] + wd * p[i]);
}

static __global__ void k_sgd_momentum(float *p, const float *g, float *v, int64_t n, float lr,
                                      float wd, float mom, float carry, float take,
                                      float nesterov)
{
    GRID_STRIDE(i, n)
    {
        const float d = g[i] + wd * p[i];
        const float b = carry * v[i] + take * d;
        v[i] = b;
        p[i] -= lr * (nesterov * (d + mom * b) + (1.0f - nesterov) * b);
    }
}

static __global__ void k_adam(float *p, const float *g, float *m, float *v, int64_t n, float b1,
                              float b2, float eps, float step_size, float inv_sqrt_bc2,
                              float decay, float l2)
{
    GRID_STRIDE(i, n)
    {
        const float d = g[i] + l2 * p[i];
        const float mi = b1 * m[i] + (1.0f - b1) * d;
        const float vi = b2 * v[i] + (1.0f - b2) * d * d;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

extern "C" void dt_cuk_sgd_plain(cudaStream_t st, float *p, const float *g, int64_t n, float lr,
                                 float wd)
{
    if (n <= 0) return;
    k_sgd_plain<<<grid_for(n), THREADS, 0, st>>>(p, g, n, lr, wd);
    DT_CUDA_LAUNCHED("k_sgd_plain");
}

extern "C" void dt_cuk_sgd_momentum(cudaStream_t st, float *p, const float *g, float *v,
                                    int64_t n, float lr, float wd, float mom, float carry,
                                    float take, float nesterov)
{
    if (n <= 0) return;
    k_sgd_momentum<<<grid_for(n), THREADS, 0, st>>>(p, g, v, n, lr, wd, mom, carry, take,
                                                    nesterov);
    DT_CUDA_LAUNCHED("k_sgd_momentum");
}

extern "C" void dt_cuk_adam(cudaStream_t st, float *p, const float *g, float *m, float *v,
                            int64_t n, float b1, float b2, float eps, float step_size,
                            float inv_sqrt_bc2, float decay, float l2)
{
    if (n <= 0) return;
    k_adam<<<grid_for(n), THREADS, 0, st>>>(p, g, m, v, n, b1, b2, eps, step_size, inv_sqrt_bc2,
                                            decay, l2);
    DT_CUDA_LAUNCHED("k_adam");
}

/* AMSGrad, Adagrad, Adadelta, RMSprop and LAMB's direction: the loops of
 * cpu/cpu_optim.c, one thread per element. */

static __global__ void k_amsgrad(float *p, const float *g, float *m, float *v, float *vmax,
                                 int64_t n, float b1, float b2, float eps, float step_size,
                                 float inv_sqrt_bc2, float decay, float l2)
{
    GRID_STRIDE(i, n)
    {
        const float d = g[i] + l2 * p[i];
        const float mi = b1 * m[i] + (1.0f - b1) * d;
        const float vi = b2 * v[i] + (1.0f - b2) * d * d;
        const float vm = vmax[i] > vi ? vmax[i] : vi;
        m[i] = mi;
        v[i] = vi;
        vmax[i] = vm;
        p[i] = p[i] * decay - step_size * mi / (sqrtf(vm) * inv_sqrt_bc2 + eps);
    }
}

static __global__ void k_adagrad(float *p, const float *g, float *sum, int64_t n, float lr,
                                 float eps, float wd)
{
    GRID_STRIDE(i, n)
    {
        const float d = g[i] + wd * p[i];
        const float s = sum[i] + d * d;
        sum[i] = s;
        p[i] -= lr * d / (sqrtf(s) + eps);
    }
}

static __global__ void k_adadelta(float *p, const float *g, float *sq, float *acc, int64_t n,
                                  float lr, float rho, float eps, float wd)
{
    GRID_STRIDE(i, n)
    {
        const float d = g[i] + wd * p[i];
        const float s = rho * sq[i] + (1.0f - rho) * d * d;
        const float delta = sqrtf(acc[i] + eps) / sqrtf(s + eps) * d;
        sq[i] = s;
        acc[i] = rho * acc[i] + (1.0f - rho) * delta * delta;
        p[i] -= lr * delta;
    }
}

/* buf NULL: no momentum; gavg NULL: not centered. */
static __global__ void k_rmsprop(float *p, const float *g, float *sq, float *buf, float *gavg,
                                 int64_t n, float lr, float alpha, float eps, float wd, float mu)
{
    GRID_STRIDE(i, n)
    {
        const float d = g[i] + wd * p[i];
        const float s = alpha * sq[i] + (1.0f - alpha) * d * d;
        float var = s;
        sq[i] = s;
        if (gavg) {
            const float ga = alpha * gavg[i] + (1.0f - alpha) * d;
            gavg[i] = ga;
            var = s - ga * ga;
        }
        const float step = d / (sqrtf(var) + eps);
        if (buf) {
            const float b = mu * buf[i] + step;
            buf[i] = b;
            p[i] -= lr * b;
        } else {
            p[i] -= lr * step;
        }
    }
}

static __global__ void k_lamb_direction(const float *p, const float *g, float *m, float *v,
                                        float *u, int64_t n, float b1, float b2, float eps,
                                        float wd, float inv_bc1, float inv_bc2)
{
    GRID_STRIDE(i, n)
    {
        const float mi = b1 * m[i] + (1.0f - b1) * g[i];
        const float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        u[i] = mi * inv_bc1 / (sqrtf(vi * inv_bc2) + eps) + wd * p[i];
    }
}

extern "C" void dt_cuk_amsgrad(cudaStream_t st, float *p, const float *g, float *m, float *v,
                               float *vmax, int64_t n, float b1, float b2, float eps,
                               float step_size, float inv_sqrt_bc2, float decay, float l2)
{
    if (n <= 0) return;
    k_amsgrad<<<grid_for(n), THREADS, 0, st>>>(p, g, m, v, vmax, n, b1, b2, eps, step_size,
                                               inv_sqrt_bc2, decay, l2);
    DT_CUDA_LAUNCHED("k_amsgrad");
}

extern "C" void dt_cuk_adagrad(cudaStream_t st, float *p, const float *g, float *sum,
                               int64_t n, float lr, float eps, float wd)
{
    if (n <= 0) return;
    k_adagrad<<<grid_for(n), THREADS, 0, st>>>(p, g, sum, n, lr, eps, wd);
    DT_CUDA_LAUNCHED("k_adagrad");
}

extern "C" void dt_cuk_adadelta(cudaStream_t st, float *p, const float *g, float *sq,
                                float *acc, int64_t n, float lr, float rho, float eps, float wd)
{
    if (n <= 0) return;
    k_adadelta<<<grid_for(n), THREADS, 0, st>>>(p, g, sq, acc, n, lr, rho, eps, wd);
    DT_CUDA_LAUNCHED("k_adadelta");
}

extern "C" void dt_cuk_rmsprop(cudaStream_t st, float *p, const float *g, float *sq,
                               float *buf, float *gavg, int64_t n, float lr, float alpha,
                               float eps, float wd, float mu)
{
    if (n <= 0) return;
    k_rmsprop<<<grid_for(n), THREADS, 0, st>>>(p, g, sq, buf, gavg, n, lr, alpha, eps, wd, mu);
    DT_CUDA_LAUNCHED("k_rmsprop");
}

extern "C" void dt_cuk_lamb_direction(cudaStream_t st, const float *p, const float *g,
                                      float *m, float *v, float *u, int64_t n, float b1,
                                      float b2, float eps, float wd, float inv_bc1,
                                      float inv_bc2)
{
    if (n <= 0) return;
    k_lamb_direction<<<grid_for(n), THREADS, 0, st>>>(p, g, m, v, u, n, b1, b2, eps, wd,
                                                      inv_bc1, inv_bc2);
    DT_CUDA_LAUNCHED("k_lamb_direction");
}
