/* Building a session from a config: data, model, loss, optimizer, settings. */
#include "train/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/backend_cuda.h"
#include "core/log.h"
#include "core/rng.h"
#include "data/mlm.h"
#include "data/sampler.h"

static const char *const g_monitors[] = {"val_loss", "val_accuracy", "test_loss",
                                         "test_accuracy", NULL};

const char *dt_es_monitor_name(int monitor) { return g_monitors[monitor]; }

static dt_status read_early_stopping(dt_train_settings *ts, dt_cfg *t)
{
    static const char *const modes[] = {"min", "max", NULL};
    dt_cfg *es = dt_cfg_get(t, "early_stopping");
    if (!es) return DT_OK;
    if (es->kind != DT_CFG_MAP)
        return dt_cfg_error(es, "a map {monitor, mode, patience, min_delta}", "a %s",
                            es->kind == DT_CFG_SEQ ? "sequence" : "scalar");
    int monitor, mode;
    DT_TRY(dt_cfg_enum(es, "monitor", "val_loss", g_monitors, &monitor));
    const int acc = monitor == DT_ES_VAL_ACCURACY || monitor == DT_ES_TEST_ACCURACY;
    DT_TRY(dt_cfg_enum(es, "mode", acc ? "max" : "min", modes, &mode));
    DT_TRY(dt_cfg_int(es, "patience", 3, 1, 1 << 30, &ts->es_patience));
    DT_TRY(dt_cfg_float(es, "min_delta", 0.0, 0.0, 1e12, &ts->es_min_delta));
    ts->early_stopping = 1;
    ts->es_monitor = monitor;
    ts->es_maximize = mode == 1;
    return DT_OK;
}
#include "dist/nccl.h"

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
    DT_TRY(dt_cfg_str(t, "init_from", "", &ts->init_from));
    DT_TRY(dt_cfg_str(t, "run_dir", "runs", &ts->run_root));
    DT_TRY(dt_cfg_str(t, "name", "", &ts->run_name));
    DT_TRY(dt_cfg_bool(s->cfg, "prefetch", 1, &ts->prefetch));
    DT_TRY(read_early_stopping(ts, t));
    static const char *const precisions[] = {"fp32", "bf16", NULL};
    DT_TRY(dt_cfg_enum(t, "precision", "fp32", precisions, &ts->precision));

    double bucket_mb;
    DT_TRY(dt_cfg_float(dist, "bucket_mb", 4.0, 0.001, 4096.0, &bucket_mb));
    ts->bucket_bytes = (int64_t)(bucket_mb * 1024 * 1024);
    DT_TRY(dt_cfg_float(dist, "timeout_s", 600.0, 0.0, 1e7, &ts->comm_timeout_s));

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

void dt_job_overrides_start(dt_ovlist *l, char *const *base, int n_base)
{
    dt_ovlist_add(l, "runtime.log_level=warn");
    for (int i = 0; i < n_base; i++) dt_ovlist_add(l, "%s", base[i]);
}

void dt_job_overrides_place(dt_ovlist *l, const char *dir, const char *name)
{
    dt_ovlist_add(l, "train.run_dir=%s", dir);
    dt_ovlist_add(l, "train.name=%s", name);
}

/* Hold out a validation part of the training split: a permutation keyed
 * by the seed, cut at the fraction, or the k-fold split of sampler.h (the
 * same folds as a cross-validation sweep); both parts keep their rows in
 * increasing order. */
static dt_status hold_out(dt_session *s, const char *path, const char *split)
{
    const int64_t n = s->info.count;
    int64_t *train_rows = dt_calloc((size_t)(n ? n : 1), sizeof *train_rows);
    s->val_rows = dt_calloc((size_t)(n ? n : 1), sizeof(int64_t));
    if (s->folds) {
        dt_sampler_kfold(s->seed, n, (int)s->folds, (int)s->fold, train_rows,
                         &s->n_train_rows, s->val_rows, &s->n_val);
    } else {
        const dt_rng rng = dt_rng_make(s->seed, DT_RNG_SPLIT, 0x76616c, 0); /* "val" */
        const int64_t hi = (int64_t)(s->val_fraction * (double)n + 0.5);
        dt_sampler_holdout(&rng, n, 0, hi, train_rows, &s->n_train_rows, s->val_rows,
                           &s->n_val);
    }
    dt_status st = DT_OK;
    if (s->n_val == 0 || s->n_train_rows == 0)
        st = dt_error_set(DT_ERR_CONFIG, "%s: the validation hold-out of %lld of %lld "
                          "training samples leaves a part empty (data.validation_fraction "
                          "%g, data.folds %lld)", s->config_path, (long long)s->n_val,
                          (long long)n, s->val_fraction, (long long)s->folds);
    if (st == DT_OK) st = dt_dataset_open(path, split, &s->val);
    if (st == DT_OK) st = dt_dataset_restrict(s->val, s->val_rows, s->n_val);
    if (st == DT_OK) st = dt_dataset_restrict(s->train, train_rows, s->n_train_rows);
    free(train_rows);
    if (st == DT_OK) s->info.count = s->n_train_rows;
    return st;
}

static dt_status read_validation(dt_session *s, dt_cfg *data)
{
    DT_TRY(dt_cfg_float(data, "validation_fraction", 0.0, 0.0, 0.99, &s->val_fraction));
    DT_TRY(dt_cfg_int(data, "folds", 0, 0, 1 << 20, &s->folds));
    DT_TRY(dt_cfg_int(data, "fold", 0, 0, 1 << 20, &s->fold));
    if (s->folds == 1)
        return dt_cfg_error(dt_cfg_get(data, "folds"), "0 (off) or at least 2", "1");
    if (s->folds && s->fold >= s->folds)
        return dt_cfg_error(dt_cfg_get(data, "fold"), "a fold below data.folds",
                            "%lld with %lld folds", (long long)s->fold, (long long)s->folds);
    if (s->folds && s->val_fraction > 0)
        return dt_cfg_error(dt_cfg_get(data, "folds"), "either validation_fraction or folds",
                            "both");
    return DT_OK;
}

/* data.mlm {prob, mask, random}: masked-LM targets made at every read of
 * each split (data/mlm.h). A set whose labels are made at load time gets
 * the defaults without it; any other set of token labels only when asked. */
static dt_status setup_masking(dt_session *s, dt_cfg *data)
{
    dt_cfg *const node = dt_cfg_get(data, "mlm");
    const int tokens = s->info.label_kind == DT_LABEL_TOKENS;
    if (!node && !(tokens && !s->info.labels_stored)) return DT_OK;
    if (node && node->kind != DT_CFG_MAP)
        return dt_cfg_error(node, "a map {prob, mask, random}", "a %s",
                            node->kind == DT_CFG_SEQ ? "sequence" : "scalar");
    dt_mlm m;
    dt_mlm_init(&m, s->info.vocab_size, s->seed);
    DT_TRY(dt_cfg_float(node, "prob", m.prob, 0.0, 1.0, &m.prob));
    DT_TRY(dt_cfg_float(node, "mask", m.mask, 0.0, 1.0, &m.mask));
    DT_TRY(dt_cfg_float(node, "random", m.random, 0.0, 1.0, &m.random));
    if (!s->train && !s->test) return DT_OK; /* shapes only */
    if (!tokens)
        return dt_cfg_error(node, "a set of token ids with token labels (see docs/text.md)",
                            "data set %s (%s)", s->data_path, s->info.name);
    if (s->info.vocab_size <= 0)
        return dt_error_set(DT_ERR_DATA, "data set %s: masking needs the vocabulary size, but "
                            "its manifest records no tokenizer", s->data_path);
    dt_status st = dt_mlm_check(&m);
    if (st != DT_OK) return dt_error_prefix(st, "%s: ", s->config_path);
    dt_dataset *const sets[3] = {s->train, s->test, s->val};
    for (int i = 0; i < 3; i++)
        if (sets[i]) DT_TRY(dt_dataset_set_mlm(sets[i], &m));
    DT_INFO("masked LM on %s: %.0f%% of the tokens chosen per sample and epoch; of those "
            "%.0f%% [MASK], %.0f%% random, %.0f%% kept", s->data_path, 100.0 * m.prob,
            100.0 * m.mask, 100.0 * m.random, 100.0 * (1.0 - m.mask - m.random));
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
    DT_TRY(read_validation(s, data));
    s->data_path = dt_strdup(path);

    if (!need && nd > 0) { /* shapes only */
        s->info.x_shape = dt_shape_make(nd, dims);
        s->info.label_kind = DT_LABEL_CLASS;
        s->info.y_dim = 1;
        return setup_masking(s, data);
    }
    if (!path[0])
        return dt_error_set(DT_ERR_CONFIG, "%s: missing key 'data.path' (the shard set "
                            "directory)%s", s->config_path,
                            need ? "" : ", or give model.input as a shape");
    if (need != DT_NEED_TEST_ONLY) {
        DT_TRY(dt_dataset_open(path, train_split, &s->train));
        s->info = *dt_dataset_get_info(s->train);
        if (s->val_fraction > 0 || s->folds) DT_TRY(hold_out(s, path, train_split));
    }
    if (need) {
        DT_TRY(dt_dataset_open(path, test_split, &s->test));
        if (!s->train) s->info = *dt_dataset_get_info(s->test);
    }
    DT_TRY(setup_masking(s, data));
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

    /* Under mpirun a rank's stdout is a pty even when mpirun writes to a
     * file, so "auto" cannot always tell; bar and lines say it outright. */
    static const char *const progress[] = {"auto", "bar", "lines", NULL};
    DT_TRY(dt_cfg_enum(rt, "progress", "auto", progress, &s->progress));

    /* Explicit config first, then OMP_NUM_THREADS, then the node's fair share. */
    const char *env = getenv("OMP_NUM_THREADS");
    if (!threads && env && atoi(env) > 0) threads = atoi(env);
    if (!threads) threads = dt_backend_cpu_default_threads(dt_comm_local_size(s->comm));
    s->threads = (int)threads;
    dt_backend_cpu_set_threads(s->threads);
    return DT_OK;
}

/* One optimizer group per parameter tensor, with its no_decay mark. */
static void set_optim_groups(dt_session *s)
{
    const dt_model *m = s->model;
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i]->n_params;
    dt_optim_group *g = dt_calloc((size_t)(n ? n : 1), sizeof *g);
    n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_params; k++) {
            const dt_param *p = &m->layers[i]->params[k];
            g[n++] = (dt_optim_group){.offset = p->offset, .n = dt_shape_numel(&p->shape),
                                      .no_decay = p->no_decay};
        }
    if (n) dt_optim_set_groups(s->optim, g, n);
    free(g);
}

static dt_status sum_over_comm(void *ctx, double *buf, int64_t n)
{
    return dt_comm_allreduce_f64(ctx, buf, n);
}

/* optim.shard: this rank keeps optimizer state for its shard only, and
 * the optimizer sums what needs the whole vector over the session's
 * communicator (a group's own, under sweeps and ensembles). On one rank
 * the shard is everything and nothing is summed. */
static void shard_optim(dt_session *s)
{
    if (!s->optim->shard) return;
    const int world = dt_comm_size(s->comm), rank = dt_comm_rank(s->comm);
    int64_t *b = dt_calloc((size_t)world + 1, sizeof *b);
    dt_optim_shard_bounds(s->model->n_params, world, b);
    dt_optim_set_shard(s->optim, b[rank], b[rank + 1] - b[rank],
                       world > 1 ? sum_over_comm : NULL, s->comm);
    free(b);
}

/* train.precision: bf16 means bf16 compute over fp32 master weights, which
 * needs bf16 kernels no backend of this build has. */
static dt_status check_precision(const dt_session *s, dt_cfg *train)
{
    if (s->ts.precision == DT_PRECISION_FP32) return DT_OK;
    dt_cfg *key = dt_cfg_get(train, "precision");
    if (s->be->device == DT_CPU)
        return dt_cfg_error(key, "fp32 on the cpu backend (bf16 compute with fp32 master "
                            "weights needs a backend that supports bf16)", "bf16");
    return dt_cfg_error(key, "fp32 (the cuda backend of this build has no bf16 kernels; "
                        "bf16 needs a backend that supports it)", "bf16");
}

/* The early-stopping monitor must exist: val_* needs a validation part,
 * *_accuracy a classification loss. */
static dt_status check_monitor(dt_session *s, dt_cfg *train)
{
    const dt_train_settings *ts = &s->ts;
    if (!ts->early_stopping) return DT_OK;
    dt_cfg *key = dt_cfg_get(dt_cfg_get(train, "early_stopping"), "monitor");
    const int val = ts->es_monitor == DT_ES_VAL_LOSS || ts->es_monitor == DT_ES_VAL_ACCURACY;
    const int acc = ts->es_monitor == DT_ES_VAL_ACCURACY || ts->es_monitor == DT_ES_TEST_ACCURACY;
    if (val && !(s->val_fraction > 0 || s->folds))
        return dt_cfg_error(key ? key : train, "test_loss or test_accuracy, or a validation "
                            "part (data.validation_fraction or data.folds)",
                            "%s without validation data", dt_es_monitor_name(ts->es_monitor));
    if (acc && s->loss.kind != DT_LOSS_CROSS_ENTROPY && !dt_loss_is_tokens(&s->loss))
        return dt_cfg_error(key ? key : train, "a loss monitor for a regression loss",
                            "%s with loss %s", dt_es_monitor_name(ts->es_monitor),
                            dt_loss_name(s->loss.kind));
    return DT_OK;
}

/* The GPU of this rank: runtime.gpu, or the rank's index on its node. */
static dt_status pick_gpu(dt_session *s, dt_cfg *rt, int64_t gpu)
{
    const int count = dt_cuda_device_count();
    const int local = dt_comm_local_rank(s->comm), on_node = dt_comm_local_size(s->comm);
    if (count == 0) return dt_backend_cuda_open(0, &s->be); /* says why there is none */
    if (gpu < 0 && on_node > count)
        return dt_error_set(DT_ERR_CONFIG, "runtime.device: cuda with %d ranks on this node "
                            "but %d GPU(s) visible: start at most %d rank(s) per node (one "
                            "per GPU), or give runtime.gpu", on_node, count, count);
    if (gpu >= count)
        return dt_cfg_error(dt_cfg_get(rt, "gpu"), "a GPU index below the GPUs visible",
                            "%lld, with %d GPU(s) visible", (long long)gpu, count);
    s->gpu = gpu >= 0 ? (int)gpu : local;
    return dt_backend_cuda_open(s->gpu, &s->be);
}

/* runtime.device (cpu | cuda) and runtime.gpu: the backend of this rank.
 * Local: a failure is agreed on with the rest of the session. */
static dt_status read_device(dt_session *s, dt_cfg *rt)
{
    static const char *const devices[] = {"cpu", "cuda", NULL};
    int device;
    int64_t gpu;
    DT_TRY(dt_cfg_enum(rt, "device", "cpu", devices, &device));
    DT_TRY(dt_cfg_int(rt, "gpu", -1, -1, 1 << 20, &gpu));
    s->be = dt_backend_cpu();
    s->gpu = -1;
    if (device == 0) return DT_OK;
    /* A build without CUDA says so first; one with CUDA but not NCCL can
     * still train on one rank. */
    DT_TRY(pick_gpu(s, rt, gpu));
    if (!dt_nccl_built() && dt_comm_size(s->comm) > 1) {
        dt_nccl *n;
        return dt_nccl_create(s->comm, 0.0, &n); /* the error of a build without NCCL */
    }
    return DT_OK;
}

/* With GPUs, the NCCL communicator for the gradients. Collective: called
 * once every rank has built its session. */
static dt_status attach_nccl(dt_session *s)
{
    if (s->gpu < 0 || !dt_nccl_built()) return DT_OK;
    dt_nccl *n;
    DT_TRY(dt_nccl_create(s->comm, s->ts.comm_timeout_s, &n));
    dt_comm_set_nccl(s->comm, n);
    DT_INFO("%d rank(s) on GPUs, gradients summed through NCCL", dt_comm_size(s->comm));
    return DT_OK;
}

/* Shapes only (info, bench): the labels the model's output implies, classes
 * by default, or a token class per step for loss.kind token_cross_entropy. */
static dt_status labels_from_model(dt_session *s, dt_cfg *loss)
{
    const dt_shape *out = dt_model_out_shape(s->model);
    const char *kind;
    DT_TRY(dt_cfg_str(loss, "kind", "", &kind));
    s->info.num_classes = (int)dt_shape_numel(out);
    if (strcmp(kind, "token_cross_entropy") != 0 || out->ndim != 2) return DT_OK;
    s->info.label_kind = DT_LABEL_TOKENS;
    s->info.y_dim = (int)out->dim[0];
    s->info.num_classes = (int)out->dim[1];
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
    DT_TRY(read_device(s, dt_cfg_get(root, "runtime")));
    DT_TRY(check_precision(s, dt_cfg_get(root, "train")));

    DT_TRY(dt_model_build(model_cfg, &s->info.x_shape, s->be, &s->model));
    if (!s->train && !s->test) DT_TRY(labels_from_model(s, dt_cfg_get(root, "loss")));
    if (s->info.label_kind == DT_LABEL_TOKENS)
        DT_TRY(dt_loss_setup_tokens(dt_cfg_get(root, "loss"), dt_model_out_shape(s->model),
                                    s->info.num_classes, s->info.y_dim, &s->loss));
    else if (s->info.label_kind == DT_LABEL_PIXEL_CLASS)
        DT_TRY(dt_loss_setup_pixels(dt_cfg_get(root, "loss"), dt_model_out_shape(s->model),
                                    s->info.num_classes, s->info.y_dim, &s->loss));
    else
        DT_TRY(dt_loss_setup(dt_cfg_get(root, "loss"), dt_model_out_shape(s->model),
                             s->info.label_kind == DT_LABEL_CLASS, s->info.num_classes,
                             s->info.y_dim, &s->loss));

    const int64_t steps_per_epoch = (s->info.count + s->ts.batch_size - 1) / s->ts.batch_size;
    int64_t total = s->ts.epochs * steps_per_epoch;
    if (s->ts.max_steps && (s->ts.max_steps < total || !total)) total = s->ts.max_steps;
    DT_TRY(dt_optim_create(dt_cfg_get(root, "optim"), s->be, s->model->n_params,
                           total, &s->optim));
    set_optim_groups(s);
    shard_optim(s);
    dt_optim_set_batch(s->optim, s->ts.batch_size);
    DT_TRY(dt_regularize_setup(root, &s->info.x_shape, &s->reg));
    DT_TRY(check_monitor(s, dt_cfg_get(root, "train")));
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
    if (st == DT_OK) st = attach_nccl(s);
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

dt_status dt_session_write_split(const dt_session *s, const char *dir)
{
    if (!s->val) return DT_OK;
    char path[1400];
    snprintf(path, sizeof path, "%s/validation.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot write %s", path);
    fprintf(f, "{\"format\":\"dtrain-validation-split\",\"version\":1,\"seed\":%llu,"
            "\"method\":\"%s\",\"fraction\":%.6g,\"folds\":%lld,\"fold\":%lld,"
            "\"train_count\":%lld,\"validation_count\":%lld,\"validation_rows\":[",
            (unsigned long long)s->seed, s->folds ? "k-fold" : "fraction", s->val_fraction,
            (long long)s->folds, (long long)s->fold, (long long)s->n_train_rows,
            (long long)s->n_val);
    for (int64_t i = 0; i < s->n_val; i++)
        fprintf(f, "%s%lld", i ? "," : "", (long long)s->val_rows[i]);
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? DT_OK : dt_error_set(DT_ERR_IO, "cannot write %s", path);
}

void dt_session_destroy(dt_session *s)
{
    if (!s) return;
    dt_regularize_free(&s->reg, dt_backend_cpu());
    dt_dataset_close(s->val);
    free(s->val_rows);
    dt_optim_destroy(s->optim);
    dt_model_destroy(s->model);
    dt_dataset_close(s->train);
    dt_dataset_close(s->test);
    dt_cfg_free(s->cfg);
    free(s->train_subset);
    free(s->data_path);
    free(s->config_path);
    free(s);
}
