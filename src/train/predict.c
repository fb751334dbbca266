/* Writing segmentation predictions of a few test samples as text. */
#include "train/predict.h"

#include <stdio.h>
#include <stdlib.h>

static void write_matrix(FILE *f, const float *v, int64_t h, int64_t w, const char *fmt)
    __attribute__((format(printf, 5, 0)));
static void write_matrix(FILE *f, const float *v, int64_t h, int64_t w, const char *fmt)
{
    for (int64_t r = 0; r < h; r++) {
        for (int64_t c = 0; c < w; c++) {
            if (c) fputc(' ', f);
            fprintf(f, fmt, (double)v[r * w + c]);
        }
        fputc('\n', f);
    }
    fputs("\n\n", f);
}

/* Per pixel the class with the largest score: out (classes, hw) -> pred (hw). */
static void arg_max(const float *out, int64_t classes, int64_t hw, float *pred)
{
    for (int64_t p = 0; p < hw; p++) {
        int64_t best = 0;
        for (int64_t k = 1; k < classes; k++)
            best = out[k * hw + p] > out[best * hw + p] ? k : best;
        pred[p] = (float)best;
    }
}

dt_status dt_predictions_write(dt_session *s, int n, const char *path)
{
    const dt_shape *xs = &s->info.x_shape;
    if (s->info.label_kind != DT_LABEL_PIXEL_CLASS || xs->ndim != 3)
        return dt_error_set(DT_ERR_CONFIG, "--predictions needs a data set with a class per "
                            "pixel of (channels, height, width) images");
    const int64_t count = dt_dataset_get_info(s->test)->count;
    if (n > count) n = (int)count;
    const int64_t h = xs->dim[1], w = xs->dim[2], in = dt_shape_numel(xs), hw = h * w;
    float *x = dt_calloc((size_t)(n * in), sizeof *x);
    float *y = dt_calloc((size_t)(n * hw), sizeof *y);
    float *pred = dt_calloc((size_t)hw, sizeof *pred);
    int64_t *index = dt_calloc((size_t)n, sizeof *index);
    for (int i = 0; i < n; i++) index[i] = i;
    dt_status st = dt_dataset_read(s->test, index, n, x, y);
    FILE *f = st == DT_OK ? fopen(path, "w") : NULL;
    if (st == DT_OK && !f) st = dt_error_set(DT_ERR_IO, "cannot write predictions to %s", path);
    if (f) {
        const dt_pass p = {.be = s->model->be, .n = n, .index = index, .seed = s->seed};
        dt_model_forward(s->model, x, &p);
        const float *out = dt_model_output(s->model);
        for (int i = 0; i < n; i++) {
            arg_max(out + i * s->loss.classes * hw, s->loss.classes, hw, pred);
            write_matrix(f, x + i * in, h, w, "%.3f");
            write_matrix(f, y + i * hw, h, w, "%.0f");
            write_matrix(f, pred, h, w, "%.0f");
        }
        if (fclose(f) != 0) st = dt_error_set(DT_ERR_IO, "cannot write predictions to %s", path);
    }
    free(x);
    free(y);
    free(pred);
    free(index);
    return st;
}
