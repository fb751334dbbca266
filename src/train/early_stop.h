/* Early stopping: track the best value of a monitored metric and decide
 * when it has stopped improving.
 *
 * After each evaluation the value is compared with the best so far: it
 * improves when it is lower than best - min_delta (mode min) or higher than
 * best + min_delta (mode max). After `patience` evaluations in a row
 * without improvement the run stops. The trainer makes this decision on
 * rank 0 from all-reduced metrics and broadcasts it, keeps the best
 * parameters in checkpoints/best.h5 and restores them at the end. */
#ifndef DT_TRAIN_EARLY_STOP_H
#define DT_TRAIN_EARLY_STOP_H

#include <stdint.h>

typedef struct dt_early_stop {
    int maximize;
    int64_t patience;
    double min_delta;
    double best;        /* best value so far (valid when best_epoch >= 0) */
    int64_t best_epoch; /* 1-based epoch of the best value, -1 before any */
    int64_t bad;        /* evaluations since the last improvement */
} dt_early_stop;

void dt_early_stop_init(dt_early_stop *e, int maximize, int64_t patience, double min_delta);

/* Record the value of `epoch` (1-based). Sets *improved; returns 1 when
 * the run should stop now. A NaN never improves. */
int dt_early_stop_update(dt_early_stop *e, double value, int64_t epoch, int *improved);

#endif
