/* CPU kernels of the element-wise optimizer steps: AMSGrad, Adagrad,
 * Adadelta, RMSprop and the direction of LAMB. Each is one pass over the
 * flat buffers in float32, in the order of operations of torch.optim, so
 * that results agree with it to float rounding. The update rules are
 * written out in optim/optim.h. */
#include "backend/cpu/cpu_optim.h"

#include <math.h>

/* Elements below which a loop stays on the calling thread. */
#define OPT_PAR_MIN 32768

/* Adam with AMSGrad: the denominator uses the running maximum of v. */
void dt_cpu_amsgrad_step(float *p, const float *g, float *m, float *v, float *vmax, int64_t n,
                         const dt_adam_args *a)
{
    const float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    const dt_adam_scalars sc = dt_adam_scalars_of(a);
    const float step_size = sc.step_size, inv_sqrt_bc2 = sc.inv_sqrt_bc2;
    const float decay = sc.decay, l2 = sc.l2;
#pragma omp parallel for if (n > OPT_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
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

void dt_cpu_adagrad_step(float *p, const float *g, float *sum, int64_t n,
                         const dt_adagrad_args *a)
{
    const float lr = a->lr, eps = a->eps, wd = a->weight_decay;
#pragma omp parallel for if (n > OPT_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float d = g[i] + wd * p[i];
        const float s = sum[i] + d * d;
        sum[i] = s;
        p[i] -= lr * d / (sqrtf(s) + eps);
    }
}

void dt_cpu_adadelta_step(float *p, const float *g, float *sq, float *acc, int64_t n,
                          const dt_adadelta_args *a)
{
    const float lr = a->lr, rho = a->rho, eps = a->eps, wd = a->weight_decay;
#pragma omp parallel for if (n > OPT_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float d = g[i] + wd * p[i];
        const float s = rho * sq[i] + (1.0f - rho) * d * d;
        const float delta = sqrtf(acc[i] + eps) / sqrtf(s + eps) * d;
        sq[i] = s;
        acc[i] = rho * acc[i] + (1.0f - rho) * delta * delta;
        p[i] -= lr * delta;
    }
}

void dt_cpu_rmsprop_step(float *p, const float *g, float *sq, float *buf, float *gavg,
                         int64_t n, const dt_rmsprop_args *a)
{
    const float lr = a->lr, alpha = a->alpha, eps = a->eps, wd = a->weight_decay;
    const float mu = a->momentum;
#pragma omp parallel for if (n > OPT_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
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
            buf[i] = mu * buf[i] + step;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * step;
        }
    }
}

void dt_cpu_lamb_direction(const float *p, const float *g, float *m, float *v, float *u,
                           int64_t n, const dt_adam_args *a)
{
    const float b1 = a->beta1, b2 = a->beta2, eps = a->eps, wd = a->weight_decay;
    const dt_adam_scalars sc = dt_adam_scalars_of(a);
    const float inv_bc1 = sc.inv_bc1, inv_bc2 = sc.inv_bc2;
#pragma omp parallel for if (n > OPT_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float mi = b1 * m[i] + (1.0f - b1) * g[i];
        const float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        u[i] = mi * inv_bc1 / (sqrtf(vi * inv_bc2) + eps) + wd * p[i];
    }
}
