/* `dtrain data`: build shard sets from source data and inspect them.
 *
 *   dtrain data convert --format idx|mnist-json|csv ... --out DIR
 *   dtrain data info DIR
 *
 * convert calls the converters of data/convert.h; info prints what the
 * manifest records and then opens every split the way training does, which
 * checks each shard's size, CRC-32 and datasets. Needs no MPI. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/status.h"
#include "data/convert.h"
#include "data/dataset.h"

static const char g_usage[] =
    "usage:\n"
    "  dtrain data convert --format idx --images F --labels F\n"
    "                      [--test-images F --test-labels F] --out DIR [options]\n"
    "  dtrain data convert --format mnist-json --input DIR --out DIR [options]\n"
    "  dtrain data convert --format segment-digits --input SHARDSET --out DIR\n"
    "                      (per-pixel labels: digit + 1 on strokes, 0 background)\n"
    "  dtrain data convert --format csv --input F [--test-input F] [--targets K]\n"
    "                      [--classes] --out DIR [options]\n"
    "  dtrain data info DIR\n"
    "  dtrain data synth --task TASK --out DIR [options]  (see synth --help)\n"
    "\n"
    "convert writes a shard set: DIR/manifest.json and HDF5 shards per split\n"
    "(train, test), replacing a shard set already in DIR.\n"
    "\n"
    "options:\n"
    "  --name N            data set name for the manifest (default: base name of DIR)\n"
    "  --shards S          shards per split (default: one per 20000 samples)\n"
    "  --test-fraction F   share of the source held out as the test split when it\n"
    "                      has no test files, stratified by class (default 0.2;\n"
    "                      0: train split only)\n"
    "  --seed S            seed of that split (default 1234)\n"
    "  --class-names A,B   class names in label order\n"
    "  --targets K         csv: target columns, comma-separated: 0-based indices,\n"
    "                      negative from the end, or header names (default -1)\n"
    "  --classes           csv: the target is a class label 0..C-1 (default:\n"
    "                      regression targets)\n"
    "\n"
    "info prints the manifest and verifies every shard (size, CRC-32, datasets);\n"
    "it exits with 1 if any check fails.\n"
    "\n"
    "synth writes a synthetic data set with a known answer; `dtrain data synth\n"
    "--help` lists the tasks and their options.\n";

/* The convert command line. */
typedef struct convert_args {
    const char *format, *images, *labels, *test_images, *test_labels;
    const char *input, *test_input;
    dt_convert_options opt;
} convert_args;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "dtrain data: MESSAGE" and where the usage is; returns 2. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dtrain data: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `dtrain data --help`)\n");
    return 2;
}

static int fail(void)
{
    fprintf(stderr, "dtrain data: %s\n", dt_error_message());
    return 1;
}

/* A whole number or a fraction from an option's value. */
static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    *out = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || !(*out >= lo && *out <= hi)) {
        fprintf(stderr, "dtrain data: %s %s: expected a number in [%.10g, %.10g]\n", opt, s, lo,
                hi);
        return 0;
    }
    return 1;
}

/* Options taking a value, and where the value goes. */
static const char **string_option(convert_args *a, const char *name)
{
    static const char *const names[] = {"--format",      "--images",      "--labels",
                                        "--test-images", "--test-labels", "--input",
                                        "--test-input",  "--out",         "--name",
                                        "--class-names", "--targets"};
    const char **const slots[] = {&a->format,        &a->images,      &a->labels,
                                  &a->test_images,   &a->test_labels, &a->input,
                                  &a->test_input,    &a->opt.out_dir, &a->opt.name,
                                  &a->opt.class_names, &a->opt.targets};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return slots[i];
    return NULL;
}

/* Parse argv[2..) of `data convert`. Returns 0, or the exit status. */
static int parse_convert(int argc, char **argv, convert_args *a)
{
    dt_convert_options_init(&a->opt);
    for (int i = 2; i < argc; i++) {
        const char *const o = argv[i];
        double v;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(g_usage, stdout);
            return -1;
        }
        if (strcmp(o, "--classes") == 0) {
            a->opt.csv_classes = 1;
            continue;
        }
        if (o[0] != '-') return usage_error("unexpected argument '%s'", o);
        if (i + 1 >= argc) return usage_error("option %s needs a value", o);
        const char *const val = argv[++i];
        const char **const slot = string_option(a, o);
        if (slot) {
            *slot = val;
        } else if (strcmp(o, "--shards") == 0) {
            if (!parse_num(o, val, 0, 1 << 20, &v)) return 2;
            a->opt.shards = (int)v;
        } else if (strcmp(o, "--test-fraction") == 0) {
            if (!parse_num(o, val, 0, 0.999999, &v)) return 2;
            a->opt.test_fraction = v;
        } else if (strcmp(o, "--seed") == 0) {
            char *end;
            a->opt.seed = strtoull(val, &end, 10);
            if (val[0] < '0' || val[0] > '9' || *end != '\0')
                return usage_error("--seed %s: expected a whole number >= 0", val);
        } else {
            return usage_error("unknown option '%s'", o);
        }
    }
    return 0;
}

/* The converter the format names, after checking its required options. */
static int run_convert(const convert_args *a)
{
    if (!a->format) return usage_error("convert needs --format");
    if (!a->opt.out_dir) return usage_error("convert needs --out DIR");
    dt_status s;
    if (strcmp(a->format, "idx") == 0) {
        if (!a->images || !a->labels)
            return usage_error("--format idx needs --images and --labels");
        if (!a->test_images != !a->test_labels)
            return usage_error("--test-images and --test-labels go together");
        s = dt_convert_idx(a->images, a->labels, a->test_images, a->test_labels, &a->opt);
    } else if (strcmp(a->format, "mnist-json") == 0) {
        if (!a->input) return usage_error("--format mnist-json needs --input DIR");
        s = dt_convert_mnist_json(a->input, &a->opt);
    } else if (strcmp(a->format, "segment-digits") == 0) {
        if (!a->input) return usage_error("--format segment-digits needs --input DIR");
        s = dt_convert_segment_digits(a->input, 0.5f, &a->opt);
    } else if (strcmp(a->format, "csv") == 0) {
        if (!a->input) return usage_error("--format csv needs --input FILE");
        s = dt_convert_csv(a->input, a->test_input, &a->opt);
    } else {
        return usage_error("unknown format '%s' (idx, mnist-json, csv, segment-digits)",
                           a->format);
    }
    return s == DT_OK ? 0 : fail();
}

/* ---- info ------------------------------------------------------------ */

static const char *str_or(const cJSON *obj, const char *key, const char *dflt)
{
    const cJSON *const it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : dflt;
}

static double num_or(const cJSON *obj, const char *key, double dflt)
{
    const cJSON *const it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(it) ? it->valuedouble : dflt;
}

static void print_x(const cJSON *x)
{
    printf("%-10s (", "x");
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(x, "shape"))
        printf("%s%.0f", i++ ? ", " : "", d->valuedouble);
    printf(") %s, scale %g\n", str_or(x, "dtype", "?"), num_or(x, "scale", 1));
}

static void print_labels(const cJSON *label, const cJSON *split)
{
    const char *const kind = str_or(label, "kind", "?");
    if (strcmp(kind, "class") == 0)
        printf("%-10s class, %.0f classes", "labels", num_or(label, "num_classes", 0));
    else printf("%-10s %s, %.0f value(s)", "labels", kind, num_or(label, "dim", 0));
    const cJSON *n;
    int i = 0;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(label, "names"))
        printf("%s%s", i++ ? ", " : ": ", cJSON_IsString(n) ? n->valuestring : "?");
    printf("\n");
    if (split)
        printf("%-10s %s, test fraction %g, seed %.0f\n", "held out", str_or(split, "method", "?"),
               num_or(split, "test_fraction", 0), num_or(split, "seed", 0));
}

static void print_split(const char *name, const cJSON *sp)
{
    const cJSON *const shards = cJSON_GetObjectItemCaseSensitive(sp, "shards");
    printf("%-10s %.0f samples in %d shard(s)\n", name, num_or(sp, "count", 0),
           cJSON_GetArraySize(shards));
    const cJSON *sh;
    cJSON_ArrayForEach(sh, shards)
        printf("  %-18s %8.0f samples %12.0f bytes  crc32 %s\n", str_or(sh, "file", "?"),
               num_or(sh, "count", 0), num_or(sh, "bytes", 0), str_or(sh, "crc32", "?"));
}

/* Open every split as training would; prints OK or the error. */
static int verify_splits(const char *dir, const cJSON *splits)
{
    int bad = 0;
    const cJSON *sp;
    cJSON_ArrayForEach(sp, splits) {
        dt_dataset *ds;
        if (dt_dataset_open(dir, sp->string, &ds) == DT_OK) {
            printf("%-10s %s: OK\n", "verify", sp->string);
            dt_dataset_close(ds);
        } else {
            printf("%-10s %s: FAILED: %s\n", "verify", sp->string, dt_error_message());
            bad = 1;
        }
    }
    return bad;
}

/* The manifest of `dir`, parsed; NULL after setting the error. */
static cJSON *load_manifest(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *const f = fopen(path, "rb");
    if (!f) {
        dt_error_set(DT_ERR_IO, "%s is not a shard set: cannot open %s", dir, path);
        return NULL;
    }
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    char *const text = len >= 0 ? calloc((size_t)len + 1, 1) : NULL;
    const int ok = text && fseek(f, 0, SEEK_SET) == 0 &&
                   fread(text, 1, (size_t)len, f) == (size_t)len;
    fclose(f);
    cJSON *const m = ok ? cJSON_Parse(text) : NULL;
    free(text);
    if (!m) dt_error_set(DT_ERR_DATA, "manifest %s is unreadable or not valid JSON", path);
    return m;
}

/* Print the manifest of `dir` and verify its splits: 0 ok, 1 failed. */
static int run_info(const char *dir)
{
    cJSON *const m = load_manifest(dir);
    if (!m) return fail();

    printf("%-10s %s\n", "shard set", dir);
    printf("%-10s %s\n", "name", str_or(m, "name", "?"));
    printf("%-10s %s\n", "source", str_or(m, "source", "?"));
    printf("%-10s %s\n", "created", str_or(m, "created", "?"));
    printf("%-10s %s version %.0f\n", "format", str_or(m, "format", "?"), num_or(m, "version", 0));
    print_x(cJSON_GetObjectItemCaseSensitive(m, "x"));
    print_labels(cJSON_GetObjectItemCaseSensitive(m, "label"),
                 cJSON_GetObjectItemCaseSensitive(m, "split"));
    const cJSON *const splits = cJSON_GetObjectItemCaseSensitive(m, "splits");
    const cJSON *sp;
    cJSON_ArrayForEach(sp, splits) print_split(sp->string, sp);
    const int bad = verify_splits(dir, splits);
    cJSON_Delete(m);
    return bad;
}

int dt_cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "%s", g_usage);
        return 2;
    }
    const char *const sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(g_usage, stdout);
        return 0;
    }
    if (strcmp(sub, "synth") == 0) return dt_cmd_data_synth(argc, argv);
    if (strcmp(sub, "info") == 0) {
        if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            fputs(g_usage, stdout);
            return 0;
        }
        if (argc != 3) return usage_error("info takes one directory");
        return run_info(argv[2]);
    }
    if (strcmp(sub, "convert") == 0) {
        convert_args a = {0};
        const int rc = parse_convert(argc, argv, &a);
        if (rc != 0) return rc < 0 ? 0 : rc;
        const int st = run_convert(&a);
        if (st != 0) return st;
        printf("dtrain data: wrote shard set %s\n", a.opt.out_dir);
        return run_info(a.opt.out_dir);
    }
    return usage_error("unknown subcommand '%s' (convert, info, synth)", sub);
}
