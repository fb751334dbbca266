/* CPU kernels of the optimizer steps beyond SGD and Adam (cpu_optim.c),
 * entered into the CPU backend's table in cpu.c. Internal to the backend. */
#ifndef DT_BACKEND_CPU_CPU_OPTIM_H
#define DT_BACKEND_CPU_CPU_OPTIM_H

#include "backend/backend.h"

void dt_cpu_amsgrad_step(float *p, const float *g, float *m, float *v, float *vmax, int64_t n,
                         const dt_adam_args *a);
void dt_cpu_adagrad_step(float *p, const float *g, float *sum, int64_t n,
                         const dt_adagrad_args *a);
void dt_cpu_adadelta_step(float *p, const float *g, float *sq, float *acc, int64_t n,
                          const dt_adadelta_args *a);
void dt_cpu_rmsprop_step(float *p, const float *g, float *sq, float *buf, float *gavg,
                         int64_t n, const dt_rmsprop_args *a);
void dt_cpu_lamb_direction(const float *p, const float *g, float *m, float *v, float *u,
                           int64_t n, const dt_adam_args *a);

#endif
