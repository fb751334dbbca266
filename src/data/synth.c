/* Synthetic tasks (see synth.h).
 *
 * regression1d: the classic exercise for comparing optimizers. x is uniform
 * in [-1, 1]; the target is a smooth curve plus three narrow, tall bumps
 * plus Gaussian noise:
 *   y = sin(2.5 x) + 0.3 cos(7 x) + sum_k A_k exp(-((x - c_k) / w)^2) + e,
 *   A = (6, -5, 7), c = (-0.55, 0.1, 0.65), w = 0.03, e ~ N(0, 0.1^2).
 * About 12% of the samples lie on a bump, yet they carry 99% of the squared
 * error left by a model that has fitted only the smooth part, so the loss curve
 * shows when an optimizer starts to fit the peaks. The test split (n / 2
 * samples) is drawn the same way from another stream. The generated
 * train.csv and test.csv (columns x, y) stay in the directory next to the
 * shards, for plotting. */
#include "data/synth.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/convert.h"

typedef struct synth_task {
    const char *name;
    const char *description;
    int64_t default_n;
    dt_status (*write)(const dt_synth_options *o, int64_t n);
} synth_task;

/* Create `dir` and its parents (the CSV files go in before the shards). */
static dt_status make_dirs(const char *dir)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return dt_error_set(DT_ERR_ARG, "path %s is too long", dir);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return dt_error_set(DT_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    return DT_OK;
}

/* ---- regression1d ---- */

static double regression1d_clean(double x)
{
    static const double amp[3] = {6.0, -5.0, 7.0}, centre[3] = {-0.55, 0.1, 0.65};
    const double width = 0.03;
    double y = sin(2.5 * x) + 0.3 * cos(7.0 * x);
    for (int k = 0; k < 3; k++) {
        const double z = (x - centre[k]) / width;
        y += amp[k] * exp(-z * z);
    }
    return y;
}

/* n rows "x,y" of split `part` (0 train, 1 test) into path. */
static dt_status regression1d_csv(const char *path, int64_t n, uint64_t seed, uint32_t part)
{
    FILE *f = fopen(path, "w");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot write %s", path);
    const dt_rng ux = dt_rng_make(seed, DT_RNG_USER, 1, part);
    const dt_rng ue = dt_rng_make(seed, DT_RNG_USER, 2, part);
    float noise[1];
    fprintf(f, "x,y\n");
    for (int64_t i = 0; i < n; i++) {
        const float x = -1.0f + 2.0f * dt_rng_uniform(&ux, (uint64_t)i);
        dt_rng_fill_normal(&ue, (uint64_t)i, noise, 1, 0.0f, 0.1f);
        fprintf(f, "%.9g,%.9g\n", x, (float)(regression1d_clean(x) + noise[0]));
    }
    return fclose(f) == 0 ? DT_OK : dt_error_set(DT_ERR_IO, "cannot write %s", path);
}

/* Write DIR/train.csv and DIR/test.csv, then convert them. */
static dt_status regression1d_write(const dt_synth_options *o, int64_t n)
{
    char train[1200], test[1200];
    snprintf(train, sizeof train, "%s/train.csv", o->out_dir);
    snprintf(test, sizeof test, "%s/test.csv", o->out_dir);
    dt_convert_options co;
    dt_convert_options_init(&co);
    co.out_dir = o->out_dir;
    co.name = "regression1d";
    co.targets = "y";
    co.seed = o->seed;
    DT_TRY(make_dirs(o->out_dir));
    DT_TRY(regression1d_csv(train, n, o->seed, 0));
    DT_TRY(regression1d_csv(test, n / 2 > 1 ? n / 2 : 2, o->seed, 1));
    return dt_convert_csv(train, test, &co);
}

/* ---- the table ---- */

static const synth_task g_tasks[] = {
    {"regression1d",
     "1-D regression: smooth curve + 3 narrow tall peaks + noise (x, y)", 1000,
     regression1d_write},
};
#define N_TASKS (int)(sizeof g_tasks / sizeof g_tasks[0])

dt_status dt_synth_write(const dt_synth_options *o)
{
    for (int i = 0; i < N_TASKS; i++) {
        if (strcmp(o->task, g_tasks[i].name) != 0) continue;
        const int64_t n = o->n > 0 ? o->n : g_tasks[i].default_n;
        return g_tasks[i].write(o, n);
    }
    char known[512] = "";
    for (int i = 0; i < N_TASKS; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 g_tasks[i].name);
    return dt_error_set(DT_ERR_ARG, "unknown synthetic task '%s' (known: %s)", o->task, known);
}
