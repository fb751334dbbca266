/* `dtrain data`: build shard sets from source data and inspect them.
 *
 *   dtrain data convert --format idx|mnist-json|csv|token-ids ... --out DIR
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
    "  dtrain data convert --format token-ids --task mlm|lm|class --input LIST\n"
    "                      --tokenizer M.model [--seq-len T] --out DIR [options]\n"
    "                      (SentencePiece ids; LIST: one document per line,\n"
    "                      SPLIT FILE [CLASS]; see docs/text.md)\n"
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
    "  --task K            token-ids: mlm (sentence pairs, targets made by masking\n"
    "                      at load time), lm (next-token targets) or class\n"
    "                      (passages labelled with their document's class,\n"
    "                      names in --class-names order)\n"
    "  --tokenizer M       token-ids: the SentencePiece model (M.model, with\n"
    "                      M.vocab beside it), copied into the set\n"
    "  --seq-len T         token-ids: tokens per sample (default 128)\n"
    "\n"
    "info prints the manifest and verifies every shard (size, CRC-32, datasets);\n"
    "it exits with 1 if any check fails.\n"
    "\n"
    "synth writes a synthetic data set with a known answer; `dtrain data synth\n"
    "--help` lists the tasks and their options.\n";

/* The convert command line. */
typedef struct convert_args {
    const char *format, *images, *labels, *test_images, *test_labels;
    const char *input, *test_input, *task;
    dt_convert_options opt;
    dt_text_options text;
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
                                        "--class-names", "--targets",     "--task",
                                        "--tokenizer"};
    const char **const slots[] = {&a->format,        &a->images,      &a->labels,
                                  &a->test_images,   &a->test_labels, &a->input,
                                  &a->test_input,    &a->opt.out_dir, &a->opt.name,
                                  &a->opt.class_names, &a->opt.targets, &a->task,
                                  &a->opt.tokenizer};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return slots[i];
    return NULL;
}

/* Parse argv[2..) of `data convert`. Returns 0, or the exit status. */
static int parse_convert(int argc, char **argv, convert_args *a)
{
    dt_convert_options_init(&a->opt);
    a->text = (dt_text_options){.task = DT_TEXT_MLM, .seq_len = 128};
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
        } else if (strcmp(o, "--seq-len") == 0) {
            if (!parse_num(o, val, 1, 1 << 20, &v)) return 2;
            a->text.seq_len = (int)v;
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

/* `--format token-ids`: the task, and the vocabulary beside the model. */
static int run_token_ids(convert_args *a)
{
    static const char *const tasks[] = {"mlm", "lm", "class"};
    if (!a->input) return usage_error("--format token-ids needs --input LIST");
    if (!a->task) return usage_error("--format token-ids needs --task mlm|lm|class");
    int task = -1;
    for (int k = 0; k < 3; k++)
        if (strcmp(a->task, tasks[k]) == 0) task = k;
    if (task < 0) return usage_error("--task %s: expected mlm, lm or class", a->task);
    a->text.task = (dt_text_task)task;
    if (task == DT_TEXT_CLASS && !a->opt.class_names)
        return usage_error("--task class needs --class-names A,B,... (the CLASS of the list)");

    const char *const model = a->opt.tokenizer;
    const size_t len = model ? strlen(model) : 0;
    if (len < 7 || strcmp(model + len - 6, ".model") != 0)
        return usage_error("--format token-ids needs --tokenizer M.model (a SentencePiece "
                           "model with M.vocab beside it)");
    char *const vocab = dt_calloc(len + 1, 1);
    snprintf(vocab, len + 1, "%.*s.vocab", (int)(len - 6), model);
    a->opt.tokenizer_vocab = vocab;
    const dt_status s = dt_convert_token_ids(a->input, &a->text, &a->opt);
    free(vocab);
    a->opt.tokenizer_vocab = NULL;
    return s == DT_OK ? 0 : fail();
}

/* The converter the format names, after checking its required options. */
static int run_convert(convert_args *a)
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
    } else if (strcmp(a->format, "token-ids") == 0) {
        return run_token_ids(a);
    } else {
        return usage_error("unknown format '%s' (idx, mnist-json, csv, segment-digits, "
                           "token-ids)", a->format);
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
    const cJSON *const stored = cJSON_GetObjectItemCaseSensitive(label, "stored");
    if (strcmp(kind, "class") == 0)
        printf("%-10s class, %.0f classes", "labels", num_or(label, "num_classes", 0));
    else if (strcmp(kind, "tokens") == 0)
        printf("%-10s tokens, %.0f per sample, ids in [0, %.0f), objective %s%s", "labels",
               num_or(label, "dim", 0), num_or(label, "num_classes", 0),
               str_or(label, "objective", "?"),
               cJSON_IsFalse(stored) ? " (targets made at load time by masking)" : "");
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

/* The tokenizer of a set of token ids. */
static void print_tokenizer(const cJSON *tok)
{
    if (!tok) return;
    printf("%-10s %s (%s, vocabulary %.0f), %.0f bytes, crc32 %s\n", "tokenizer",
           str_or(tok, "file", "?"), str_or(tok, "kind", "?"), num_or(tok, "vocab_size", 0),
           num_or(tok, "bytes", 0), str_or(tok, "crc32", "?"));
    printf("%-10s", "special");
    const cJSON *sp;
    cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(tok, "special"))
        printf(" %s=%.0f", sp->string, cJSON_IsNumber(sp) ? sp->valuedouble : -1.0);
    printf("\n");
}

/* What the text converter counted, per split. */
static void print_text(const cJSON *text)
{
    if (!text) return;
    printf("%-10s task %s, %.0f tokens per sample", "text", str_or(text, "task", "?"),
           num_or(text, "seq_len", 0));
    if (cJSON_GetObjectItemCaseSensitive(text, "longest_piece"))
        printf(", sentences split into pieces of at most %.0f tokens",
               num_or(text, "longest_piece", 0));
    printf("\n");
    const cJSON *sp;
    cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(text, "splits"))
        printf("  %-8s %.0f documents, %.0f sentences, %.0f tokens, %.0f [UNK], %.0f empty "
               "lines skipped, %.0f long sentences split, %.0f samples, padding %.1f%%\n",
               sp->string, num_or(sp, "documents", 0), num_or(sp, "sentences", 0),
               num_or(sp, "tokens", 0), num_or(sp, "unk_tokens", 0), num_or(sp, "empty_lines", 0),
               num_or(sp, "long_sentences_split", 0), num_or(sp, "samples", 0),
               100.0 * num_or(sp, "padding_share", 0));
}

/* The baseline a model trained on the set has to beat. */
static void print_baseline(const cJSON *b)
{
    if (!b) return;
    const char *const kind = str_or(b, "kind", "?");
    if (strcmp(kind, "unigram") == 0)
        printf("%-10s unigram (from the train split, add-one): test cross-entropy %.4f nats, "
               "perplexity %.1f, over %.0f targets\n", "baseline", num_or(b, "cross_entropy", 0),
               num_or(b, "perplexity", 0), num_or(b, "test_targets", 0));
    else if (strcmp(kind, "majority_class") == 0)
        printf("%-10s majority class of the train split (%s): test accuracy %.2f%%\n",
               "baseline", str_or(b, "class", "?"), 100.0 * num_or(b, "test_accuracy", 0));
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
    print_tokenizer(cJSON_GetObjectItemCaseSensitive(m, "tokenizer"));
    print_text(cJSON_GetObjectItemCaseSensitive(m, "text"));
    print_baseline(cJSON_GetObjectItemCaseSensitive(m, "baseline"));
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
