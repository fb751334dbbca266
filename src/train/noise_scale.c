/* The two-batch noise-scale estimator with separate moving averages. */
#include "train/noise_scale.h"

#include <math.h>
#include <stdio.h>

void dt_noise_scale_init(dt_noise_scale *n, double decay)
{
    *n = (dt_noise_scale){.decay = decay};
}

void dt_noise_scale_add(dt_noise_scale *n, double g2_small, double b_small, double g2_big,
                        double b_big)
{
    if (!(b_big > b_small) || !(b_small > 0) || !isfinite(g2_small) || !isfinite(g2_big))
        return;
    const double g2 = (b_big * g2_big - b_small * g2_small) / (b_big - b_small);
    const double tr = (g2_small - g2_big) / (1.0 / b_small - 1.0 / b_big);
    n->ema_g2 = n->decay * n->ema_g2 + (1.0 - n->decay) * g2;
    n->ema_tr = n->decay * n->ema_tr + (1.0 - n->decay) * tr;
    n->last_g2 = g2;
    n->last_tr = tr;
    n->count++;
}

static double correction(const dt_noise_scale *n)
{
    return 1.0 - pow(n->decay, (double)n->count);
}

double dt_noise_scale_grad_sq(const dt_noise_scale *n)
{
    return n->count ? n->ema_g2 / correction(n) : NAN;
}

double dt_noise_scale_trace(const dt_noise_scale *n)
{
    return n->count ? n->ema_tr / correction(n) : NAN;
}

double dt_noise_scale_value(const dt_noise_scale *n)
{
    if (!n->count || !(n->ema_g2 > 0) || !(n->ema_tr > 0)) return NAN;
    return n->ema_tr / n->ema_g2; /* the bias corrections cancel */
}

void dt_noise_scale_json(const dt_noise_scale *n, char *buf, size_t cap)
{
    const double b = dt_noise_scale_value(n);
    if (!isfinite(b)) {
        if (cap) buf[0] = '\0';
        return;
    }
    snprintf(buf, cap, ",\"noise_scale\":%.6g,\"grad_sq\":%.6g,\"trace_sigma\":%.6g", b,
             dt_noise_scale_grad_sq(n), dt_noise_scale_trace(n));
}
