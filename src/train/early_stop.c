/* The early-stopping rule (see early_stop.h). */
#include "train/early_stop.h"

#include <math.h>

void dt_early_stop_init(dt_early_stop *e, int maximize, int64_t patience, double min_delta)
{
    *e = (dt_early_stop){.maximize = maximize, .patience = patience, .min_delta = min_delta,
                         .best_epoch = -1};
}

int dt_early_stop_update(dt_early_stop *e, double value, int64_t epoch, int *improved)
{
    int better = 0;
    if (!isnan(value)) {
        if (e->best_epoch < 0) better = 1;
        else if (e->maximize) better = value > e->best + e->min_delta;
        else better = value < e->best - e->min_delta;
    }
    *improved = better;
    if (better) {
        e->best = value;
        e->best_epoch = epoch;
        e->bad = 0;
        return 0;
    }
    e->bad++;
    return e->bad >= e->patience;
}
