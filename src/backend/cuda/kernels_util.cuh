/* What the kernel files of the CUDA backend share: block size, grid sizes,
 * the grid-stride loop and the fixed-order warp and block sums. Included by
 * the .cu files only (device code, C++). */
#ifndef DT_BACKEND_CUDA_KERNELS_UTIL_CUH
#define DT_BACKEND_CUDA_KERNELS_UTIL_CUH

#include <stdint.h>

#define THREADS 256
#define WARP 32

/* Blocks of THREADS for a grid-stride loop over n elements. */
static inline unsigned grid_for(int64_t n)
{
    const int64_t b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

#define GRID_STRIDE(i, n)                                                      \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);  \
         i += (int64_t)gridDim.x * blockDim.x)

/* Warp sums in a fixed tree order (deterministic). */
template <typename T> static __device__ T warp_sum(T v)
{
    for (int o = WARP / 2; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    return __shfl_sync(0xffffffffu, v, 0);
}

/* Sum of THREADS doubles over the block, in a fixed tree order; every
 * thread gets the result. `sh` is THREADS doubles of shared memory. */
static __device__ double block_sum(double v, double *sh)
{
    __syncthreads(); /* sh may still be read from a previous call */
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s /= 2) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}

/* out[0] = sum of the first `count` doubles of v (strided by `stride`),
 * one block of THREADS. */
static __global__ void k_sum_doubles(const double *v, int64_t count, int64_t stride,
                                     double *out)
{
    __shared__ double sh[THREADS];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += THREADS) acc += v[i * stride];
    const double s = block_sum(acc, sh);
    if (threadIdx.x == 0) out[0] = s;
}

#define LANE() ((int)(threadIdx.x % WARP))

/* The arg-max of a row, the lowest index among equal maxima (as the CPU's
 * first-wins scan); *best gets the maximum. */
static __device__ int64_t warp_argmax(const float *z, int64_t cols, float *best)
{
    float bv = -INFINITY;
    int64_t bi = cols; /* beyond any index: loses every tie */
    for (int64_t j = LANE(); j < cols; j += WARP)
        if (z[j] > bv || (z[j] == bv && j < bi)) {
            bv = z[j];
            bi = j;
        }
    for (int o = WARP / 2; o > 0; o /= 2) {
        const float ov = __shfl_down_sync(0xffffffffu, bv, o);
        const int64_t oi = __shfl_down_sync(0xffffffffu, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) {
            bv = ov;
            bi = oi;
        }
    }
    *best = __shfl_sync(0xffffffffu, bv, 0);
    bi = __shfl_sync(0xffffffffu, bi, 0);
    return bi < cols ? bi : 0; /* a row of NaNs: index 0, as the CPU */
}

#endif
