/* Progress on the terminal (rank 0): a bar with rate and ETA when stdout is
 * a terminal, one labelled line per interval otherwise. */
#ifndef DT_TRAIN_PROGRESS_H
#define DT_TRAIN_PROGRESS_H

#include <stdint.h>

typedef struct dt_progress {
    int enabled, tty;
    int64_t total_steps, steps_per_epoch, epochs;
    double start, last_draw;
} dt_progress;

typedef struct dt_progress_point {
    int64_t step, epoch, step_in_epoch; /* step: optimizer steps done */
    double loss, lr, samples_per_s;
} dt_progress_point;

void dt_progress_init(dt_progress *p, int enabled, int64_t total_steps, int64_t steps_per_epoch,
                      int64_t epochs);
/* `force`: print a line even on a terminal (the end of an interval). */
void dt_progress_update(dt_progress *p, const dt_progress_point *pt, int force);
/* Finish the bar's line before other output. */
void dt_progress_break(dt_progress *p);

/* Monotonic seconds. */
double dt_now(void);

#endif
