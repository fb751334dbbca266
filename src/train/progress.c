/* Progress bar and interval lines. */
#include "train/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double dt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dt_progress_init(dt_progress *p, int enabled, int64_t total_steps, int64_t steps_per_epoch,
                      int64_t epochs)
{
    p->enabled = enabled;
    p->tty = enabled && isatty(STDOUT_FILENO);
    p->total_steps = total_steps;
    p->steps_per_epoch = steps_per_epoch;
    p->epochs = epochs;
    p->start = p->last_draw = dt_now();
}

static void fmt_duration(double s, char *buf, size_t cap)
{
    const long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void draw_bar(dt_progress *p, const dt_progress_point *pt, double now)
{
    enum { WIDTH = 24 };
    const double frac = p->total_steps ? (double)pt->step / (double)p->total_steps : 0.0;
    char bar[WIDTH + 1], eta[32];
    const int fill = (int)(frac * WIDTH);
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[WIDTH] = '\0';
    const double elapsed = now - p->start;
    fmt_duration(frac > 0 ? elapsed * (1.0 / frac - 1.0) : 0.0, eta, sizeof eta);
    printf("\r\033[Kepoch %lld/%lld [%s] %3.0f%% step %lld/%lld loss %.4f lr %.2e "
           "%.0f samples/s ETA %s",
           (long long)pt->epoch + 1, (long long)p->epochs, bar, 100.0 * frac,
           (long long)pt->step, (long long)p->total_steps, pt->loss, pt->lr, pt->samples_per_s,
           eta);
    fflush(stdout);
}

void dt_progress_update(dt_progress *p, const dt_progress_point *pt, int force)
{
    if (!p->enabled) return;
    const double now = dt_now();
    if (p->tty) {
        if (force || now - p->last_draw > 0.2) draw_bar(p, pt, now);
        p->last_draw = now;
        return;
    }
    if (!force) return;
    printf("step %lld/%lld  epoch %lld/%lld (%lld/%lld)  loss %.4f  lr %.2e  "
           "%.0f samples/s  %.1f s\n",
           (long long)pt->step, (long long)p->total_steps, (long long)pt->epoch + 1,
           (long long)p->epochs, (long long)pt->step_in_epoch, (long long)p->steps_per_epoch,
           pt->loss, pt->lr, pt->samples_per_s, now - p->start);
    fflush(stdout);
}

void dt_progress_break(dt_progress *p)
{
    if (p->enabled && p->tty) {
        printf("\n");
        fflush(stdout);
    }
}
