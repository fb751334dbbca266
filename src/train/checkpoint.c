/* Writing and reading HDF5 checkpoints, and taking the parameters of a
 * checkpoint by name to start another model (fine-tuning). */
#include "train/checkpoint.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/version.h"
#include "data/h5.h"

static dt_status h5fail(const char *path, const char *what)
{
    return dt_error_set(DT_ERR_IO, "checkpoint %s: %s failed", path, what);
}

static int put_attr_i64(hid_t obj, const char *name, int64_t v)
{
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, &v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

static int put_attr_str(hid_t obj, const char *name, const char *v)
{
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t e = a < 0 ? -1 : H5Awrite(a, t, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? -1 : 0;
}

static int get_attr_i64(hid_t obj, const char *name, int64_t *v)
{
    const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    const herr_t e = H5Aread(a, H5T_NATIVE_INT64, v);
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

/* A string attribute into buf (truncated to cap). */
static int get_attr_str(hid_t obj, const char *name, char *buf, size_t cap)
{
    const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    const hid_t ft = H5Aget_type(a);
    const size_t len = H5Tget_size(ft);
    char *tmp = dt_calloc(len + 1, 1);
    const hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, len);
    const herr_t e = H5Aread(a, mt, tmp);
    snprintf(buf, cap, "%s", tmp);
    free(tmp);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

static int write_floats(hid_t loc, const char *name, const float *data, int ndim,
                        const int64_t *shape)
{
    hsize_t dims[DT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i];
    const hid_t sp = H5Screate_simple(ndim, dims, NULL);
    const hid_t d = H5Dcreate2(loc, name, H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT);
    const herr_t e =
        d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

static int write_meta(hid_t f, const dt_ckpt_meta *meta, const char *config_text)
{
    int e = put_attr_str(f, "format", DT_CHECKPOINT_FORMAT);
    e |= put_attr_i64(f, "version", DT_CHECKPOINT_VERSION);
    e |= put_attr_str(f, "dtrain_version", DT_VERSION " (" DT_GIT_COMMIT ")");
    e |= put_attr_i64(f, "step", meta->step);
    e |= put_attr_i64(f, "epoch", meta->epoch);
    e |= put_attr_i64(f, "step_in_epoch", meta->step_in_epoch);
    e |= put_attr_i64(f, "seed", (int64_t)meta->seed);
    e |= put_attr_i64(f, "world_size", meta->world_size);
    e |= put_attr_str(f, "config", config_text ? config_text : "");
    e |= put_attr_str(f, "tokenizer_crc32", meta->tokenizer_crc);
    e |= put_attr_str(f, "tokenizer_file", meta->tokenizer_file);
    return e;
}

static int write_params(hid_t f, const dt_model *m, float *host)
{
    const hid_t g = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int e = g < 0;
    for (int i = 0; !e && i < m->n_layers; i++) {
        const dt_layer *l = m->layers[i];
        if (!l->n_params) continue;
        const hid_t lg = H5Gcreate2(g, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        e |= lg < 0;
        for (int k = 0; !e && k < l->n_params; k++) {
            const dt_param *p = &l->params[k];
            e |= write_floats(lg, p->name, host + p->offset, p->shape.ndim, p->shape.dim);
        }
        if (lg >= 0) H5Gclose(lg);
    }
    if (g >= 0) H5Gclose(g);
    return e;
}

/* Non-trainable buffers as /buffers/LAYER/NAME, when the model has any. */
static int write_buffers(hid_t f, const dt_model *m)
{
    if (!m->n_buffers) return 0;
    float *host = dt_calloc((size_t)m->n_buffers, sizeof(float));
    m->be->to_host(host, m->buffers, (size_t)m->n_buffers * sizeof(float));
    const hid_t g = H5Gcreate2(f, "buffers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int e = g < 0;
    for (int i = 0; !e && i < m->n_layers; i++) {
        const dt_layer *l = m->layers[i];
        if (!l->n_bufs) continue;
        const hid_t lg = H5Gcreate2(g, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        e |= lg < 0;
        for (int k = 0; !e && k < l->n_bufs; k++) {
            const dt_param *p = &l->bufs[k];
            e |= write_floats(lg, p->name, host + p->offset, p->shape.ndim, p->shape.dim);
        }
        if (lg >= 0) H5Gclose(lg);
    }
    if (g >= 0) H5Gclose(g);
    free(host);
    return e;
}

/* State buffer i over all parameters: from `state` (host) when given, else
 * copied from the optimizer, which then holds all of it. */
static int write_optim(hid_t f, const dt_optim *o, const float *const *state, float *host)
{
    const hid_t g = H5Gcreate2(f, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int e = g < 0;
    if (!e) e |= put_attr_str(g, "kind", dt_optim_name(o->kind));
    if (!e) e |= put_attr_i64(g, "step", o->step);
    for (int i = 0; !e && i < o->n_state; i++) {
        if (!state) {
            DT_ASSERT(o->lo == 0 && o->len == o->n);
            o->be->to_host(host, o->state[i], (size_t)o->n * sizeof(float));
        }
        e |= write_floats(g, o->state_names[i], state ? state[i] : host, 1, &o->n);
    }
    if (g >= 0) H5Gclose(g);
    return e;
}

dt_status dt_checkpoint_save(const char *path, const dt_model *m, const dt_optim *o,
                             const dt_ckpt_meta *meta, const char *config_text)
{
    return dt_checkpoint_save_state(path, m, o, NULL, meta, config_text);
}

dt_status dt_checkpoint_save_state(const char *path, const dt_model *m, const dt_optim *o,
                                   const float *const *state, const dt_ckpt_meta *meta,
                                   const char *config_text)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float *host = dt_calloc((size_t)(m->n_params ? m->n_params : 1), sizeof(float));
    m->be->to_host(host, m->params, (size_t)m->n_params * sizeof(float));

    dt_h5_lock();
    dt_h5_quiet();
    const hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int e = f < 0;
    if (!e) e |= write_meta(f, meta, config_text);
    if (!e) e |= write_params(f, m, host);
    if (!e) e |= write_buffers(f, m);
    if (!e && o) e |= write_optim(f, o, state, host);
    if (f >= 0 && H5Fclose(f) < 0) e = 1;
    dt_h5_unlock();
    free(host);

    /* Copies from a GPU that failed are not parameters: write nothing. */
    const dt_status dev = m->be->sync();
    if (e || dev != DT_OK) {
        remove(tmp);
        if (dev != DT_OK) return dt_error_prefix(dev, "checkpoint %s: ", path);
        return h5fail(path, f < 0 ? "creating the file" : "writing");
    }
    if (rename(tmp, path) != 0)
        return dt_error_set(DT_ERR_IO, "checkpoint %s: cannot rename %s into place", path, tmp);
    return DT_OK;
}

/* Read a float dataset of exactly `n` elements and the given shape. */
static dt_status read_floats(hid_t loc, const char *path, const char *name, float *out,
                             int ndim, const int64_t *shape)
{
    const hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return dt_error_set(DT_ERR_DATA, "checkpoint %s: missing dataset '%s'", path, name);
    const hid_t sp = H5Dget_space(d);
    hsize_t dims[DT_MAX_DIMS + 1] = {0};
    const int nd = H5Sget_simple_extent_ndims(sp);
    int ok = nd == ndim;
    if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; ok && i < ndim; i++) ok = dims[i] == (hsize_t)shape[i];
    H5Sclose(sp);
    herr_t e = -1;
    if (ok) e = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Dclose(d);
    if (!ok) {
        dt_shape want = dt_shape_make(ndim, shape);
        char w[64];
        return dt_error_set(DT_ERR_SHAPE, "checkpoint %s: '%s' has another shape than the "
                            "model's %s", path, name, dt_shape_str(&want, w, sizeof w));
    }
    if (e < 0) return dt_error_set(DT_ERR_DATA, "checkpoint %s: cannot read '%s'", path, name);
    return DT_OK;
}

static dt_status read_header(hid_t f, const char *path, dt_ckpt_meta *meta)
{
    char format[64] = "";
    int64_t version = 0, seed = 0;
    if (get_attr_str(f, "format", format, sizeof format) < 0 ||
        strcmp(format, DT_CHECKPOINT_FORMAT) != 0)
        return dt_error_set(DT_ERR_DATA, "%s is not a dtrain checkpoint (format attribute "
                            "'%s', expected '%s')", path, format, DT_CHECKPOINT_FORMAT);
    if (get_attr_i64(f, "version", &version) < 0 || version != DT_CHECKPOINT_VERSION)
        return dt_error_set(DT_ERR_DATA, "checkpoint %s: version %lld, this dtrain reads %d",
                            path, (long long)version, DT_CHECKPOINT_VERSION);
    if (get_attr_i64(f, "step", &meta->step) < 0 || get_attr_i64(f, "epoch", &meta->epoch) < 0 ||
        get_attr_i64(f, "step_in_epoch", &meta->step_in_epoch) < 0 ||
        get_attr_i64(f, "seed", &seed) < 0 ||
        get_attr_i64(f, "world_size", &meta->world_size) < 0)
        return dt_error_set(DT_ERR_DATA, "checkpoint %s: missing step/epoch attributes", path);
    meta->seed = (uint64_t)seed;
    /* Absent in checkpoints written before tokenizers were recorded. */
    meta->tokenizer_crc[0] = meta->tokenizer_file[0] = '\0';
    if (H5Aexists(f, "tokenizer_crc32") > 0)
        get_attr_str(f, "tokenizer_crc32", meta->tokenizer_crc, sizeof meta->tokenizer_crc);
    if (H5Aexists(f, "tokenizer_file") > 0)
        get_attr_str(f, "tokenizer_file", meta->tokenizer_file, sizeof meta->tokenizer_file);
    return DT_OK;
}

static dt_status read_buffers(hid_t f, const char *path, dt_model *m)
{
    char name[2 * DT_NAME_CAP + 32];
    if (!m->n_buffers) return DT_OK;
    float *host = dt_calloc((size_t)m->n_buffers, sizeof(float));
    dt_status s = DT_OK;
    for (int i = 0; s == DT_OK && i < m->n_layers; i++)
        for (int k = 0; s == DT_OK && k < m->layers[i]->n_bufs; k++) {
            const dt_param *p = &m->layers[i]->bufs[k];
            snprintf(name, sizeof name, "buffers/%s/%s", m->layers[i]->name, p->name);
            s = read_floats(f, path, name, host + p->offset, p->shape.ndim, p->shape.dim);
        }
    if (s == DT_OK) m->be->to_device(m->buffers, host, (size_t)m->n_buffers * sizeof(float));
    free(host);
    return s;
}

static dt_status read_body(hid_t f, const char *path, dt_model *m, dt_optim *o,
                           float *const *state, float *host)
{
    char name[2 * DT_NAME_CAP + 32];
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_params; k++) {
            const dt_param *p = &m->layers[i]->params[k];
            snprintf(name, sizeof name, "params/%s/%s", m->layers[i]->name, p->name);
            DT_TRY(read_floats(f, path, name, host + p->offset, p->shape.ndim, p->shape.dim));
        }
    m->be->to_device(m->params, host, (size_t)m->n_params * sizeof(float));
    DT_TRY(read_buffers(f, path, m));
    if (!o) return DT_OK;

    char kind[32] = "";
    const hid_t g = H5Gopen2(f, "optim", H5P_DEFAULT);
    if (g < 0) return dt_error_set(DT_ERR_DATA, "checkpoint %s: no optimizer state", path);
    int bad = get_attr_str(g, "kind", kind, sizeof kind) < 0 ||
              strcmp(kind, dt_optim_name(o->kind)) != 0 || get_attr_i64(g, "step", &o->step) < 0;
    dt_status s = DT_OK;
    if (bad)
        s = dt_error_set(DT_ERR_CONFIG, "checkpoint %s: optimizer state is for '%s', the "
                         "config asks for '%s'", path, kind, dt_optim_name(o->kind));
    for (int i = 0; s == DT_OK && i < o->n_state; i++) {
        s = read_floats(g, path, o->state_names[i], state ? state[i] : host, 1, &o->n);
        if (s == DT_OK && !state) {
            DT_ASSERT(o->lo == 0 && o->len == o->n);
            o->be->to_device(o->state[i], host, (size_t)o->n * sizeof(float));
        }
    }
    H5Gclose(g);
    return s;
}

/* Open a checkpoint for reading and take the HDF5 lock (released on
 * failure): a missing file and one that is not HDF5 (truncated, corrupt)
 * get different messages. `prefix` is a format with one %s for the
 * message, naming what was being done. */
static dt_status open_for_reading(const char *path, const char *prefix, hid_t *out)
{
    char msg[1400];
    dt_h5_lock();
    dt_h5_quiet();
    *out = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*out >= 0) return DT_OK;
    dt_h5_unlock();
    FILE *probe = fopen(path, "rb");
    const int exists = probe != NULL;
    if (probe) fclose(probe);
    if (!exists) snprintf(msg, sizeof msg, "cannot open checkpoint %s", path);
    else snprintf(msg, sizeof msg, "checkpoint %s is not a readable HDF5 file (truncated or "
                  "corrupt?)", path);
    return dt_error_set(exists ? DT_ERR_DATA : DT_ERR_IO, prefix, msg);
}

dt_status dt_checkpoint_load(const char *path, dt_model *m, dt_optim *o, dt_ckpt_meta *meta)
{
    return dt_checkpoint_load_state(path, m, o, NULL, meta);
}

dt_status dt_checkpoint_load_state(const char *path, dt_model *m, dt_optim *o,
                                   float *const *state, dt_ckpt_meta *meta)
{
    hid_t f;
    DT_TRY(open_for_reading(path, "%s", &f));
    float *host = dt_calloc((size_t)(m->n_params ? m->n_params : 1), sizeof(float));
    dt_status s = read_header(f, path, meta);
    if (s == DT_OK) s = read_body(f, path, m, o, state, host);
    H5Fclose(f);
    dt_h5_unlock();
    free(host);
    return s == DT_OK ? m->be->sync() : s;
}

/* ---- tokenizers ------------------------------------------------------ */

void dt_ckpt_meta_set_tokenizer(dt_ckpt_meta *meta, const dt_dataset_info *info,
                                const char *dir)
{
    meta->tokenizer_crc[0] = meta->tokenizer_file[0] = '\0';
    if (!info->tokenizer[0]) return;
    snprintf(meta->tokenizer_crc, sizeof meta->tokenizer_crc, "%08x", info->tokenizer_crc);
    snprintf(meta->tokenizer_file, sizeof meta->tokenizer_file, "%s/%s", dir, info->tokenizer);
}

dt_status dt_checkpoint_check_tokenizer(const char *path, const dt_ckpt_meta *meta,
                                        const dt_dataset_info *info, const char *dir,
                                        const char *what)
{
    dt_ckpt_meta data;
    dt_ckpt_meta_set_tokenizer(&data, info, dir);
    if (strcmp(meta->tokenizer_crc, data.tokenizer_crc) == 0) return DT_OK;
    if (!data.tokenizer_crc[0])
        return dt_error_set(DT_ERR_DATA, "%s checkpoint %s: it was trained on token ids of "
                            "tokenizer %s (CRC-32 %s), but data set %s has no tokenizer", what,
                            path, meta->tokenizer_file, meta->tokenizer_crc, dir);
    if (!meta->tokenizer_crc[0])
        return dt_error_set(DT_ERR_DATA, "%s checkpoint %s: it records no tokenizer (trained "
                            "on data without one), but data set %s holds token ids of %s "
                            "(CRC-32 %s)", what, path, dir, data.tokenizer_file,
                            data.tokenizer_crc);
    return dt_error_set(DT_ERR_DATA, "%s checkpoint %s: its tokenizer %s has CRC-32 %s, but "
                        "data set %s was made with tokenizer %s, CRC-32 %s: the same ids "
                        "would mean other pieces (convert the data with the checkpoint's "
                        "tokenizer)", what, path, meta->tokenizer_file, meta->tokenizer_crc,
                        dir, data.tokenizer_file, data.tokenizer_crc);
}

/* ---- parameters by name ---------------------------------------------- */

/* Whether group/layer/name exists (each level checked: H5Lexists needs the
 * ones above). */
static int tensor_exists(hid_t f, const char *group, const char *layer, const char *name)
{
    char buf[3 * DT_NAME_CAP + 64];
    snprintf(buf, sizeof buf, "%s", group);
    if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) return 0;
    snprintf(buf, sizeof buf, "%s/%s", group, layer);
    if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) return 0;
    snprintf(buf, sizeof buf, "%s/%s/%s", group, layer, name);
    return H5Lexists(f, buf, H5P_DEFAULT) > 0;
}

/* Append "LAYER/NAME" to a comma-separated list; when the list is full it
 * ends in ", ..." (room for that is always kept). */
static void add_name(char *list, size_t cap, const char *layer, const char *name)
{
    const size_t len = strlen(list);
    char item[2 * DT_NAME_CAP + 4];
    snprintf(item, sizeof item, "%s%s/%s", len ? ", " : "", layer, name);
    if (len + strlen(item) + 6 < cap) strcat(list, item);
    else if (!strstr(list, "...")) strcat(list, len ? ", ..." : "...");
}

/* Read group/LAYER/NAME into host + p->offset if it is there; a tensor of
 * another shape is an error. */
static dt_status init_tensor(hid_t f, const char *path, const char *group, const char *layer,
                             const dt_param *p, float *host, dt_init_report *rep)
{
    if (!tensor_exists(f, group, layer, p->name)) {
        rep->fresh++;
        add_name(rep->fresh_names, sizeof rep->fresh_names, layer, p->name);
        return DT_OK;
    }
    char name[3 * DT_NAME_CAP + 64];
    snprintf(name, sizeof name, "%s/%s/%s", group, layer, p->name);
    const hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    const hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t dims[DT_MAX_DIMS] = {0};
    const int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    int same = nd == p->shape.ndim;
    if (nd > 0 && nd <= DT_MAX_DIMS) H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; same && i < nd; i++) same = dims[i] == (hsize_t)p->shape.dim[i];
    const herr_t e = same ? H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                    host + p->offset)
                          : -1;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (!same && nd >= 0 && nd <= DT_MAX_DIMS) {
        dt_shape theirs = {.ndim = nd};
        for (int i = 0; i < nd; i++) theirs.dim[i] = (int64_t)dims[i];
        char a[64], b[64];
        return dt_error_set(DT_ERR_SHAPE, "init_from %s: parameter %s/%s has shape %s there, "
                            "the model's is %s (a parameter of the same name must have the "
                            "same shape; rename the layer to train it afresh)", path, layer,
                            p->name, dt_shape_str(&theirs, a, sizeof a),
                            dt_shape_str(&p->shape, b, sizeof b));
    }
    if (e < 0) return dt_error_set(DT_ERR_DATA, "init_from %s: cannot read '%s'", path, name);
    rep->loaded++;
    rep->values += dt_shape_numel(&p->shape);
    return DT_OK;
}

/* Whether the model has a tensor LAYER/NAME among params (or buffers). */
static int model_has(const dt_model *m, const char *layer, const char *name, int buffers)
{
    for (int i = 0; i < m->n_layers; i++) {
        const dt_layer *l = m->layers[i];
        if (strcmp(l->name, layer) != 0) continue;
        const int n = buffers ? l->n_bufs : l->n_params;
        for (int k = 0; k < n; k++)
            if (strcmp((buffers ? l->bufs : l->params)[k].name, name) == 0) return 1;
    }
    return 0;
}

/* Count (and name) the tensors of `group` that the model does not have. */
static void count_unused(hid_t f, const char *group, const dt_model *m, dt_init_report *rep)
{
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) return;
    const hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    H5G_info_t gi;
    if (g < 0 || H5Gget_info(g, &gi) < 0) {
        if (g >= 0) H5Gclose(g);
        return;
    }
    for (hsize_t i = 0; i < gi.nlinks; i++) {
        char layer[DT_NAME_CAP * 2] = "", name[DT_NAME_CAP * 2] = "";
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, layer, sizeof layer,
                           H5P_DEFAULT);
        const hid_t lg = H5Gopen2(g, layer, H5P_DEFAULT);
        H5G_info_t li;
        if (lg < 0 || H5Gget_info(lg, &li) < 0) li.nlinks = 0;
        for (hsize_t k = 0; k < li.nlinks; k++) {
            H5Lget_name_by_idx(lg, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                               H5P_DEFAULT);
            if (model_has(m, layer, name, strcmp(group, "buffers") == 0)) continue;
            rep->unused++;
            add_name(rep->unused_names, sizeof rep->unused_names, layer, name);
        }
        if (lg >= 0) H5Gclose(lg);
    }
    H5Gclose(g);
}

/* The model's parameters and buffers from the open checkpoint, by name. */
static dt_status init_body(hid_t f, const char *path, dt_model *m, dt_init_report *rep)
{
    float *params = dt_calloc((size_t)(m->n_params ? m->n_params : 1), sizeof(float));
    float *bufs = dt_calloc((size_t)(m->n_buffers ? m->n_buffers : 1), sizeof(float));
    m->be->to_host(params, m->params, (size_t)m->n_params * sizeof(float));
    if (m->n_buffers) m->be->to_host(bufs, m->buffers, (size_t)m->n_buffers * sizeof(float));
    dt_status s = DT_OK;
    for (int i = 0; s == DT_OK && i < m->n_layers; i++) {
        const dt_layer *l = m->layers[i];
        for (int k = 0; s == DT_OK && k < l->n_params; k++)
            s = init_tensor(f, path, "params", l->name, &l->params[k], params, rep);
        for (int k = 0; s == DT_OK && k < l->n_bufs; k++)
            s = init_tensor(f, path, "buffers", l->name, &l->bufs[k], bufs, rep);
    }
    if (s == DT_OK) {
        count_unused(f, "params", m, rep);
        count_unused(f, "buffers", m, rep);
        m->be->to_device(m->params, params, (size_t)m->n_params * sizeof(float));
        if (m->n_buffers)
            m->be->to_device(m->buffers, bufs, (size_t)m->n_buffers * sizeof(float));
    }
    free(params);
    free(bufs);
    return s;
}

dt_status dt_checkpoint_init_from(const char *path, dt_model *m, dt_ckpt_meta *meta,
                                  dt_init_report *rep)
{
    memset(rep, 0, sizeof *rep);
    hid_t f;
    DT_TRY(open_for_reading(path, "init_from: %s", &f));
    dt_status s = read_header(f, path, meta);
    if (s == DT_OK) s = init_body(f, path, m, rep);
    H5Fclose(f);
    dt_h5_unlock();
    return s == DT_OK ? m->be->sync() : s;
}
