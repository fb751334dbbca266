/* Opening a split of a shard set and reading samples from it.
 *
 * Open is paranoid on purpose: before any sample is read it checks the
 * manifest's format and version, each shard's byte size and CRC-32, and the
 * type and shape of /x and /y in every shard, so that a corrupt or
 * half-copied data set fails at start-up with a message naming the file,
 * not hours into training with a NaN. The shard files then stay open for
 * the life of the dataset.
 *
 * A read gathers arbitrary global indices: each maps to (shard, row) by a
 * binary search over the shards' first indices; per shard the rows are
 * sorted and cut into segments of nearby rows (gaps under 8 KiB are read
 * rather than skipped), each segment is read at once and its rows are
 * converted into the caller's order.
 *
 * Shards as the converters write them store /x and /y contiguously,
 * uncompressed, in native byte order. For such a dataset open records its
 * byte offset (H5Dget_offset), and segments are read with pread() on a
 * descriptor of our own: HDF5's selection machinery costs several
 * microseconds per row (and OR-ed hyperslab unions grow quadratically in
 * 1.10), which for a batch of 256 random rows is several times the cost of
 * the reads themselves, and pread needs no HDF5 lock, so a checkpoint
 * write never stalls the loader. Any other layout (chunked, compressed,
 * another byte order) is read through H5Dread, one hyperslab per segment.
 *
 * Sets of token ids (docs/text.md) store x as uint16 or int32 ids, carry
 * their tokenizer model (checked like a shard), and may store no /y at all
 * when a masked LM makes the targets at every read (dt_dataset_set_mlm). */
#include "data/dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/convert.h"
#include "data/h5.h"
#include "data/mlm.h"

#define MANIFEST_NAME "manifest.json"
/* Rows closer than this are read in one go, the gap included. */
#define GAP_BYTES 8192

/* What every shard's /x (or /y) holds per sample. */
typedef struct layout {
    const char *name; /* "/x" or "/y" */
    dt_dtype dtype;   /* as stored */
    hid_t mtype;      /* the native HDF5 type of dtype */
    dt_shape dims;    /* per sample: x_shape, (y_dim) or () */
    size_t row_bytes;
} layout;

/* One dataset (/x or /y) of an open shard. */
typedef struct column {
    hid_t d;
    int64_t offset; /* byte offset of its rows for pread, or -1: use H5Dread */
} column;

/* One shard file of the split, open for reading. */
typedef struct shard {
    char *path;    /* dir/file, for messages */
    int64_t count; /* rows */
    int64_t first; /* global index of row 0 */
    hid_t file;
    int fd; /* for pread */
    column x, y;
} shard;

struct dt_dataset {
    dt_dataset_info info;
    char split[32];
    shard *shards;
    int64_t x_numel; /* floats per sample in x */
    layout lx, ly;
    int64_t *map; /* dt_dataset_restrict: sample i is row map[i] of the split */
    int64_t rows; /* rows in the split's shards */
    dt_mlm mlm;   /* dt_dataset_set_mlm */
    int masking;
};

/* A requested sample: where it lives and where it goes. */
typedef struct want {
    int shard;
    int64_t row;
    int dest; /* position in the caller's index array */
} want;

/* ---- small helpers --------------------------------------------------- */

/* Keep the innermost message of HDF5's error stack. */
static herr_t h5_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) snprintf(data, 256, "%s", e->desc);
    return 0;
}

/* Record a failed HDF5 call on shard `path` with HDF5's own reason. */
static dt_status h5_fail(dt_status s, const char *what, const char *path)
{
    char msg[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_cb, msg);
    H5Eclear2(H5E_DEFAULT);
    return dt_error_set(s, "shard %s: %s failed%s%s", path, what, msg[0] ? ": " : "", msg);
}

/* Read a whole text file into a NUL-terminated buffer the caller frees. */
static dt_status read_text(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", path, strerror(errno));

    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (cap - len < 65536) {
            cap = cap ? 2 * cap : 65536;
            char *const nb = realloc(buf, cap + 1);
            DT_ASSERT(nb != NULL);
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);

    const int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return dt_error_set(DT_ERR_IO, "cannot read %s", path);
    }
    buf[len] = '\0';
    *out = buf;
    return DT_OK;
}

/* ---- manifest -------------------------------------------------------- */

/* Errors about the manifest name its path and the key, dotted from the
 * top ("splits.train.shards[1].crc32"). */
static dt_status bad_key(const char *mpath, const char *key, const char *expected)
{
    return dt_error_set(DT_ERR_DATA, "manifest %s: key \"%s\" %s", mpath, key, expected);
}

static dt_status get_object(const char *mpath, const cJSON *obj, const char *key,
                            const char *dotted, const cJSON **out)
{
    const cJSON *const it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsObject(it)) return bad_key(mpath, dotted, "is missing or not an object");
    *out = it;
    return DT_OK;
}

static dt_status get_string(const char *mpath, const cJSON *obj, const char *key,
                            const char *dotted, const char **out)
{
    const cJSON *const it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(it)) return bad_key(mpath, dotted, "is missing or not a string");
    *out = it->valuestring;
    return DT_OK;
}

/* A whole number in [lo, hi]. */
static dt_status get_int(const char *mpath, const cJSON *obj, const char *key,
                         const char *dotted, int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *const it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(it)) return bad_key(mpath, dotted, "is missing or not a number");
    const double v = it->valuedouble;
    if (v != (double)(int64_t)v || v < (double)lo || v > (double)hi) {
        char want[96];
        snprintf(want, sizeof want, "is %.17g, expected a whole number in [%lld, %lld]", v,
                 (long long)lo, (long long)hi);
        return bad_key(mpath, dotted, want);
    }
    *out = (int64_t)v;
    return DT_OK;
}

/* Parse the manifest text; a syntax error names the line. */
static dt_status parse_manifest(const char *mpath, const char *text, cJSON **out)
{
    const char *end = NULL;
    cJSON *const root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        int line = 1;
        for (const char *p = text; end && p < end; p++) line += *p == '\n';
        return dt_error_set(DT_ERR_DATA, "manifest %s: invalid JSON near line %d", mpath,
                            line);
    }
    *out = root;
    return DT_OK;
}

static dt_status check_format(const char *mpath, const cJSON *root)
{
    const char *format = "";
    int64_t version = 0;
    DT_TRY(get_string(mpath, root, "format", "format", &format));
    if (strcmp(format, DT_SHARDSET_FORMAT) != 0)
        return dt_error_set(DT_ERR_DATA, "manifest %s: format is \"%s\", expected \"%s\"",
                            mpath, format, DT_SHARDSET_FORMAT);
    DT_TRY(get_int(mpath, root, "version", "version", 0, INT32_MAX, &version));
    if (version != DT_SHARDSET_VERSION)
        return dt_error_set(DT_ERR_DATA,
                            "manifest %s: version %lld is not supported (this dtrain reads "
                            "version %d)",
                            mpath, (long long)version, DT_SHARDSET_VERSION);
    return DT_OK;
}

/* "x": {"shape": [...], "dtype": "uint8" | "float32", "scale": s} */
static dt_status parse_x(const char *mpath, const cJSON *root, dt_dataset_info *info)
{
    const cJSON *x = NULL;
    DT_TRY(get_object(mpath, root, "x", "x", &x));

    const cJSON *const shape = cJSON_GetObjectItemCaseSensitive(x, "shape");
    const int ndim = cJSON_GetArraySize(shape);
    if (!cJSON_IsArray(shape) || ndim < 1 || ndim > DT_MAX_DIMS)
        return bad_key(mpath, "x.shape", "is missing or not an array of 1 to 5 sizes");
    info->x_shape.ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        const cJSON *const d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > 1e9 ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return bad_key(mpath, "x.shape", "holds a size that is not a positive integer");
        info->x_shape.dim[i] = (int64_t)d->valuedouble;
    }

    const char *dtype = "";
    DT_TRY(get_string(mpath, x, "dtype", "x.dtype", &dtype));
    if (strcmp(dtype, "uint8") == 0) info->x_dtype = DT_U8;
    else if (strcmp(dtype, "float32") == 0) info->x_dtype = DT_F32;
    else if (strcmp(dtype, "uint16") == 0) info->x_dtype = DT_U16;
    else if (strcmp(dtype, "int32") == 0) info->x_dtype = DT_I32;
    else return bad_key(mpath, "x.dtype", "is none of \"uint8\", \"uint16\", \"int32\" and "
                        "\"float32\"");

    const cJSON *const scale = cJSON_GetObjectItemCaseSensitive(x, "scale");
    if (!cJSON_IsNumber(scale)) return bad_key(mpath, "x.scale", "is missing or not a number");
    info->x_scale = (float)scale->valuedouble;
    return DT_OK;
}

/* label.stored (tokens: false when /y is made at load time) and
 * label.objective (what the labels are for: "mlm", "lm", "class"). */
static dt_status parse_label_extras(const char *mpath, const cJSON *label,
                                    dt_dataset_info *info)
{
    const cJSON *const stored = cJSON_GetObjectItemCaseSensitive(label, "stored");
    if (stored && !cJSON_IsBool(stored))
        return bad_key(mpath, "label.stored", "is not true or false");
    info->labels_stored = !stored || cJSON_IsTrue(stored);
    if (!info->labels_stored && info->label_kind != DT_LABEL_TOKENS)
        return bad_key(mpath, "label.stored", "is false, which only token labels may be");

    const cJSON *const obj = cJSON_GetObjectItemCaseSensitive(label, "objective");
    if (obj && !cJSON_IsString(obj)) return bad_key(mpath, "label.objective", "is not a string");
    snprintf(info->objective, sizeof info->objective, "%s", obj ? obj->valuestring : "");
    if (!info->labels_stored && strcmp(info->objective, "mlm") != 0)
        return bad_key(mpath, "label.stored", "is false but the objective is not \"mlm\"");
    return DT_OK;
}

/* "label": {"kind": "class" | "regression" | "pixel_class" | "tokens",
 * "num_classes": C, "dim": D, "stored": B, "objective": O} */
static dt_status parse_label(const char *mpath, const cJSON *root, dt_dataset_info *info)
{
    const cJSON *label = NULL;
    const char *kind = "";
    int64_t v = 0;
    DT_TRY(get_object(mpath, root, "label", "label", &label));
    DT_TRY(get_string(mpath, label, "kind", "label.kind", &kind));
    if (strcmp(kind, "class") == 0) {
        info->label_kind = DT_LABEL_CLASS;
        DT_TRY(get_int(mpath, label, "num_classes", "label.num_classes", 1, INT32_MAX, &v));
        info->num_classes = (int)v;
        info->y_dim = 1;
    } else if (strcmp(kind, "regression") == 0) {
        info->label_kind = DT_LABEL_REGRESSION;
        DT_TRY(get_int(mpath, label, "dim", "label.dim", 1, 1 << 20, &v));
        info->y_dim = (int)v;
        info->num_classes = 0;
    } else if (strcmp(kind, "pixel_class") == 0) {
        info->label_kind = DT_LABEL_PIXEL_CLASS;
        DT_TRY(get_int(mpath, label, "num_classes", "label.num_classes", 1, INT32_MAX, &v));
        info->num_classes = (int)v;
        DT_TRY(get_int(mpath, label, "dim", "label.dim", 1, 1 << 24, &v));
        info->y_dim = (int)v;
    } else if (strcmp(kind, "tokens") == 0) {
        info->label_kind = DT_LABEL_TOKENS;
        info->num_classes = 0;
        if (cJSON_GetObjectItemCaseSensitive(label, "num_classes")) {
            DT_TRY(get_int(mpath, label, "num_classes", "label.num_classes", 1, INT32_MAX, &v));
            info->num_classes = (int)v;
        }
        DT_TRY(get_int(mpath, label, "dim", "label.dim", 1, 1 << 24, &v));
        info->y_dim = (int)v;
        if (dt_shape_numel(&info->x_shape) != info->y_dim)
            return bad_key(mpath, "label.dim", "differs from the tokens per sample in x.shape");
    } else {
        return bad_key(mpath, "label.kind", "is none of \"class\", \"regression\", "
                       "\"pixel_class\" and \"tokens\"");
    }
    return parse_label_extras(mpath, label, info);
}

/* A shard's file name must stay inside the shard set directory. */
static int plain_file_name(const char *s)
{
    return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL;
}

/* The special ids a tokenizer must reserve: "tokenizer.special" maps each
 * piece to its id, and they are the fixed ids of data/mlm.h. */
static dt_status check_special_ids(const char *mpath, const cJSON *tok)
{
    static const char *const pieces[DT_TOKEN_SPECIALS] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                         "[MASK]"};
    const cJSON *const sp = cJSON_GetObjectItemCaseSensitive(tok, "special");
    if (!cJSON_IsObject(sp)) return bad_key(mpath, "tokenizer.special", "is missing");
    for (int id = 0; id < DT_TOKEN_SPECIALS; id++) {
        char key[48];
        int64_t got = -1;
        snprintf(key, sizeof key, "tokenizer.special.%s", pieces[id]);
        DT_TRY(get_int(mpath, sp, pieces[id], key, -1, INT32_MAX, &got));
        if (got != id) {
            char want[64];
            snprintf(want, sizeof want, "is %lld, expected the fixed id %d", (long long)got, id);
            return bad_key(mpath, key, want);
        }
    }
    return DT_OK;
}

/* "tokenizer": {"file", "bytes", "crc32", "vocab_size", "special"} of a set
 * of token ids: the model file must be there with its size and checksum. */
static dt_status parse_tokenizer(const char *mpath, const char *dir, const cJSON *root,
                                 dt_dataset_info *info)
{
    const cJSON *const tok = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    if (!tok) return DT_OK;
    if (!cJSON_IsObject(tok)) return bad_key(mpath, "tokenizer", "is not an object");

    const char *file = "", *crc_hex = "";
    int64_t bytes = 0;
    DT_TRY(get_string(mpath, tok, "file", "tokenizer.file", &file));
    if (!plain_file_name(file) || strlen(file) >= sizeof info->tokenizer)
        return bad_key(mpath, "tokenizer.file", "names a file outside the set");
    DT_TRY(get_int(mpath, tok, "bytes", "tokenizer.bytes", 1, INT64_C(1) << 40, &bytes));
    DT_TRY(get_string(mpath, tok, "crc32", "tokenizer.crc32", &crc_hex));
    DT_TRY(get_int(mpath, tok, "vocab_size", "tokenizer.vocab_size", DT_TOKEN_SPECIALS + 1,
                   INT32_MAX, &info->vocab_size));
    DT_TRY(check_special_ids(mpath, tok));
    char *endp;
    const unsigned long want = strtoul(crc_hex, &endp, 16);
    if (strlen(crc_hex) != 8 || *endp != '\0')
        return bad_key(mpath, "tokenizer.crc32", "is not 8 hex digits");
    if (info->label_kind == DT_LABEL_TOKENS && info->num_classes != info->vocab_size)
        return bad_key(mpath, "label.num_classes", "differs from tokenizer.vocab_size");

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    uint32_t crc = 0;
    int64_t got = 0;
    DT_TRY(dt_file_crc32(path, &crc, &got));
    if (got != bytes || crc != (uint32_t)want)
        return dt_error_set(DT_ERR_DATA, "tokenizer %s has %lld bytes and CRC-32 %08x, the "
                            "manifest says %lld bytes and %08lx", path, (long long)got, crc,
                            (long long)bytes, want);
    snprintf(info->tokenizer, sizeof info->tokenizer, "%s", file);
    info->tokenizer_crc = crc;
    return DT_OK;
}

/* One entry of "splits.<split>.shards": fills path and count of `sh`, and
 * the recorded size and checksum. */
static dt_status parse_shard(const char *mpath, const char *dir, const char *split,
                             const cJSON *entry, int i, shard *sh, int64_t *bytes,
                             uint32_t *crc)
{
    char base[64], key[96];
    const char *file = "", *crc_hex = "";
    snprintf(base, sizeof base, "splits.%s.shards[%d]", split, i);
    if (!cJSON_IsObject(entry)) return bad_key(mpath, base, "is not an object");

#define SHARD_KEY(field) (snprintf(key, sizeof key, "%s.%s", base, field), key)
    DT_TRY(get_string(mpath, entry, "file", SHARD_KEY("file"), &file));
    if (!plain_file_name(file)) return bad_key(mpath, key, "names a file outside the set");
    DT_TRY(get_int(mpath, entry, "count", SHARD_KEY("count"), 0, INT64_C(1) << 40, &sh->count));
    DT_TRY(get_int(mpath, entry, "bytes", SHARD_KEY("bytes"), 0, INT64_C(1) << 50, bytes));
    DT_TRY(get_string(mpath, entry, "crc32", SHARD_KEY("crc32"), &crc_hex));
#undef SHARD_KEY

    char *endp;
    const unsigned long c = strtoul(crc_hex, &endp, 16);
    if (strlen(crc_hex) != 8 || *endp != '\0')
        return bad_key(mpath, key, "is not 8 hex digits");
    *crc = (uint32_t)c;

    const size_t len = strlen(dir) + strlen(file) + 2;
    sh->path = dt_calloc(len, 1);
    snprintf(sh->path, len, "%s/%s", dir, file);
    return DT_OK;
}

/* ---- shard checks ---------------------------------------------------- */

/* Size, then checksum: cheap and specific before slow and general. */
static dt_status verify_shard_file(const shard *sh, int64_t bytes, uint32_t crc)
{
    struct stat st;
    if (stat(sh->path, &st) != 0)
        return dt_error_set(DT_ERR_IO, "shard %s is missing: %s", sh->path, strerror(errno));
    if ((int64_t)st.st_size < bytes)
        return dt_error_set(DT_ERR_DATA, "shard %s is truncated: %lld bytes, manifest says %lld",
                            sh->path, (long long)st.st_size, (long long)bytes);
    if ((int64_t)st.st_size > bytes)
        return dt_error_set(DT_ERR_DATA, "shard %s has %lld bytes, manifest says %lld",
                            sh->path, (long long)st.st_size, (long long)bytes);

    uint32_t got = 0;
    int64_t got_bytes = 0;
    DT_TRY(dt_file_crc32(sh->path, &got, &got_bytes));
    if (got != crc)
        return dt_error_set(DT_ERR_DATA,
                            "shard %s is corrupt: CRC-32 %08x, manifest says %08x",
                            sh->path, got, crc);
    return DT_OK;
}

/* Whether the stored type of `d` is the one the manifest promises. */
static int type_matches(hid_t d, dt_dtype want)
{
    const hid_t t = H5Dget_type(d);
    if (t < 0) return 0;
    const H5T_class_t cls = H5Tget_class(t);
    const size_t size = H5Tget_size(t);
    const H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(t) : H5T_SGN_ERROR;
    H5Tclose(t);
    switch (want) {
    case DT_U8: return cls == H5T_INTEGER && size == 1 && sign == H5T_SGN_NONE;
    case DT_U16: return cls == H5T_INTEGER && size == 2 && sign == H5T_SGN_NONE;
    case DT_I32: return cls == H5T_INTEGER && size == 4 && sign == H5T_SGN_2;
    case DT_F32: return cls == H5T_FLOAT && size == 4;
    }
    return 0;
}

/* The byte offset of a dataset's rows when they can be read with pread:
 * contiguous, allocated, in this file, in native layout. Else -1. */
static int64_t direct_offset(hid_t d, const layout *lay, int64_t count)
{
    const hid_t dcpl = H5Dget_create_plist(d);
    int ok = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CONTIGUOUS &&
             H5Pget_external_count(dcpl) == 0;
    if (dcpl >= 0) H5Pclose(dcpl);
    const hid_t t = H5Dget_type(d);
    ok = ok && t >= 0 && H5Tequal(t, lay->mtype) > 0;
    if (t >= 0) H5Tclose(t);
    ok = ok && H5Dget_storage_size(d) == (hsize_t)count * lay->row_bytes;
    const haddr_t off = ok ? H5Dget_offset(d) : HADDR_UNDEF;
    H5Eclear2(H5E_DEFAULT);
    return off == HADDR_UNDEF || off > (haddr_t)INT64_MAX ? -1 : (int64_t)off;
}

/* Open dataset lay->name of a shard and check its type and its shape
 * (count, ...dims). Call with the HDF5 lock held. */
static dt_status open_column(const shard *sh, const layout *lay, column *out)
{
    const char *const name = lay->name;
    const htri_t exists = H5Lexists(sh->file, name, H5P_DEFAULT);
    if (exists <= 0)
        return dt_error_set(DT_ERR_DATA, "shard %s has no dataset %s", sh->path, name);
    const hid_t d = H5Dopen2(sh->file, name, H5P_DEFAULT);
    if (d < 0) return h5_fail(DT_ERR_DATA, "opening the dataset", sh->path);
    out->d = d; /* closed with the shard from here on */
    if (!type_matches(d, lay->dtype))
        return dt_error_set(DT_ERR_DATA, "shard %s: dataset %s is not stored as %s", sh->path,
                            name, dt_dtype_name(lay->dtype));

    hsize_t got[DT_MAX_DIMS + 2];
    const hid_t space = H5Dget_space(d);
    if (space < 0) return h5_fail(DT_ERR_DATA, "H5Dget_space", sh->path);
    const int ndim = H5Sget_simple_extent_ndims(space);
    const int ok_ndim = ndim >= 1 && ndim <= DT_MAX_DIMS + 1;
    if (ok_ndim && H5Sget_simple_extent_dims(space, got, NULL) < 0) {
        H5Sclose(space);
        return h5_fail(DT_ERR_DATA, "H5Sget_simple_extent_dims", sh->path);
    }
    H5Sclose(space);

    const dt_shape *const dims = &lay->dims;
    int same = ok_ndim && ndim == dims->ndim + 1 && got[0] == (hsize_t)sh->count;
    for (int i = 0; same && i < dims->ndim; i++) same = got[i + 1] == (hsize_t)dims->dim[i];
    if (!same) {
        char want[128];
        dt_shape full = {.ndim = dims->ndim + 1};
        full.dim[0] = sh->count;
        for (int i = 0; i < dims->ndim; i++) full.dim[i + 1] = dims->dim[i];
        dt_shape_str(&full, want, sizeof want);
        return dt_error_set(DT_ERR_SHAPE, "shard %s: dataset %s has %d dimension(s)%s, "
                            "manifest says shape %s", sh->path, name, ndim,
                            ok_ndim && ndim == full.ndim ? " of other sizes" : "", want);
    }
    out->offset = direct_offset(d, lay, sh->count);
    return DT_OK;
}

/* Open a verified shard file and its /x and /y. */
static dt_status open_shard(dt_dataset *ds, shard *sh)
{
    sh->fd = open(sh->path, O_RDONLY | O_CLOEXEC);
    if (sh->fd < 0) return dt_error_set(DT_ERR_IO, "cannot open shard %s: %s", sh->path,
                                        strerror(errno));
    dt_h5_lock();
    /* Shards never change once renamed into place, so readers need no
     * file lock, and flock() fails on some parallel file systems. */
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    dt_status s = DT_OK;
    if (fapl < 0 || H5Pset_file_locking(fapl, 0, 1) < 0)
        s = h5_fail(DT_ERR_INTERNAL, "H5Pset_file_locking", sh->path);
    if (s == DT_OK) sh->file = H5Fopen(sh->path, H5F_ACC_RDONLY, fapl);
    if (s == DT_OK && sh->file < 0) s = h5_fail(DT_ERR_DATA, "H5Fopen", sh->path);
    if (fapl >= 0) H5Pclose(fapl);
    if (s == DT_OK) s = open_column(sh, &ds->lx, &sh->x);
    if (s == DT_OK && ds->info.labels_stored) s = open_column(sh, &ds->ly, &sh->y);
    dt_h5_unlock();
    return s;
}

/* The native HDF5 type of a storage type. */
static hid_t native_type(dt_dtype t)
{
    switch (t) {
    case DT_U8: return H5T_NATIVE_UINT8;
    case DT_U16: return H5T_NATIVE_UINT16;
    case DT_I32: return H5T_NATIVE_INT32;
    case DT_F32: return H5T_NATIVE_FLOAT;
    }
    return H5T_NATIVE_FLOAT;
}

/* The per-sample layouts of /x and /y from the manifest's info: class
 * labels and token labels are int32, everything else float32. */
static void set_layouts(dt_dataset *ds)
{
    const dt_dataset_info *const in = &ds->info;
    const int cls = in->label_kind == DT_LABEL_CLASS, tok = in->label_kind == DT_LABEL_TOKENS;
    const dt_dtype yt = cls || tok ? DT_I32 : DT_F32;
    ds->x_numel = dt_shape_numel(&in->x_shape);
    ds->lx = (layout){"/x", in->x_dtype, native_type(in->x_dtype), in->x_shape,
                      (size_t)ds->x_numel * dt_dtype_size(in->x_dtype)};
    ds->ly = (layout){"/y", yt, native_type(yt),
                      cls ? (dt_shape){.ndim = 0} : (dt_shape){1, {in->y_dim}},
                      (size_t)in->y_dim * 4};
}

/* ---- open / close ---------------------------------------------------- */

static dt_status load_split(dt_dataset *ds, const char *dir, const char *mpath,
                            const cJSON *root, const char *split)
{
    const cJSON *splits = NULL, *sp;
    char key[64];
    DT_TRY(get_object(mpath, root, "splits", "splits", &splits));
    sp = cJSON_GetObjectItemCaseSensitive(splits, split);
    if (!cJSON_IsObject(sp))
        return dt_error_set(DT_ERR_ARG, "shard set %s has no split \"%s\"", dir, split);

    snprintf(key, sizeof key, "splits.%s.count", split);
    DT_TRY(get_int(mpath, sp, "count", key, 0, INT64_C(1) << 40, &ds->info.count));
    snprintf(key, sizeof key, "splits.%s.shards", split);
    const cJSON *const arr = cJSON_GetObjectItemCaseSensitive(sp, "shards");
    const int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n < 1) return bad_key(mpath, key, "is missing or empty");

    ds->shards = dt_calloc((size_t)n, sizeof *ds->shards);
    for (int i = 0; i < n; i++) {
        shard *const sh = &ds->shards[i];
        sh->file = sh->x.d = sh->y.d = sh->fd = -1;
    }
    ds->info.n_shards = n;
    int64_t first = 0;
    for (int i = 0; i < n; i++) {
        shard *const sh = &ds->shards[i];
        int64_t bytes = 0;
        uint32_t crc = 0;
        DT_TRY(parse_shard(mpath, dir, split, cJSON_GetArrayItem(arr, i), i, sh, &bytes, &crc));
        sh->first = first;
        first += sh->count;
        DT_TRY(verify_shard_file(sh, bytes, crc));
        DT_TRY(open_shard(ds, sh));
    }
    if (first != ds->info.count)
        return dt_error_set(DT_ERR_DATA, "manifest %s: the shards of split %s hold %lld "
                            "samples, its count says %lld", mpath, split, (long long)first,
                            (long long)ds->info.count);
    return DT_OK;
}

static dt_status load_manifest(dt_dataset *ds, const char *dir, const char *split)
{
    char mpath[4096];
    char *text = NULL;
    cJSON *root = NULL;
    snprintf(mpath, sizeof mpath, "%s/%s", dir, MANIFEST_NAME);

    dt_status s = read_text(mpath, &text);
    if (s != DT_OK)
        return dt_error_prefix(s, "not a shard set (convert one with `dtrain data convert`): ");
    s = parse_manifest(mpath, text, &root);
    free(text);
    if (s != DT_OK) return s;

    const char *name = "", *source = "";
    s = check_format(mpath, root);
    if (s == DT_OK) s = get_string(mpath, root, "name", "name", &name);
    if (s == DT_OK) s = get_string(mpath, root, "source", "source", &source);
    snprintf(ds->info.name, sizeof ds->info.name, "%s", name);
    snprintf(ds->info.source, sizeof ds->info.source, "%s", source);
    if (s == DT_OK) s = parse_x(mpath, root, &ds->info);
    if (s == DT_OK) s = parse_label(mpath, root, &ds->info);
    if (s == DT_OK) s = parse_tokenizer(mpath, dir, root, &ds->info);
    if (s == DT_OK) {
        set_layouts(ds);
        s = load_split(ds, dir, mpath, root, split);
    }
    cJSON_Delete(root);
    return s;
}

dt_status dt_dataset_open(const char *dir, const char *split, dt_dataset **out)
{
    *out = NULL;
    if (strlen(split) >= sizeof((dt_dataset *)0)->split)
        return dt_error_set(DT_ERR_ARG, "split name \"%s\" is too long", split);
    dt_h5_quiet();

    dt_dataset *const ds = dt_calloc(1, sizeof *ds);
    snprintf(ds->split, sizeof ds->split, "%s", split);
    const dt_status s = load_manifest(ds, dir, split);
    if (s != DT_OK) {
        dt_dataset_close(ds);
        return s;
    }
    *out = ds;
    return DT_OK;
}

void dt_dataset_close(dt_dataset *ds)
{
    if (!ds) return;
    dt_h5_lock();
    for (int i = 0; ds->shards && i < ds->info.n_shards; i++) {
        shard *const sh = &ds->shards[i];
        if (sh->x.d >= 0) H5Dclose(sh->x.d);
        if (sh->y.d >= 0) H5Dclose(sh->y.d);
        if (sh->file >= 0) H5Fclose(sh->file);
        if (sh->fd >= 0) close(sh->fd);
        free(sh->path);
    }
    dt_h5_unlock();
    free(ds->shards);
    free(ds->map);
    free(ds);
}

const dt_dataset_info *dt_dataset_get_info(const dt_dataset *ds) { return &ds->info; }

/* ---- reading --------------------------------------------------------- */

static int want_cmp(const void *a, const void *b)
{
    const want *const p = a, *const q = b;
    if (p->shard != q->shard) return p->shard < q->shard ? -1 : 1;
    if (p->row != q->row) return p->row < q->row ? -1 : 1;
    return (p->dest > q->dest) - (p->dest < q->dest);
}

/* The shard holding global index i: the last with first <= i. */
static int find_shard(const dt_dataset *ds, int64_t i)
{
    int lo = 0, hi = ds->info.n_shards - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (ds->shards[mid].first <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Read rows [row, row + len) of a dataset into buf with pread. */
static dt_status pread_rows(const shard *sh, const layout *lay, const column *c, int64_t row,
                            int64_t len, uint8_t *buf)
{
    const size_t total = (size_t)len * lay->row_bytes;
    const off_t at = (off_t)(c->offset + row * (int64_t)lay->row_bytes);
    for (size_t done = 0; done < total;) {
        const ssize_t got = pread(sh->fd, buf + done, total - done, at + (off_t)done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return dt_error_set(DT_ERR_IO, "cannot read rows %lld..%lld of %s in shard %s: %s",
                                (long long)row, (long long)(row + len - 1), lay->name,
                                sh->path, got < 0 ? strerror(errno) : "unexpected end of file");
        done += (size_t)got;
    }
    return DT_OK;
}

/* Read rows [row, row + len) of a dataset into buf with one H5Dread. */
static dt_status h5_read_rows(const shard *sh, const layout *lay, const column *c, int64_t row,
                              int64_t len, uint8_t *buf)
{
    hsize_t start[DT_MAX_DIMS + 1] = {(hsize_t)row}, count[DT_MAX_DIMS + 1] = {(hsize_t)len};
    for (int i = 0; i < lay->dims.ndim; i++) count[i + 1] = (hsize_t)lay->dims.dim[i];

    dt_h5_lock();
    const hid_t fspace = H5Dget_space(c->d);
    herr_t e = fspace < 0 ? -1 : H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL,
                                                     count, NULL);
    const hid_t mspace = e < 0 ? -1 : H5Screate_simple(lay->dims.ndim + 1, count, NULL);
    e = mspace < 0 ? -1 : H5Dread(c->d, lay->mtype, mspace, fspace, H5P_DEFAULT, buf);
    dt_status s = DT_OK;
    if (e < 0) {
        char what[96];
        snprintf(what, sizeof what, "reading rows %lld..%lld of %s", (long long)row,
                 (long long)(row + len - 1), lay->name);
        s = h5_fail(DT_ERR_IO, what, sh->path);
    }
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    dt_h5_unlock();
    return s;
}

/* Convert one stored x row to floats at the caller's position. */
static void put_x(const dt_dataset *ds, const want *w, const uint8_t *src, float *x)
{
    const float scale = ds->info.x_scale;
    float *const xd = x + (int64_t)w->dest * ds->x_numel;
    if (ds->info.x_dtype == DT_U8) {
        for (int64_t k = 0; k < ds->x_numel; k++) xd[k] = (float)src[k] * scale;
    } else if (ds->info.x_dtype == DT_U16) { /* token ids: exact */
        for (int64_t k = 0; k < ds->x_numel; k++) {
            uint16_t v;
            memcpy(&v, src + 2 * k, sizeof v);
            xd[k] = (float)v;
        }
    } else if (ds->info.x_dtype == DT_I32) {
        for (int64_t k = 0; k < ds->x_numel; k++) {
            int32_t v;
            memcpy(&v, src + 4 * k, sizeof v);
            xd[k] = (float)v;
        }
    } else {
        memcpy(xd, src, ds->lx.row_bytes);
        if (scale != 1.0f)
            for (int64_t k = 0; k < ds->x_numel; k++) xd[k] *= scale;
    }
}

/* One row of token targets: int32 ids in [0, vocab) or -1 (no target). */
static dt_status put_tokens(const dt_dataset *ds, const want *w, const uint8_t *src, float *y)
{
    const dt_dataset_info *const in = &ds->info;
    float *const row = y + (int64_t)w->dest * in->y_dim;
    for (int64_t k = 0; k < in->y_dim; k++) {
        int32_t v;
        memcpy(&v, src + 4 * k, sizeof v);
        if (v < -1 || v >= in->num_classes)
            return dt_error_set(DT_ERR_DATA, "shard %s row %lld: position %lld has target %d, "
                                "not -1 or a token id in [0, %d)", ds->shards[w->shard].path,
                                (long long)w->row, (long long)k, (int)v, in->num_classes);
        row[k] = (float)v;
    }
    return DT_OK;
}

/* Store one y row as floats, checking that a class label is in range. */
static dt_status put_y(const dt_dataset *ds, const want *w, const uint8_t *src, float *y)
{
    const dt_dataset_info *const in = &ds->info;
    if (in->label_kind == DT_LABEL_TOKENS) return put_tokens(ds, w, src, y);
    if (in->label_kind != DT_LABEL_CLASS) {
        float *row = y + (int64_t)w->dest * in->y_dim;
        memcpy(row, src, ds->ly.row_bytes);
        for (int64_t k = 0; in->label_kind == DT_LABEL_PIXEL_CLASS && k < in->y_dim; k++)
            if (!(row[k] >= 0.0f && row[k] < (float)in->num_classes && row[k] == (int)row[k]))
                return dt_error_set(DT_ERR_DATA, "shard %s row %lld: pixel %lld has label %g, "
                                    "not a class in [0, %d)", ds->shards[w->shard].path,
                                    (long long)w->row, (long long)k, row[k], in->num_classes);
        for (int64_t k = 0; in->label_kind == DT_LABEL_TOKENS && k < in->y_dim; k++)
            if (!(row[k] >= -1.0f && row[k] == (int)row[k] &&
                  (!in->num_classes || row[k] < (float)in->num_classes)))
                return dt_error_set(DT_ERR_DATA, "shard %s row %lld: step %lld has label %g, "
                                    "neither -1 (no target) nor a token id below %d",
                                    ds->shards[w->shard].path, (long long)w->row, (long long)k,
                                    row[k], in->num_classes ? in->num_classes : INT32_MAX);
        return DT_OK;
    }
    int32_t label;
    memcpy(&label, src, sizeof label);
    if (label < 0 || label >= in->num_classes)
        return dt_error_set(DT_ERR_DATA, "shard %s row %lld: label %d outside [0, %d)",
                            ds->shards[w->shard].path, (long long)w->row, (int)label,
                            in->num_classes);
    y[w->dest] = (float)label;
    return DT_OK;
}

/* Read one dataset's rows for w[0..n) (one shard, sorted by row) segment
 * by segment, and store them into x or y. `buf` grows as needed. */
static dt_status gather(const dt_dataset *ds, const layout *lay, const want *w, int n,
                        uint8_t **buf, size_t *cap, float *x, float *y)
{
    const shard *const sh = &ds->shards[w[0].shard];
    const column *const c = lay == &ds->lx ? &sh->x : &sh->y;
    const int64_t gap = GAP_BYTES / (int64_t)lay->row_bytes + 1;
    dt_status s = DT_OK;
    for (int i = 0, j; i < n && s == DT_OK; i = j) {
        for (j = i + 1; j < n && w[j].row - w[j - 1].row <= gap; j++) {}
        const int64_t first = w[i].row, len = w[j - 1].row - first + 1;
        const size_t need = (size_t)len * lay->row_bytes;
        if (need > *cap) {
            free(*buf);
            *cap = need > 2 * *cap ? need : 2 * *cap;
            *buf = dt_calloc(*cap, 1);
        }
        s = c->offset >= 0 ? pread_rows(sh, lay, c, first, len, *buf)
                           : h5_read_rows(sh, lay, c, first, len, *buf);
        for (int k = i; k < j && s == DT_OK; k++) {
            const uint8_t *const src = *buf + (size_t)(w[k].row - first) * lay->row_bytes;
            if (lay == &ds->lx) put_x(ds, &w[k], src, x);
            else s = put_y(ds, &w[k], src, y);
        }
    }
    return s;
}

static dt_status read_rows(dt_dataset *ds, const int64_t *index, int n, float *x, float *y);

dt_status dt_dataset_restrict(dt_dataset *ds, const int64_t *rows, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= ds->info.count)
            return dt_error_set(DT_ERR_ARG, "row %lld is outside split %s of %s (%lld samples)",
                                (long long)rows[i], ds->split, ds->info.name,
                                (long long)ds->info.count);
    if (!ds->map) ds->rows = ds->info.count;
    int64_t *map = dt_calloc((size_t)(n ? n : 1), sizeof *map);
    for (int64_t i = 0; i < n; i++) map[i] = ds->map ? ds->map[rows[i]] : rows[i];
    free(ds->map);
    ds->map = map;
    ds->info.count = n;
    return DT_OK;
}

dt_status dt_dataset_set_mlm(dt_dataset *ds, const dt_mlm *m)
{
    const dt_dataset_info *const in = &ds->info;
    if (in->label_kind != DT_LABEL_TOKENS || in->vocab_size <= 0)
        return dt_error_set(DT_ERR_CONFIG, "data.mlm: shard set %s holds no token labels "
                            "(masking needs a set of token ids with label kind \"tokens\")",
                            in->name);
    dt_mlm checked = *m;
    checked.vocab = in->vocab_size;
    DT_TRY(dt_mlm_check(&checked));
    ds->mlm = checked;
    ds->masking = 1;
    return DT_OK;
}

/* Read rows[0..n) of the split (no restriction applied) and mask them. */
static dt_status read_masked(dt_dataset *ds, uint32_t key, const int64_t *rows, int n, float *x,
                             float *y)
{
    DT_TRY(read_rows(ds, rows, n, x, y));
    if (ds->masking) dt_mlm_apply(&ds->mlm, key, rows, n, ds->x_numel, x, y);
    return DT_OK;
}

dt_status dt_dataset_read(dt_dataset *ds, const int64_t *index, int n, float *x, float *y)
{
    return dt_dataset_read_keyed(ds, DT_MLM_EVAL_KEY, index, n, x, y);
}

dt_status dt_dataset_read_keyed(dt_dataset *ds, uint32_t key, const int64_t *index, int n,
                                float *x, float *y)
{
    if (!ds->map || n <= 0) return read_masked(ds, key, index, n, x, y);
    int64_t *rows = dt_calloc((size_t)n, sizeof *rows);
    dt_status s = DT_OK;
    for (int i = 0; i < n && s == DT_OK; i++) {
        if (index[i] < 0 || index[i] >= ds->info.count)
            s = dt_error_set(DT_ERR_ARG, "sample %lld is outside the %lld samples kept of "
                             "split %s of %s", (long long)index[i], (long long)ds->info.count,
                             ds->split, ds->info.name);
        else
            rows[i] = ds->map[index[i]];
    }
    if (s == DT_OK) s = read_masked(ds, key, rows, n, x, y);
    free(rows);
    return s;
}

static dt_status read_rows(dt_dataset *ds, const int64_t *index, int n, float *x, float *y)
{
    if (n <= 0) return DT_OK;
    want *const w = dt_calloc((size_t)n, sizeof *w);
    for (int i = 0; i < n; i++) {
        if (index[i] < 0 || index[i] >= (ds->map ? ds->rows : ds->info.count)) {
            free(w);
            return dt_error_set(DT_ERR_ARG, "sample %lld is outside split %s of %s (%lld "
                                "samples)", (long long)index[i], ds->split, ds->info.name,
                                (long long)ds->info.count);
        }
        w[i].shard = find_shard(ds, index[i]);
        w[i].row = index[i] - ds->shards[w[i].shard].first;
        w[i].dest = i;
    }
    qsort(w, (size_t)n, sizeof *w, want_cmp);

    uint8_t *buf = NULL;
    size_t cap = 0;
    dt_status s = DT_OK;
    for (int i = 0, j; i < n && s == DT_OK; i = j) {
        for (j = i + 1; j < n && w[j].shard == w[i].shard; j++) {}
        s = gather(ds, &ds->lx, w + i, j - i, &buf, &cap, x, y);
        if (s == DT_OK && ds->info.labels_stored)
            s = gather(ds, &ds->ly, w + i, j - i, &buf, &cap, x, y);
    }
    free(buf);
    free(w);
    /* Labels made at load time: no target until masking makes some. */
    for (int64_t k = 0; !ds->info.labels_stored && k < (int64_t)n * ds->info.y_dim; k++)
        y[k] = -1.0f;
    return s;
}
