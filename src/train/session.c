/* Building a session from a config: data, model, loss, optimizer, settings. */
#include "train/session.h"

#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/log.h"

static dt_status read_settings(dt_session *s, dt_cfg *t, dt_cfg *dist)
{
    dt_train_settings *ts = &s->ts;
    DT_TRY(dt_cfg_int_req(t, "batch_size", 1, 1 << 30, &ts->batch_size));
    DT_TRY(dt_cfg_int(t, "accumulation", 1, 1, 1 << 20, &ts->accumulation));
    DT_TRY(dt_cfg_int(t, "micro_batch", 0, 0, 1 << 30, &ts->micro_batch));
    DT_TRY(dt_cfg_int(t, "epochs", 1, 0, 1 << 30, &ts->epochs));
    DT_TRY(dt_cfg_int(t, "max_steps", 0, 0, INT64_MAX, &ts->max_steps));
    DT_TRY(dt_cfg_int(t, "log_every", 50, 1, INT64_MAX, &ts->log_every));
    DT_TRY(dt_cfg_int(t, "eval_batch", 1024, 1, 1 << 30, &ts->eval_batch));
    DT_TRY(dt_cfg_int(t, "checkpoint_every", 0, 0, 1 << 30, &ts->checkpoint_every));
    DT_TRY(dt_cfg_bool(t, "shuffle", 1, &ts->shuffle));
    DT_TRY(dt_cfg_bool(t, "check_finite", 1, &ts->check_finite));
    DT_TRY(dt_cfg_bool(t, "log_grad_norms", 0, &ts->log_grad_norms));
    DT_TRY(dt_cfg_str(t, "resume", "", &ts->resume));
    DT_TRY(dt_cfg_str(t, "run_dir", "runs", &ts->run_root));
    DT_TRY(dt_cfg_str(t, "name", "", &ts->run_name));
    DT_TRY(dt_cfg_bool(s->cfg, "prefetch", 1, &ts->prefetch));

    double bucket_mb;
    DT_TRY(dt_cfg_float(dist, "bucket_mb", 4.0, 0.001, 4096.0, &bucket_mb));
    ts->bucket_bytes = (int64_t)(bucket_mb * 1024 * 1024);

    /* global batch = micro-batch x accumulation x ranks */
    const int64_t world = dt_comm_size(s->comm), parts = ts->accumulation * world;
    if (ts->micro_batch) {
        if (ts->micro_batch * parts != ts->batch_size)
            return dt_cfg_error(dt_cfg_get(t, "micro_batch"),
                                "micro_batch x accumulation x ranks = batch_size",
                                "%lld x %lld x %lld != %lld", (long long)ts->micro_batch,
                                (long long)ts->accumulation, (long long)world,
                                (long long)ts->batch_size);
    } else {
        if (ts->batch_size < parts)
            return dt_cfg_error(dt_cfg_get(t, "batch_size"),
                                "at least accumulation x ranks samples per step",
                                "%lld < %lld x %lld", (long long)ts->batch_size,
                                (long long)ts->accumulation, (long long)world);
        ts->micro_batch = (ts->batch_size + parts - 1) / parts;
    }
    return DT_OK;
}

/* The data section: open the splits, or take the input shape from
 * model.input when no data is needed (info, bench). */
static dt_status open_data(dt_session *s, dt_cfg *data, dt_cfg *model, int need)
{
    const char *path, *train_split, *test_split;
    int64_t dims[DT_MAX_DIMS];
    int nd = DT_MAX_DIMS;
    DT_TRY(dt_cfg_str(data, "path", "", &path));
    DT_TRY(dt_cfg_str(data, "train_split", "train", &train_split));
    DT_TRY(dt_cfg_str(data, "test_split", "test", &test_split));
    DT_TRY(dt_cfg_int_list(model, "input", dims, &nd));
    s->data_path = dt_strdup(path);

    if (!need && nd > 0) { /* shapes only */
        s->info.x_shape = dt_shape_make(nd, dims);
        s->info.label_kind = DT_LABEL_CLASS;
        s->info.y_dim = 1;
        return DT_OK;
    }
    if (!path[0])
        return dt_error_set(DT_ERR_CONFIG, "%s: missing key 'data.path' (the shard set "
                            "directory)%s", s->config_path,
                            need ? "" : ", or give model.input as a shape");
    if (need != DT_NEED_TEST_ONLY) {
        DT_TRY(dt_dataset_open(path, train_split, &s->train));
        s->info = *dt_dataset_get_info(s->train);
    }
    if (need) {
        DT_TRY(dt_dataset_open(path, test_split, &s->test));
        if (!s->train) s->info = *dt_dataset_get_info(s->test);
    }
    if (nd > 0) {
        const dt_shape given = dt_shape_make(nd, dims);
        char a[64], b[64];
        if (!dt_shape_equal(&given, &s->info.x_shape))
            return dt_cfg_error(dt_cfg_get(model, "input"), "the data set's sample shape",
                                "%s, data has %s", dt_shape_str(&given, a, sizeof a),
                                dt_shape_str(&s->info.x_shape, b, sizeof b));
    }
    return DT_OK;
}

static dt_status read_runtime(dt_session *s, dt_cfg *rt)
{
    int64_t threads;
    const char *level;
    DT_TRY(dt_cfg_int(rt, "threads", 0, 0, 4096, &threads));
    DT_TRY(dt_cfg_str(rt, "log_level", "info", &level));
    const int lv = dt_log_level_parse(level);
    if (lv < 0)
        return dt_cfg_error(dt_cfg_get(rt, "log_level"), "debug, info, warn, error or off",
                            "'%s'", level);
    dt_log_init(dt_comm_rank(s->comm), dt_comm_size(s->comm), (dt_log_level)lv);

    /* Explicit config first, then OMP_NUM_THREADS, then the node's fair share. */
    const char *env = getenv("OMP_NUM_THREADS");
    if (!threads && env && atoi(env) > 0) threads = atoi(env);
    if (!threads) threads = dt_backend_cpu_default_threads(dt_comm_local_size(s->comm));
    s->threads = (int)threads;
    dt_backend_cpu_set_threads(s->threads);
    return DT_OK;
}

static dt_status build(dt_session *s, int need)
{
    dt_cfg *root = s->cfg, *model_cfg;
    int64_t seed;
    DT_TRY(dt_cfg_int(root, "seed", 1, 0, INT64_MAX, &seed));
    s->seed = (uint64_t)seed;
    DT_TRY(dt_cfg_require(root, "model", DT_CFG_MAP, &model_cfg));
    DT_TRY(read_runtime(s, dt_cfg_get(root, "runtime")));
    DT_TRY(open_data(s, dt_cfg_get(root, "data"), model_cfg, need));
    DT_TRY(read_settings(s, dt_cfg_get(root, "train"), dt_cfg_get(root, "dist")));

    DT_TRY(dt_model_build(model_cfg, &s->info.x_shape, dt_backend_cpu(), &s->model));
    if (!s->train && !s->test) /* shapes only: take the classes from the model */
        s->info.num_classes = (int)dt_shape_numel(dt_model_out_shape(s->model));
    DT_TRY(dt_loss_setup(dt_cfg_get(root, "loss"), dt_model_out_shape(s->model),
                         s->info.label_kind == DT_LABEL_CLASS, s->info.num_classes,
                         s->info.y_dim, &s->loss));

    const int64_t steps_per_epoch = (s->info.count + s->ts.batch_size - 1) / s->ts.batch_size;
    int64_t total = s->ts.epochs * steps_per_epoch;
    if (s->ts.max_steps && (s->ts.max_steps < total || !total)) total = s->ts.max_steps;
    DT_TRY(dt_optim_create(dt_cfg_get(root, "optim"), dt_backend_cpu(), s->model->n_params,
                           total, &s->optim));
    return dt_cfg_check_unused(root);
}

dt_status dt_session_create(const char *config_path, char **overrides, int n_overrides,
                            dt_comm *comm, int need, dt_session **out)
{
    dt_session *s = dt_calloc(1, sizeof *s);
    s->comm = comm;
    s->config_path = dt_strdup(config_path);
    *out = NULL;

    dt_status st = dt_cfg_load_file(config_path, &s->cfg);
    for (int i = 0; st == DT_OK && i < n_overrides; i++)
        st = dt_cfg_override(s->cfg, overrides[i]);
    if (st == DT_OK) st = build(s, need);
    st = dt_comm_agree(comm, st);
    if (st != DT_OK) {
        const dt_status keep = st;
        char *msg = dt_strdup(dt_error_message());
        dt_session_destroy(s);
        dt_error_set(keep, "%s", msg);
        free(msg);
        return keep;
    }
    *out = s;
    return DT_OK;
}

void dt_session_destroy(dt_session *s)
{
    if (!s) return;
    dt_optim_destroy(s->optim);
    dt_model_destroy(s->model);
    dt_dataset_close(s->train);
    dt_dataset_close(s->test);
    dt_cfg_free(s->cfg);
    free(s->data_path);
    free(s->config_path);
    free(s);
}
