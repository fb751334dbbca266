/* The finite-difference comparison the layer tests share: central
 * differences of a scalar objective over every flat parameter of a model,
 * against the analytic gradients of one backward pass. */
#ifndef DT_TEST_GRADCHECK_UTIL_H
#define DT_TEST_GRADCHECK_UTIL_H

#include <math.h>
#include <stdio.h>

#include "nn/model.h"
#include "test_util.h"

/* Tolerance per parameter: atol + rtol * max(|analytic|, |numeric|). */
#define DT_GC_RTOL 1e-2
#define DT_GC_ATOL 5e-4

/* Compare `ana` (the analytic gradient, m->n_params floats) with
 * (f(p + eps) - f(p - eps)) / 2 eps for each parameter, f evaluated by
 * `objective(ctx)` after the parameter is moved. Prints the worst error as
 * a fraction of the tolerance; counts failures into dt_test_failures, also
 * when the gradients vanish (a check that would pass for any code). */
static void dt_gc_compare(dt_model *m, const float *ana, double (*objective)(void *ctx),
                          void *ctx, float eps, const char *label)
{
    int bad = 0;
    double worst = 0.0, norm = 0.0;
    for (int64_t k = 0; k < m->n_params; k++) {
        const float p0 = m->params[k], hi = p0 + eps, lo = p0 - eps;
        m->params[k] = hi;
        const double f_hi = objective(ctx);
        m->params[k] = lo;
        const double f_lo = objective(ctx);
        m->params[k] = p0;
        const double num = (f_hi - f_lo) / ((double)hi - lo);
        const double err = fabs(ana[k] - num);
        const double tol = DT_GC_ATOL + DT_GC_RTOL * fmax(fabs(ana[k]), fabs(num));
        norm += fabs(ana[k]);
        worst = fmax(worst, err / tol);
        if (err > tol && bad++ < 5)
            fprintf(stderr, "%s: param %lld: analytic %.6g, numeric %.6g\n", label,
                    (long long)k, ana[k], num);
    }
    if (!(norm > 1e-2)) {
        fprintf(stderr, "%s: gradients vanish\n", label);
        bad++;
    }
    printf("%-44s %4lld params, worst error %.2f of tolerance\n", label,
           (long long)m->n_params, worst);
    dt_test_failures += bad;
}

#endif
