/* `dtrain predict`: a checkpoint's outputs on every sample of the test
 * split, as CSV (inputs when a sample has at most 8 numbers, targets,
 * outputs), for plotting fitted curves and for inspection. Rank 0 does
 * the work; other ranks only take part in start-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/log.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

#define PREDICT_CHUNK 256

static void write_header(FILE *f, int64_t nx, int64_t ny, int64_t nout)
{
    for (int64_t j = 0; j < nx; j++) fprintf(f, "x%lld,", (long long)j);
    for (int64_t j = 0; j < ny; j++) fprintf(f, "y%lld,", (long long)j);
    for (int64_t j = 0; j < nout; j++) fprintf(f, "out%lld%s", (long long)j,
                                               j + 1 < nout ? "," : "\n");
}

/* Forward every test sample and write one CSV row per sample. */
static dt_status predict_all(dt_session *s, FILE *f)
{
    dt_model *m = s->model;
    const dt_dataset_info *info = dt_dataset_get_info(s->test);
    const int64_t d = dt_shape_numel(&info->x_shape), ny = info->y_dim;
    const int64_t nout = dt_shape_numel(dt_model_out_shape(m)), nx = d <= 8 ? d : 0;
    float *x = dt_calloc((size_t)(PREDICT_CHUNK * d), sizeof(float));
    float *y = dt_calloc((size_t)(PREDICT_CHUNK * ny), sizeof(float));
    int64_t index[PREDICT_CHUNK];
    write_header(f, nx, ny, nout);
    dt_status st = DT_OK;
    for (int64_t at = 0; st == DT_OK && at < info->count; at += PREDICT_CHUNK) {
        const int64_t n = info->count - at < PREDICT_CHUNK ? info->count - at : PREDICT_CHUNK;
        for (int64_t i = 0; i < n; i++) index[i] = at + i;
        st = dt_dataset_read(s->test, index, (int)n, x, y);
        if (st != DT_OK) break;
        const dt_pass p = {.be = m->be, .n = n, .index = index, .seed = s->seed};
        dt_model_forward(m, x, &p);
        const float *out = dt_model_output(m);
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < nx; j++) fprintf(f, "%.9g,", x[i * d + j]);
            for (int64_t j = 0; j < ny; j++) fprintf(f, "%.9g,", y[i * ny + j]);
            for (int64_t j = 0; j < nout; j++)
                fprintf(f, "%.9g%s", out[i * nout + j], j + 1 < nout ? "," : "\n");
        }
    }
    free(x);
    free(y);
    return st;
}

/* Take "--out FILE" out of argv (the shared parser does not know it). */
static const char *take_out(int *argc, char **argv)
{
    const char *out = NULL;
    int k = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < *argc) out = argv[++i];
        else argv[k++] = argv[i];
    }
    *argc = k;
    return out;
}

int dt_cmd_predict(int argc, char **argv)
{
    static const char usage[] = "dtrain predict CONFIG --checkpoint FILE --out FILE.csv "
                                "[key=value ...]";
    const char *out_path = take_out(&argc, argv);
    dt_cli cli;
    int rc = dt_cli_parse(argc, argv, usage, &cli);
    if (rc || cli.help) return rc;
    if (!cli.checkpoint || !out_path) {
        fprintf(stderr, "dtrain predict: needs --checkpoint FILE and --out FILE\nusage: %s\n",
                usage);
        return 2;
    }
    dt_comm *comm;
    dt_session *s;
    if ((rc = dt_cli_start(&argc, &argv, &cli, DT_NEED_TEST_ONLY, &comm, &s))) return rc;

    dt_trainer *t = NULL;
    dt_ckpt_meta meta = {0};
    dt_status st = dt_trainer_create(s, &t);
    if (st == DT_OK && dt_comm_rank(comm) == 0) {
        st = dt_checkpoint_load(cli.checkpoint, s->model, NULL, &meta);
        if (st == DT_OK)
            st = dt_checkpoint_check_tokenizer(cli.checkpoint, &meta, &s->info, s->data_path,
                                               "predicting with");
        FILE *f = st == DT_OK ? fopen(out_path, "w") : NULL;
        if (st == DT_OK && !f) st = dt_error_set(DT_ERR_IO, "cannot write %s", out_path);
        if (f) {
            st = predict_all(s, f);
            if (fclose(f) != 0 && st == DT_OK)
                st = dt_error_set(DT_ERR_IO, "cannot write %s", out_path);
        }
    }
    st = dt_comm_agree(comm, st);
    dt_trainer_destroy(t);
    if (st != DT_OK) return dt_cli_fail(NULL, comm, s);
    DT_INFO("wrote %s (checkpoint %s, step %lld)", out_path, cli.checkpoint,
            (long long)meta.step);
    dt_cli_finish(comm, s);
    return 0;
}
